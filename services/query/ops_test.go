package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/nats-io/nats.go"
)

// serve registers a micro service instance on its own connection to the rig's
// NATS, as a worker, ingest or reaper process does; closing the connection
// is that process dying.
func (r *rig) serve(service, instance string, stats func() any) *nats.Conn {
	r.t.Helper()
	nc, _ := r.nats.Connect(r.t)
	if _, err := bus.AddService(nc, service, instance, "test "+service, nil, stats); err != nil {
		r.t.Fatal(err)
	}
	return nc
}

// /v1/ops assembles the cluster from the broker: the live workers with the
// partitions they lease and their build, the reaper leader, ingest's
// accepted count as a rate, each partition's depth and the earliest pending
// event, the dead letters; a worker whose connection dies leaves the page.
func TestOpsThroughTheBroker(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.serve("worker", "wa", func() any { return api.WorkerStats{Worker: "wa", Leased: []int{0, 1}, Processed: 3} })
	wb := r.serve("worker", "wb", func() any {
		return api.WorkerStats{Worker: "wb", Leased: []int{2, 3}, LLMCalls: 4, LLMSeconds: 2}
	})
	r.serve("reaper", "r1", func() any { return api.ReaperStats{Reaper: "r1", Leader: true} })
	r.serve("reaper", "r2", func() any { return api.ReaperStats{Reaper: "r2"} })
	var mu sync.Mutex
	accepted := int64(0)
	r.serve("ingest", "i1", func() any {
		mu.Lock()
		defer mu.Unlock()
		return api.IngestStats{Instance: "i1", Accepted: accepted}
	})

	const n = 5
	for i := 0; i < n; i++ {
		e := &event.Envelope{EventID: event.NewID(), SessionID: "ops-1", Project: "acme", Kind: event.KindToolUse,
			At: time.Now(), Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make"}`)}}
		if _, err := bus.Publish(ctx, r.js, e); err != nil {
			t.Fatal(err)
		}
	}
	dlID, err := r.store.AddDeadLetter(ctx, store.DeadLetter{EventID: event.NewID(), SessionID: "ops-1", Seq: 99,
		Reason: "compressor failed 5 times", Deliveries: 5, Payload: []byte(`{}`), At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}

	var o query.Ops
	for settle := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code := r.get("/v1/ops", &o); code != 200 {
			t.Fatalf("GET /v1/ops: %d %+v", code, o)
		}
		if o.Cluster.QueueDepth == n && len(o.Workers) == 2 && len(o.Reapers) == 2 && len(o.Ingest) == 1 {
			break
		}
		if time.Now().After(settle) {
			t.Fatalf("/v1/ops after 10 s: depth %d, workers %+v, reapers %+v, ingest %+v, errors %v",
				o.Cluster.QueueDepth, o.Workers, o.Reapers, o.Ingest, o.Errors)
		}
	}
	if len(o.Errors) != 0 {
		t.Fatalf("errors: %v", o.Errors)
	}
	if o.Workers[0].Worker != "wa" || o.Workers[1].Worker != "wb" || o.Workers[0].Build == "" || o.Workers[0].ID == "" {
		t.Fatalf("workers %+v", o.Workers)
	}
	owner := map[int]string{}
	for _, p := range o.Cluster.Partitions {
		owner[p.Partition] = p.LeasedBy
	}
	if owner[0] != "wa" || owner[1] != "wa" || owner[2] != "wb" || owner[3] != "wb" || owner[4] != "" {
		t.Fatalf("lease holders %v", owner)
	}
	if o.ReaperLeader != "r1" {
		t.Fatalf("reaper leader %q, want r1", o.ReaperLeader)
	}
	if o.LLM.Calls != 4 || o.LLM.MeanMS != 500 {
		t.Fatalf("llm %+v, want 4 calls of 500 ms on average", o.LLM)
	}
	p := o.EarliestPending
	if p == nil || p.Partition != bus.PartitionOf("ops-1", r.layout.Partitions) || p.Seq != 1 || p.AgeSeconds < 0 {
		t.Fatalf("earliest pending %+v", p)
	}
	if len(o.DeadLetters) != 1 || o.DeadLetters[0].ID != dlID || o.DeadLetters[0].Reason == "" || o.DeadLetters[0].Payload != nil {
		t.Fatalf("dead letters %+v", o.DeadLetters)
	}
	if !o.CanReplay || o.Monitor != nil || o.Sources["workers"] == "" {
		t.Fatalf("replay %v, monitor %+v, sources %v: want replay (reapers answer), no monitor, sources", o.CanReplay, o.Monitor, o.Sources)
	}

	// The accepted count becomes a rate in the next sample.
	mu.Lock()
	accepted = 50
	mu.Unlock()
	before := len(o.History)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r.get("/v1/ops", &o)
		if len(o.History) > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new sample after 10 s: %d", len(o.History))
		}
	}
	if last := o.History[len(o.History)-1]; last.Accepted <= 0 || last.QueueDepth != n {
		t.Fatalf("last sample %+v, want accepted > 0 per second and depth %d", last, n)
	}

	// A worker whose process dies is gone from the next answer.
	wb.Close()
	o = query.Ops{}
	r.get("/v1/ops", &o)
	if len(o.Workers) != 1 || o.Workers[0].Worker != "wa" {
		t.Fatalf("after wb died: workers %+v", o.Workers)
	}
	for _, p := range o.Cluster.Partitions {
		if p.LeasedBy == "wb" {
			t.Fatalf("partition %d still leased by the dead wb", p.Partition)
		}
	}

	// This rig's reapers are stand-ins with no replay endpoint: a replay
	// finds no reaper to answer; nor may another origin ask for one.
	if code, body, _ := r.send("POST", fmt.Sprintf("/v1/dead-letters/%d/replay", dlID), "", nil); code != http.StatusServiceUnavailable ||
		!strings.Contains(string(body), bus.ReplaySubject) {
		t.Fatalf("replay with no reaper answering: %d %s, want 503 naming %s", code, body, bus.ReplaySubject)
	}
	if code, body, _ := r.send("POST", fmt.Sprintf("/v1/dead-letters/%d/replay", dlID), "", map[string]string{"Origin": "http://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-origin replay: %d %s", code, body)
	}
}

// POST /v1/dead-letters/{id}/replay calls the replay once, and refuses a
// bad ID (400), an unknown one (404) and one replayed already (409).
func TestOpsReplayDeadLetter(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var replayed []int64
	srv, err := query.New(t.Context(), query.Config{}, query.Deps{Store: r.store, NC: r.nc, JS: r.js, Layout: r.layout,
		NATSMonitor: "http://127.0.0.1:8222",
		Replay: func(ctx context.Context, id int64) (string, error) {
			replayed = append(replayed, id)
			newID := event.NewID()
			return newID, r.store.MarkReplayed(ctx, id, newID)
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); srv.Close() }()
	id, err := r.store.AddDeadLetter(ctx, store.DeadLetter{EventID: event.NewID(), SessionID: "ops-2", Seq: 1,
		Reason: "boom", Deliveries: 5, Payload: []byte(`{}`), At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string) (int, string) {
		resp, err := http.Post(hs.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Status
	}
	for path, want := range map[string]int{
		"/v1/dead-letters/abc/replay":  http.StatusBadRequest,
		"/v1/dead-letters/0/replay":    http.StatusBadRequest,
		"/v1/dead-letters/9999/replay": http.StatusNotFound,
	} {
		if code, s := post(path); code != want {
			t.Errorf("POST %s: %s, want %d", path, s, want)
		}
	}
	if code, s := post(fmt.Sprintf("/v1/dead-letters/%d/replay", id)); code != http.StatusOK {
		t.Fatalf("replay: %s", s)
	}
	if code, s := post(fmt.Sprintf("/v1/dead-letters/%d/replay", id)); code != http.StatusConflict {
		t.Fatalf("second replay: %s, want 409", s)
	}
	if len(replayed) != 1 || replayed[0] != id {
		t.Fatalf("replayed %v, want [%d]", replayed, id)
	}
	var o query.Ops
	resp, err := http.Get(hs.URL + "/v1/ops")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&o)
	resp.Body.Close()
	if !o.CanReplay || o.Monitor == nil || o.Monitor.Varz != "http://127.0.0.1:8222/varz" || o.Monitor.Jsz != "http://127.0.0.1:8222/jsz" {
		t.Fatalf("can replay %v, monitor %+v", o.CanReplay, o.Monitor)
	}
	if len(o.DeadLetters) != 1 || o.DeadLetters[0].ReplayedAs == "" {
		t.Fatalf("dead letters %+v, want the one replayed", o.DeadLetters)
	}
}

// A two-worker cluster (two mnemo-worker processes over the rig's NATS,
// Redis and store): /v1/ops lists both with the partitions each leases,
// every partition leased once; after one is killed with -9 it is gone from
// the next answer, and the other takes its partitions over.
func TestOpsTwoWorkerCluster(t *testing.T) {
	r := newRig(t)
	bin := workerBin(t)
	spawn := func(id string) *testkit.Proc {
		return testkit.StartProc(t, id, bin, "MNEMO_NATS_URL="+r.nats.URL(), "MNEMO_REDIS_URL="+r.redis.URL(), "MNEMO_STORE="+r.dsn,
			"MNEMO_WORKER_ID="+id, fmt.Sprintf("MNEMO_PARTITIONS=%d", r.layout.Partitions), "MNEMO_BACKOFF=none",
			"MNEMO_ACK_WAIT="+r.layout.AckWait.String(), "MNEMO_MEMBER_TTL=2s", "MNEMO_REBALANCE=300ms", "MNEMO_LOG_LEVEL=warn")
	}
	w1 := spawn("w1")
	spawn("w2")
	// leases answers which worker leases each partition, per /v1/ops.
	leases := func(o *query.Ops) map[string][]int {
		*o = query.Ops{}
		if code := r.get("/v1/ops", o); code != 200 {
			t.Fatalf("GET /v1/ops: %d", code)
		}
		out := map[string][]int{}
		for _, w := range o.Workers {
			out[w.Worker] = w.Leased
		}
		return out
	}
	split := func(l map[string][]int, o *query.Ops, want ...string) bool {
		if len(l) != len(want) {
			return false
		}
		n := 0
		for _, id := range want {
			if len(l[id]) == 0 {
				return false
			}
			n += len(l[id])
		}
		for _, p := range o.Cluster.Partitions {
			if p.LeasedBy == "" {
				return false
			}
		}
		return n == r.layout.Partitions
	}
	var o query.Ops
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		l := leases(&o)
		if split(l, &o, "w1", "w2") {
			t.Logf("two workers: w1 leases %v, w2 leases %v", l["w1"], l["w2"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two-worker split after 60 s: %v (errors %v)", l, o.Errors)
		}
	}
	for _, w := range o.Workers {
		if w.Build == "" || w.ID == "" || w.Started.IsZero() {
			t.Fatalf("worker without build, instance or start: %+v", w)
		}
	}

	w1.Signal(syscall.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, alive := leases(&o)["w1"]; !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed w1 is still listed 10 s later")
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		l := leases(&o)
		if split(l, &o, "w2") {
			t.Logf("after w1 was killed: w2 leases %v", l["w2"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("w2 did not take every partition 60 s after w1 was killed: %v", l)
		}
	}
}

// With a token, /ops and /v1/ops are the viewer's: a browser without the
// cookie gets the login form, which returns it to /ops (and nowhere but a
// page of this server); the bearer token or the cookie opens both.
func TestOpsPageBehindTheToken(t *testing.T) {
	const token = "ops-token"
	r := newRigWith(t, filepath.Join(t.TempDir(), "mnemo.db"), query.Config{Token: token}, nil)
	if code, body, _ := r.send("GET", "/v1/ops", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/ops without the token: %d %.200s", code, body)
	}
	code, body, _ := r.send("GET", "/ops", "", map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
	if code != 200 || !strings.Contains(body, `action="/v1/login"`) || !strings.Contains(body, `name="next" value="/ops"`) || strings.Contains(body, "ops.js") {
		t.Fatalf("a browser's GET /ops without the cookie: %d %.300s, want the login form back to /ops", code, body)
	}
	for next, want := range map[string]string{"/ops": "/ops", "https://evil.example/": "/", "//evil.example": "/"} {
		code, _, hdr := r.send("POST", "/v1/login", url.Values{"token": {token}, "next": {next}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if code != http.StatusSeeOther || hdr.Get("Location") != want {
			t.Fatalf("login with next=%q: %d to %q, want %q", next, code, hdr.Get("Location"), want)
		}
	}
	if code, body, _ := r.send("GET", "/ops", "", map[string]string{"Authorization": "Bearer " + token}); code != 200 || !strings.Contains(body, "ops.js") {
		t.Fatalf("GET /ops with the token: %d %.200s", code, body)
	}
	var o query.Ops
	req := map[string]string{"Authorization": "Bearer " + token}
	if code, body, _ := r.send("GET", "/v1/ops", "", req); code != 200 || json.Unmarshal([]byte(body), &o) != nil || len(o.Cluster.Partitions) != r.layout.Partitions {
		t.Fatalf("GET /v1/ops with the token: %d %.200s", code, body)
	}
}
