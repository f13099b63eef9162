package query_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// rig is a query server over a real SQLite store, embedded NATS and Redis.
type rig struct {
	t      testing.TB
	nats   *testkit.NATS
	nc     *nats.Conn
	js     jetstream.JetStream
	rdb    *redis.Client
	redis  *testkit.Redis
	dsn    string
	store  store.Store
	srv    *query.Server
	http   *httptest.Server
	layout bus.Layout
	seq    uint64
}

func newRig(t testing.TB) *rig {
	t.Helper()
	return newRigOn(t, filepath.Join(t.TempDir(), "mnemo.db"))
}

// newRigOn is a rig over the store at dsn (a SQLite path or a PostgreSQL URL).
func newRigOn(t testing.TB, dsn string) *rig {
	t.Helper()
	return newRigWith(t, dsn, query.Config{Heartbeat: 200 * time.Millisecond}, nil)
}

// newRigEmbedding is a rig over the store at dsn whose server embeds with
// emb (nil = semantic search off).
func newRigEmbedding(t testing.TB, dsn string, emb *embed.Client) *rig {
	t.Helper()
	return newRigFull(t, dsn, query.Config{Heartbeat: 200 * time.Millisecond}, nil, emb)
}

// newRigWith is a rig with its own configuration and context settings (nil:
// from the environment).
func newRigWith(t testing.TB, dsn string, cfg query.Config, set *settings.Settings) *rig {
	t.Helper()
	return newRigFull(t, dsn, cfg, set, nil)
}

// newRigFull is a rig with its configuration, context settings and embedder.
func newRigFull(t testing.TB, dsn string, cfg query.Config, set *settings.Settings, emb *embed.Client) *rig {
	t.Helper()
	r := &rig{t: t, nats: testkit.StartNATS(t), redis: testkit.StartRedis(t), layout: testkit.TestLayout()}
	r.nc, r.js = r.nats.Connect(t)
	testkit.Ensure(t, r.js, r.layout)
	r.rdb = r.redis.Client(t)
	r.dsn = dsn
	st, err := store.Open(context.Background(), r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r.store = st
	srv, err := query.New(t.Context(), cfg, query.Deps{
		Store: st, NC: r.nc, JS: r.js, Layout: r.layout, Redis: r.rdb, Settings: set, Embedder: emb,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	r.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() { r.http.Close(); srv.Close() })
	return r
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// observe stores one tool use's observation for a session.
func (r *rig) observe(sid, project, typ, title, narrative string, files ...string) int64 {
	r.t.Helper()
	r.seq++
	id := fmt.Sprintf("ev-%d", r.seq)
	at := t0.Add(time.Duration(r.seq) * time.Minute)
	res, err := r.store.Apply(context.Background(), store.Unit{SessionID: sid, Fence: 1,
		Events:  []store.AppliedEvent{{EventID: id, Seq: r.seq, Kind: "tool_use", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: project, Agent: "claude-code"},
		Observations: []store.Observation{{SessionID: sid, Project: project, Type: typ, Title: title, Narrative: narrative,
			FilesRead: files, AcceptedAt: at, SourceEventIDs: []string{id}}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return res.ObservationIDs[0]
}

func (r *rig) summarize(sid, project, request, completed string) {
	r.t.Helper()
	r.seq++
	id := fmt.Sprintf("ev-%d", r.seq)
	at := t0.Add(time.Duration(r.seq) * time.Minute)
	if _, err := r.store.Apply(context.Background(), store.Unit{SessionID: sid, Fence: 1,
		Events:  []store.AppliedEvent{{EventID: id, Seq: r.seq, Kind: "stop", AcceptedAt: at}},
		Summary: &store.Summary{SessionID: sid, Project: project, Request: request, Completed: completed, AcceptedAt: at, SourceEventIDs: []string{id}}}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) get(path string, into any) int {
	r.t.Helper()
	return r.do(http.MethodGet, path, "", into)
}

func (r *rig) do(method, path, body string, into any) int {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.http.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil && len(b) > 0 {
		if err := json.Unmarshal(b, into); err != nil {
			r.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func TestSearchTimelineObservationsTrio(t *testing.T) {
	r := newRig(t)
	a := r.observe("s1", "acme", store.TypeBugfix, "Token refresh race fixed", "refresh raced with logout", "/src/acme/auth.go")
	r.observe("s1", "acme", store.TypeDiscovery, "Pool size is 20", "database pool", "/src/acme/db.go")
	c := r.observe("s2", "acme", store.TypeDecision, "Keep token refresh in middleware", "decided token refresh stays", "/src/acme/mw.go")
	r.observe("s3", "other", store.TypeBugfix, "Token parsing", "token base64", "/src/other/t.go")

	var sr struct {
		Results []query.IndexEntry `json:"results"`
		Count   int                `json:"count"`
	}
	if code := r.get("/v1/search?q=token+refresh&project=acme", &sr); code != 200 || sr.Count != 2 {
		t.Fatalf("search: %d %+v", code, sr)
	}
	for _, e := range sr.Results {
		if e.Project != "acme" || (e.ID != a && e.ID != c) {
			t.Fatalf("unexpected hit %+v", e)
		}
	}
	if code := r.get("/v1/search?q=token&type=bugfix", &sr); code != 200 || sr.Count != 2 {
		t.Fatalf("type filter: %d %+v", code, sr)
	}
	var tl struct {
		Observations []store.Observation `json:"observations"`
	}
	if code := r.get(fmt.Sprintf("/v1/timeline?around=%d&before=1&after=1", a+1), &tl); code != 200 || len(tl.Observations) != 3 {
		t.Fatalf("timeline: %d %d", code, len(tl.Observations))
	}
	var obs struct {
		Observations []store.Observation `json:"observations"`
	}
	if code := r.get(fmt.Sprintf("/v1/observations?ids=%d,%d", a, c), &obs); code != 200 || len(obs.Observations) != 2 || obs.Observations[0].Narrative == "" {
		t.Fatalf("get observations: %d %+v", code, obs)
	}
	q := url.Values{"file": {"/src/acme/auth.go"}, "project": {"acme"}}
	if code := r.get("/v1/observations?"+q.Encode(), &obs); code != 200 || len(obs.Observations) != 1 || obs.Observations[0].ID != a {
		t.Fatalf("by file: %d %+v", code, obs)
	}
}

func TestBadParametersAre4xx(t *testing.T) {
	r := newRig(t)
	r.observe("s1", "acme", store.TypeChange, "x", "y")
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"GET", "/v1/search?limit=0", "", 400, "limit"},
		{"GET", "/v1/search?limit=1000", "", 400, "limit"},
		{"GET", "/v1/search?limit=ten", "", 400, "limit"},
		{"GET", "/v1/search?offset=-1", "", 400, "offset"},
		{"GET", "/v1/search?type=Rant!", "", 400, "type"},
		{"GET", "/v1/search?obs_type=security%20alert", "", 400, "obs_type"},
		{"GET", "/v1/search?since=yesterday", "", 400, "since"},
		{"GET", "/v1/search?q=" + strings.Repeat("a", 5000), "", 400, "q"},
		{"GET", "/v1/timeline", "", 400, "anchor"},
		{"GET", "/v1/timeline?around=abc", "", 400, "around"},
		{"GET", "/v1/timeline?around=999999", "", 404, ""},
		{"GET", "/v1/observations", "", 400, "ids"},
		{"GET", "/v1/observations?ids=1,x", "", 400, "ids"},
		{"GET", "/v1/observations?file=/a.go", "", 400, "project"},
		{"GET", "/v1/context", "", 400, "project"},
		{"GET", "/v1/context?project=acme&budget=5", "", 400, "budget"},
		{"GET", "/v1/context?project=acme&tz=Mars/Olympus", "", 400, "tz"},
		{"GET", "/v1/sessions?status=sleeping", "", 400, "status"},
		{"GET", "/v1/sessions/a.b", "", 400, "id"},
		{"GET", "/v1/sessions/nope", "", 404, ""},
		{"DELETE", "/v1/sessions/s1?purge=maybe", "", 400, "purge"},
		{"DELETE", "/v1/observations/xyz", "", 400, "id"},
		{"DELETE", "/v1/observations/424242", "", 404, ""},
		{"POST", "/v1/memories", `{"text":""}`, 422, "text"},
		{"POST", "/v1/memories", `{"text":"x"}`, 422, "project"},
		{"POST", "/v1/memories", `{"text":`, 400, "body"},
		{"POST", "/v1/memories", `{"text":"x","project":"p","type":"Rant!"}`, 400, "type"},
	} {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		code := r.do(tc.method, tc.path, tc.body, &e)
		if code != tc.status || e.Error == "" || (tc.field != "" && e.Field != tc.field) {
			t.Errorf("%s %s: %d %+v, want %d naming %q", tc.method, tc.path, code, e, tc.status, tc.field)
		}
		if strings.Contains(tc.path+tc.body, "type=") || strings.Contains(tc.body, `"type"`) {
			if !strings.Contains(e.Error, "a-z") {
				t.Errorf("%s %s: %q does not name the allowed shape of a type", tc.method, tc.path, e.Error)
			}
		}
	}
}

// claude-mem's other types are memory like the rest: saved, searched by
// type, and shown in the context with their mark, named in the legend only
// when the context holds one.
func TestOpenObservationTypes(t *testing.T) {
	r := newRig(t)
	r.observe("s1", "acme", store.TypeDiscovery, "Pool size", "n")
	var c struct {
		Context string `json:"context"`
	}
	r.get("/v1/context?project=acme", &c)
	if strings.Contains(c.Context, "security_alert") {
		t.Errorf("legend names security_alert with none in the context:\n%s", c.Context)
	}
	for _, typ := range []string{store.TypeSecurityAlert, store.TypeSecurityNote, "case-law"} {
		var created struct {
			ID int64 `json:"id"`
		}
		body := fmt.Sprintf(`{"text":"%s: token printed in CI logs","project":"acme","type":%q}`, typ, typ)
		if code := r.do("POST", "/v1/memories", body, &created); code != 201 || created.ID == 0 {
			t.Fatalf("save a %s memory: %d", typ, code)
		}
	}
	var hits query.SearchAnswer
	if code := r.get("/v1/search?project=acme&obs_type=security_alert,case-law", &hits); code != 200 || hits.Count != 2 {
		t.Fatalf("search by the new types: %d, %d hits, want 2", code, hits.Count)
	}
	r.get("/v1/context?project=acme", &c)
	for _, want := range []string{"🚨security_alert", "🔐security_note", "•case-law", "🚨 security_alert: token", "🔐 security_note: token"} {
		if !strings.Contains(c.Context, want) {
			t.Errorf("context lacks %q:\n%s", want, c.Context)
		}
	}
}

func TestContextSessionsAndMemories(t *testing.T) {
	r := newRig(t)
	var empty struct {
		Context      string `json:"context"`
		Observations int    `json:"observations"`
	}
	if code := r.get("/v1/context?project=acme", &empty); code != 200 || empty.Observations != 0 || !strings.Contains(empty.Context, "no memory yet") {
		t.Fatalf("empty context: %d %+v", code, empty)
	}
	id := r.observe("s1", "acme", store.TypeBugfix, "Fixed the flaky login test", "n")
	r.summarize("s1", "acme", "make login reliable", "fixed the race")
	var ctxAns struct {
		Context      string `json:"context"`
		Observations int    `json:"observations"`
		Tokens       int    `json:"tokens"`
	}
	if code := r.get("/v1/context?project=acme&budget=2000", &ctxAns); code != 200 || ctxAns.Observations != 1 {
		t.Fatalf("context: %d %+v", code, ctxAns)
	}
	for _, want := range []string{"<" + event.ContextTag + ">", "[acme] recent context", fmt.Sprintf("%d ", id), "🔴 Fixed the flaky login test",
		" make login reliable (", "**Completed**: fixed the race", "get_observations"} {
		if !strings.Contains(ctxAns.Context, want) {
			t.Errorf("context lacks %q:\n%s", want, ctxAns.Context)
		}
	}
	if stripped, _ := event.StripTags(ctxAns.Context); strings.TrimSpace(stripped) != "" {
		t.Errorf("context is not wholly inside the context tag, so it would be re-ingested: %q", stripped)
	}
	_, _ = r.store.Apply(context.Background(), store.Unit{SessionID: "s1", Fence: 1,
		Events:  []store.AppliedEvent{{EventID: "p1", Seq: 100, Kind: "user_prompt", AcceptedAt: t0.Add(time.Hour)}},
		Prompts: []store.Prompt{{SessionID: "s1", Number: 1, Text: "make login reliable", At: t0.Add(time.Hour)}}})
	var d query.SessionDetail
	if code := r.get("/v1/sessions/s1", &d); code != 200 || d.Session.ID != "s1" || len(d.Prompts) != 1 || d.Prompts[0].Number != 1 ||
		d.Prompts[0].Text != "make login reliable" || len(d.Observations) != 1 || len(d.Summaries) != 1 {
		t.Fatalf("session detail: %d %+v", code, d)
	}
	var list struct {
		Sessions []store.Session `json:"sessions"`
	}
	if code := r.get("/v1/sessions?project=acme", &list); code != 200 || len(list.Sessions) != 1 {
		t.Fatalf("sessions: %d %+v", code, list)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if code := r.do("POST", "/v1/memories", `{"text":"Deploys go through the blue/green script <private>pw</private>","project":"acme"}`, &created); code != 201 || created.ID == 0 {
		t.Fatalf("save memory: %d", code)
	}
	got, _ := r.store.Observations(context.Background(), []int64{created.ID})
	if len(got) != 1 || strings.Contains(got[0].Narrative, "pw") || got[0].Project != "acme" {
		t.Fatalf("stored memory %+v", got)
	}
	if code := r.do("DELETE", fmt.Sprintf("/v1/observations/%d", created.ID), "", nil); code != 204 {
		t.Fatalf("delete observation: %d", code)
	}
	// Abort reaches the workers' subject, and purge deletes the memory.
	sub, err := r.nc.SubscribeSync(bus.AbortSubject("s1"))
	if err != nil {
		t.Fatal(err)
	}
	_ = r.nc.Flush()
	var del map[string]any
	if code := r.do("DELETE", "/v1/sessions/s1?purge=true", "", &del); code != 200 || del["purged"] != true {
		t.Fatalf("delete session: %d %v", code, del)
	}
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("no abort published to the workers: %v", err)
	}
	if obs, _ := r.store.SessionObservations(context.Background(), "s1"); len(obs) != 0 {
		t.Fatal("purge kept the session's observations")
	}
}

// The stream delivers a status message as an event, sends heartbeats, and a
// client reconnecting with Last-Event-ID gets what it missed. How fast an
// event arrives is BenchmarkStreamDelivery's figure; here a hang guard.
func TestStreamDeliversStatusAndResumes(t *testing.T) {
	r := newRig(t)
	events, _ := openStream(t, r.http.URL+"/v1/stream", "")
	// The answer's headers come after the client joined the hub, and the hub
	// subscribed on r.nc before any of this: no wait is needed to publish.
	if err := r.nc.Publish(bus.StatusSubject("observation", "s9"), []byte(`{"kind":"observation","session":"s9","ids":[7]}`)); err != nil {
		t.Fatal(err)
	}
	first := nextEvent(t, events, "observation", 10*time.Second)
	if !strings.Contains(first[2], `"session":"s9"`) || first[0] == "" {
		t.Fatalf("event %+v", first)
	}
	nextEvent(t, events, "heartbeat", 10*time.Second)
	// A client reconnecting with Last-Event-ID gets what it missed: the
	// first client seeing the summary means the hub holds it.
	_ = r.nc.Publish(bus.StatusSubject("summary", "s9"), []byte(`{"kind":"summary","session":"s9"}`))
	nextEvent(t, events, "summary", 10*time.Second)
	resumed, _ := openStream(t, r.http.URL+"/v1/stream", first[0])
	if e := nextEvent(t, resumed, "summary", 10*time.Second); !strings.Contains(e[2], `"kind":"summary"`) {
		t.Fatalf("resumed stream replayed %+v", e)
	}
}

// openStream GETs an event stream and returns its events as [id, name,
// data] ("heartbeat" for a heartbeat comment), read until the test ends.
func openStream(t testing.TB, url, lastID string) (<-chan [3]string, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [3]string, 1024)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var id, name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case strings.HasPrefix(line, ": heartbeat"):
				select {
				case events <- [3]string{"", "heartbeat", ""}:
				default:
				}
			case line == "" && data != "":
				events <- [3]string{id, name, data}
				id, name, data = "", "", ""
			}
		}
	}()
	return events, resp
}

// nextEvent waits for the next event named name, skipping others.
func nextEvent(t testing.TB, events <-chan [3]string, name string, timeout time.Duration) [3]string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-events:
			if e[1] == name {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", name, timeout)
		}
	}
}

// workerBin builds the real worker for the stats test.
func workerBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mnemo-worker")
	cmd := exec.Command("go", "build", "-o", bin, "../agent-worker/cmd/mnemo-worker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	return bin
}

// /v1/stats moves with real work: queue depth while no worker runs, work in
// flight while a slow compressor holds it, back to 0 once processed.
func TestStatsFollowARealPipeline(t *testing.T) {
	r := newRig(t)
	bin := workerBin(t)
	ctx := context.Background()
	const n = 12
	for i := 0; i < n; i++ {
		e := &event.Envelope{EventID: event.NewID(), SessionID: fmt.Sprintf("st-%d", i%4), Project: "acme", Kind: event.KindToolUse,
			At: time.Now(), Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make"}`)}}
		if _, err := bus.Publish(ctx, r.js, e); err != nil {
			t.Fatal(err)
		}
	}
	// A consumer's pending count follows its stream a moment after the
	// publish ack (the server updates it asynchronously): wait for it, and
	// never see more than was published.
	var st query.Stats
	for settle := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code := r.get("/v1/stats", &st)
		if code != 200 || st.QueueDepth > n || len(st.Errors) != 0 {
			t.Fatalf("before any worker: %d %+v", code, st)
		}
		if st.QueueDepth == n {
			break
		}
		if time.Now().After(settle) {
			t.Fatalf("before any worker: queue depth %d after 10 s, want %d", st.QueueDepth, n)
		}
	}
	if !st.Processing {
		t.Fatalf("before any worker: not processing with %d events queued: %+v", n, st)
	}
	testkit.StartProc(t, "w1", bin, "MNEMO_NATS_URL="+r.nats.URL(), "MNEMO_REDIS_URL="+r.redis.URL(), "MNEMO_STORE="+r.dsn,
		"MNEMO_WORKER_ID=w1", fmt.Sprintf("MNEMO_PARTITIONS=%d", r.layout.Partitions), "MNEMO_BACKOFF=none",
		"MNEMO_ACK_WAIT="+r.layout.AckWait.String(), "MNEMO_LLM_SIMULATED_LATENCY=700ms", "MNEMO_LINGER=300ms", "MNEMO_LOG_LEVEL=warn")
	sawInFlight, sawWorker := false, false
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.get("/v1/stats", &st)
		sawInFlight = sawInFlight || st.InFlight > 0
		sawWorker = sawWorker || len(st.LiveWorkers) == 1
		if !st.Processing && st.ActiveWork == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still processing after 60 s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawInFlight || !sawWorker {
		t.Fatalf("never saw work in flight (%v) or the live worker (%v)", sawInFlight, sawWorker)
	}
	var count int
	for i := 0; i < 4; i++ {
		obs, _ := r.store.SessionObservations(ctx, fmt.Sprintf("st-%d", i))
		count += len(obs)
	}
	if count != n {
		t.Fatalf("%d observations after the queue drained, want %d", count, n)
	}
}

// /v1/stats counts today's LLM tokens and what their providers said the
// calls cost (the Claude Code CLI's total_cost_usd); yesterday's calls are
// not today's.
func TestStatsLLMCostToday(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for i, u := range []store.LLMUsage{
		{Provider: "claude-code", Model: "haiku", InputTokens: 1000, OutputTokens: 50, CostUSD: 0.0123, At: day.Add(time.Second)},
		{Provider: "claude-code", Model: "haiku", InputTokens: 200, OutputTokens: 10, CostUSD: 0.0045, At: time.Now()},
		{Provider: "anthropic", Model: "claude-haiku-4-5", InputTokens: 300, OutputTokens: 7, At: time.Now()},
		{Provider: "claude-code", Model: "haiku", InputTokens: 99999, OutputTokens: 9, CostUSD: 7.5, At: day.Add(-time.Minute)},
	} {
		r.seq++
		id := fmt.Sprintf("ev-cost-%d", i)
		u.SessionID, u.Project = "cost-1", "acme"
		if _, err := r.store.Apply(ctx, store.Unit{SessionID: "cost-1", Fence: 1,
			Events:  []store.AppliedEvent{{EventID: id, Seq: r.seq, Kind: "tool_use", AcceptedAt: u.At}},
			Session: &store.SessionUpdate{Project: "acme", Agent: "claude-code"}, Usage: []store.LLMUsage{u}}); err != nil {
			t.Fatal(err)
		}
	}
	var st struct {
		Tokens int64    `json:"llm_tokens_today"`
		Cost   *float64 `json:"llm_cost_usd_today"`
	}
	if code := r.get("/v1/stats", &st); code != 200 {
		t.Fatalf("GET /v1/stats: %d", code)
	}
	if st.Tokens != 1000+50+200+10+300+7 || st.Cost == nil || math.Abs(*st.Cost-0.0168) > 1e-9 {
		t.Fatalf("today's usage: %d tokens, cost %v; want 1567 tokens and $0.0168", st.Tokens, st.Cost)
	}
}

// A worktree project's SessionStart context ("acme/feature", as the hook
// names a linked worktree) holds its parent's memory with its own; the
// parent's context stays its own, and another project's never mixes in.
func TestWorktreeContextIncludesParent(t *testing.T) {
	r := newRig(t)
	r.observe("s-main", "acme", store.TypeDecision, "Pool size chosen in main", "n")
	r.observe("s-wt", "acme/feature", store.TypeChange, "Feature flag added in the worktree", "n")
	r.observe("s-web", "acme-web", store.TypeChange, "Unrelated web change", "n")
	var c struct {
		Context      string `json:"context"`
		Observations int    `json:"observations"`
	}
	if code := r.get("/v1/context?project="+url.QueryEscape("acme/feature"), &c); code != 200 || c.Observations != 2 {
		t.Fatalf("worktree context: %d, %d observations, want 2:\n%s", code, c.Observations, c.Context)
	}
	for _, want := range []string{"Pool size chosen in main", "Feature flag added in the worktree"} {
		if !strings.Contains(c.Context, want) {
			t.Errorf("worktree context lacks %q:\n%s", want, c.Context)
		}
	}
	if strings.Contains(c.Context, "Unrelated web change") {
		t.Errorf("worktree context holds another project's memory:\n%s", c.Context)
	}
	if r.get("/v1/context?project=acme", &c); strings.Contains(c.Context, "Feature flag") || c.Observations != 1 {
		t.Errorf("the parent's context took the worktree's memory:\n%s", c.Context)
	}
}

// The query service is a NATS micro service like the others: mnemo-query,
// with the shared version, its stats on both subjects.
func TestMicroServiceReportsStats(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 2; i++ {
		r.get("/v1/projects", nil)
	}
	msg, err := r.nc.Request("$SRV.INFO.mnemo-query", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("micro info: %v", err)
	}
	var info struct{ Name, Version string }
	if err := json.Unmarshal(msg.Data, &info); err != nil || info.Name != "mnemo-query" || info.Version != bus.ServiceVersion {
		t.Fatalf("info %s (%v), want mnemo-query %s", msg.Data, err, bus.ServiceVersion)
	}
	msg, err = r.nc.Request("$SRV.STATS.mnemo-query", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("micro stats: %v", err)
	}
	if !bytes.Contains(msg.Data, []byte(`"requests":2`)) {
		t.Fatalf("stats %s, want 2 requests", msg.Data)
	}
	msg, err = r.nc.Request(bus.ServiceStatsSubject("query", bus.DefaultInstance()), nil, 2*time.Second)
	if err != nil {
		t.Fatalf("stats endpoint: %v", err)
	}
	if !bytes.Contains(msg.Data, []byte(`"requests":2`)) {
		t.Fatalf("stats endpoint %s, want 2 requests", msg.Data)
	}
}
