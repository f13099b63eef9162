package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// env is one ingest server on a real embedded NATS and a real redis-server.
type env struct {
	t     testing.TB
	nats  *testkit.NATS
	redis *testkit.Redis
	nc    *nats.Conn
	js    jetstream.JetStream
	srv   *ingest.Server
	http  *httptest.Server
	reg   *prometheus.Registry
	meta  *session.MetaStore
}

func newEnv(t testing.TB, cfg ingest.Config) *env {
	t.Helper()
	e := &env{t: t, nats: testkit.StartNATS(t), redis: testkit.StartRedis(t), reg: prometheus.NewRegistry()}
	e.nc, e.js = e.nats.Connect(t)
	testkit.Ensure(t, e.js, testkit.TestLayout())
	e.meta = session.NewMetaStore(e.redis.Client(t))
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 2 * time.Second
	}
	srv, err := ingest.New(t.Context(), cfg, ingest.Deps{NC: e.nc, JS: e.js, Meta: e.meta, Registry: e.reg})
	if err != nil {
		t.Fatalf("ingest.New: %v", err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		e.http.Close()
		srv.Close()
	})
	return e
}

func envelope(sid string, kind event.Kind) *event.Envelope {
	e := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "acme", Agent: "claude-code", Kind: kind, At: time.Now().UTC(), Cwd: "/src/acme"}
	switch kind {
	case event.KindUserPrompt:
		e.Prompt = "fix the login bug"
	case event.KindToolUse:
		e.Tool = &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"go test ./..."}`), Response: json.RawMessage(`{"stdout":"ok"}`)}
	}
	return e
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        []byte
}

func (e *env) post(path, contentType string, body []byte, hdr ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (e *env) postEvent(ev *event.Envelope) answer {
	e.t.Helper()
	return e.post("/v1/events", "application/json", mustJSON(e.t, ev))
}

// stored reads every message of the events stream.
func (e *env) stored() []*event.Envelope {
	e.t.Helper()
	var out []*event.Envelope
	for _, data := range e.storedRaw() {
		ev, err := bus.DecodeEvent(data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// storedWithout checks that the events stream holds n messages and that no
// body contains any of secrets, compared case-insensitively.
func (e *env) storedWithout(n int, secrets ...string) {
	e.t.Helper()
	raws := e.storedRaw()
	if len(raws) != n {
		e.t.Fatalf("%d stored, want %d", len(raws), n)
	}
	for _, raw := range raws {
		for _, secret := range secrets {
			if strings.Contains(strings.ToLower(string(raw)), strings.ToLower(secret)) {
				e.t.Fatalf("stored event leaks %q: %s", secret, raw)
			}
		}
	}
}

// storedRaw reads the bodies of every message of the events stream.
func (e *env) storedRaw() [][]byte {
	e.t.Helper()
	return testkit.StreamData(e.t, e.js, bus.EventsStream)
}

func TestBadInputGetsClear4xx(t *testing.T) {
	e := newEnv(t, ingest.Config{Limits: event.Limits{Body: 64 << 10, ToolResponse: 8 << 10, ToolInput: 8 << 10, Prompt: 8 << 10, Field: 256}, BatchMax: 3})
	ok := envelope("s1", event.KindToolUse)
	patch := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(mustJSON(t, ok), &m)
		f(m)
		return mustJSON(t, m)
	}
	big := strings.Repeat("x", 9<<10)
	cases := []struct {
		name, path, ctype string
		body              []byte
		status            int
		field             string
	}{
		{"malformed JSON", "/v1/events", "application/json", []byte(`{"event_id":`), 400, "body"},
		{"trailing data", "/v1/events", "application/json", append(mustJSON(t, ok), []byte(`{}`)...), 400, "body"},
		{"not an object", "/v1/events", "application/json", []byte(`[1,2]`), 400, ""},
		{"unknown kind", "/v1/events", "application/json", patch(func(m map[string]any) { m["kind"] = "compile" }), 400, "kind"},
		{"session id with a dot", "/v1/events", "application/json", patch(func(m map[string]any) { m["session_id"] = "a.b" }), 400, "session_id"},
		{"session id with a wildcard", "/v1/events", "application/json", patch(func(m map[string]any) { m["session_id"] = "a>" }), 400, "session_id"},
		{"session id too long", "/v1/events", "application/json", patch(func(m map[string]any) { m["session_id"] = strings.Repeat("a", 129) }), 400, "session_id"},
		{"missing session id", "/v1/events", "application/json", patch(func(m map[string]any) { delete(m, "session_id") }), 422, "session_id"},
		{"missing event id", "/v1/events", "application/json", patch(func(m map[string]any) { delete(m, "event_id") }), 422, "event_id"},
		{"missing tool", "/v1/events", "application/json", patch(func(m map[string]any) { delete(m, "tool") }), 422, "tool"},
		{"oversize body", "/v1/events", "application/json", patch(func(m map[string]any) { m["prompt"] = strings.Repeat("y", 70<<10) }), 413, "body"},
		{"oversize tool response", "/v1/events", "application/json", patch(func(m map[string]any) {
			m["tool"].(map[string]any)["response"] = map[string]string{"stdout": big}
		}), 413, "tool.response"},
		{"oversize field", "/v1/events", "application/json", patch(func(m map[string]any) { m["project"] = strings.Repeat("p", 300) }), 413, "project"},
		{"wrong type", "/v1/events", "application/json", patch(func(m map[string]any) { m["prompt_number"] = "three" }), 400, "prompt_number"},
		{"wrong content type", "/v1/events", "text/plain", mustJSON(t, ok), 415, "Content-Type"},
		{"form content type", "/v1/events:batch", "application/x-www-form-urlencoded", []byte("a=b"), 415, "Content-Type"},
		{"empty batch", "/v1/events:batch", "application/json", []byte(`[]`), 422, "events"},
		{"batch over the limit", "/v1/events:batch", "application/json", mustJSON(t, []any{ok, ok, ok, ok}), 413, "events"},
		{"malformed batch", "/v1/events:batch", "application/json", []byte(`[{]`), 400, "body"},
		{"unknown hook event", "/v1/hooks/claude-code/Explode", "application/json", []byte(`{"session_id":"s1"}`), 404, "event"},
		{"hook payload without session", "/v1/hooks/claude-code/Stop", "application/json", []byte(`{"hook_event_name":"Stop"}`), 422, "session_id"},
		{"hook payload not JSON", "/v1/hooks/claude-code/Stop", "application/json", []byte(`nope`), 400, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.post(tc.path, tc.ctype, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", a.status, tc.status, a.raw)
			}
			if msg, _ := a.body["error"].(string); msg == "" {
				t.Fatalf("no error reason in %s", a.raw)
			}
			if tc.field != "" && a.body["field"] != tc.field {
				t.Fatalf("field %v, want %q (body %s)", a.body["field"], tc.field, a.raw)
			}
		})
	}
	if got := e.stored(); len(got) != 0 {
		t.Fatalf("%d events stored from bad input", len(got))
	}
	if n := counter(t, e.reg, "mnemo_ingest_rejected_total"); n != float64(len(cases)) {
		t.Fatalf("rejected counter %v, want %d", n, len(cases))
	}
	// The server still works after all that.
	if a := e.postEvent(envelope("s1", event.KindSessionStart)); a.status != http.StatusAccepted {
		t.Fatalf("good event after bad ones: %d %s", a.status, a.raw)
	}
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestSameEventIDTwiceIsStoredOnce(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	ev := envelope("dup-session", event.KindUserPrompt)
	first := e.postEvent(ev)
	second := e.postEvent(ev)
	if first.status != 202 || second.status != 202 {
		t.Fatalf("statuses %d, %d, want 202 twice", first.status, second.status)
	}
	if first.body["duplicate"] != false || second.body["duplicate"] != true {
		t.Fatalf("duplicate flags %v, %v, want false, true", first.body["duplicate"], second.body["duplicate"])
	}
	if first.body["seq"] != second.body["seq"] || first.body["event_id"] != ev.EventID {
		t.Fatalf("answers %s and %s should name the same stored message", first.raw, second.raw)
	}
	if got := e.stored(); len(got) != 1 || got[0].EventID != ev.EventID {
		t.Fatalf("stream holds %d messages, want exactly the one event", len(got))
	}
	if n := counter(t, e.reg, "mnemo_ingest_duplicates_total"); n != 1 {
		t.Fatalf("duplicates counter %v, want 1", n)
	}
}

func TestPrivateContentNeverReachesTheBroker(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	ev := envelope("priv", event.KindToolUse)
	ev.Tool.Input = json.RawMessage(`{"command":"echo <private>hunter2</private> done","note":"<PRIVATE>multi\nline</PRIVATE>"}`)
	ev.Tool.Response = json.RawMessage(`{"stdout":"token <private>sk-live-123"}`)
	ev.LastAssistantMessage = "<system-reminder>injected</system-reminder>answer"
	if a := e.postEvent(ev); a.status != 202 {
		t.Fatalf("status %d %s", a.status, a.raw)
	}
	p := envelope("priv", event.KindUserPrompt)
	p.Prompt = "<private>my password is hunter2</private>"
	if a := e.postEvent(p); a.status != 202 {
		t.Fatalf("status %d %s", a.status, a.raw)
	}
	// A field this ingest does not know is not stored, tags or not.
	u := mustJSON(t, envelope("priv", event.KindStop))
	u = append(u[:len(u)-1], `,"from_a_newer_hook":"<private>hunter2</private>"}`...)
	if a := e.post("/v1/events", "application/json", u); a.status != 202 {
		t.Fatalf("status %d %s", a.status, a.raw)
	}
	e.storedWithout(3, "hunter2", "sk-live-123", "multi", "injected", "private>", "from_a_newer_hook")
	got := e.stored()
	if !got[1].Private {
		t.Fatal("an entirely private prompt must be marked private")
	}
}

// TestCleanBodyStoredAsSent checks that a body holding only envelope fields
// with nothing to strip is stored byte for byte, not encoded a second time.
func TestCleanBodyStoredAsSent(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	ev := envelope("clean", event.KindToolUse)
	body := []byte(" {\n  \"event_id\": \"" + ev.EventID + "\", \"session_id\": \"clean\", \"kind\": \"tool_use\",\n" +
		"  \"at\": \"2026-11-25T10:00:00+01:00\", \"tool\": {\"name\": \"Bash\", \"input\": {\"command\": \"ls\"}}}\n")
	if a := e.post("/v1/events", "application/json", body); a.status != 202 {
		t.Fatalf("status %d %s", a.status, a.raw)
	}
	batch := mustJSON(t, []any{envelope("clean", event.KindStop)})
	if a := e.post("/v1/events:batch", "application/json", batch); a.status != 200 {
		t.Fatalf("batch status %d %s", a.status, a.raw)
	}
	raws := e.storedRaw()
	if len(raws) != 2 || !bytes.Equal(raws[0], body) {
		t.Fatalf("stored %q, want the body as sent %q", raws[0], body)
	}
	if want := batch[1 : len(batch)-1]; !bytes.Equal(raws[1], want) {
		t.Fatalf("batch event stored as %q, want %q", raws[1], want)
	}
	if got := e.stored(); got[0].Tool == nil || got[0].Tool.Name != "Bash" || got[0].SessionID != "clean" {
		t.Fatalf("stored body decodes to %+v", got[0])
	}
}

func TestNATSDownAnswers503AndRecovers(t *testing.T) {
	e := newEnv(t, ingest.Config{PublishTimeout: 500 * time.Millisecond})
	if a := e.postEvent(envelope("s-outage", event.KindSessionStart)); a.status != 202 {
		t.Fatalf("before outage: %d %s", a.status, a.raw)
	}
	e.nats.Shutdown()
	start := time.Now()
	for i := 0; i < 3; i++ {
		a := e.postEvent(envelope("s-outage", event.KindUserPrompt))
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("broker down: status %d, want 503 (%s)", a.status, a.raw)
		}
		if a.retryAfter == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	batch := e.post("/v1/events:batch", "application/json", mustJSON(t, []any{envelope("s-outage", event.KindStop)}))
	if batch.status != http.StatusServiceUnavailable {
		t.Fatalf("batch with broker down: %d, want 503", batch.status)
	}
	// A hang guard (four requests of a 500 ms publish timeout take about
	// 2 s), not a speed claim.
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Fatalf("503s took %s: requests hang instead of failing", elapsed)
	}
	resp, err := http.Get(e.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with broker down: %d", resp.StatusCode)
	}

	e.nats.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := e.postEvent(envelope("s-outage", event.KindStop))
		if a.status == 202 {
			break
		}
		if a.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after restart: %d %s", a.status, a.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every 202 is in the stream, and nothing answered 503 was stored.
	got := e.stored()
	if len(got) != 2 || got[0].Kind != event.KindSessionStart || got[1].Kind != event.KindStop {
		t.Fatalf("stream after outage holds %d events, want the session_start and the stop", len(got))
	}
}

func TestRedisDownStillAccepts(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	// startRecorded starts session sid and waits for its metadata in Redis.
	startRecorded := func(sid string, timeout time.Duration, what string) {
		t.Helper()
		if a := e.postEvent(envelope(sid, event.KindSessionStart)); a.status != 202 {
			t.Fatalf("%s: status %d", sid, a.status)
		}
		testkit.WaitFor(t, timeout, what, func() bool {
			m, err := e.meta.Get(context.Background(), sid)
			return err == nil && m.Project == "acme"
		})
	}
	startRecorded("s-meta", 5*time.Second, "session metadata written to Redis")

	e.redis.Kill()
	for i := 0; i < 5; i++ {
		if a := e.postEvent(envelope("s-meta", event.KindUserPrompt)); a.status != 202 {
			t.Fatalf("Redis down: status %d, want 202 (%s)", a.status, a.raw)
		}
	}
	if got := e.stored(); len(got) != 6 {
		t.Fatalf("stream holds %d, want 6", len(got))
	}
	e.redis.Start()
	startRecorded("s-meta2", 10*time.Second, "metadata writes resume once Redis is back")
}

// TestMetaFoldsConcurrentEvents posts the events of a few sessions at once:
// each session's metadata ends with its first event's time as started_at and
// its last event's as last_event_at, however the writes were folded.
func TestMetaFoldsConcurrentEvents(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	const sessions, per = 3, 40
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() { // a session's hook posts its events one after another
			defer wg.Done()
			for i := 0; i < per; i++ {
				ev := envelope(fmt.Sprintf("s-fold-%d", s), event.KindUserPrompt)
				ev.At = t0.Add(time.Duration(i) * time.Second)
				ev.Cwd = fmt.Sprintf("/w/%d", s)
				if a := e.postEvent(ev); a.status != 202 {
					t.Errorf("status %d (%s)", a.status, a.raw)
				}
			}
		}()
	}
	wg.Wait()
	for s := 0; s < sessions; s++ {
		sid := fmt.Sprintf("s-fold-%d", s)
		testkit.WaitFor(t, 5*time.Second, sid+" last_event_at is its last event's time", func() bool {
			m, err := e.meta.Get(context.Background(), sid)
			return err == nil && m.LastEventAt.Equal(t0.Add((per-1)*time.Second))
		})
		m, _ := e.meta.Get(context.Background(), sid)
		if !m.StartedAt.Equal(t0) || m.Cwd != fmt.Sprintf("/w/%d", s) || m.Project != "acme" {
			t.Fatalf("%s: %+v, want started_at %v", sid, m, t0)
		}
	}
}

func TestConcurrentClientsLoseNothing(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	const clients, perClient = 50, 200
	var mu sync.Mutex
	accepted := map[string]int{} // event ID → session position
	perSession := map[string][]string{}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			sid := fmt.Sprintf("load-%02d", c)
			for i := 0; i < perClient; i++ {
				ev := envelope(sid, event.KindToolUse)
				b, _ := json.Marshal(ev)
				resp, err := client.Post(e.http.URL+"/v1/events", "application/json", bytes.NewReader(b))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					errs <- fmt.Errorf("client %d event %d: status %d", c, i, resp.StatusCode)
					return
				}
				mu.Lock()
				accepted[ev.EventID] = i
				perSession[sid] = append(perSession[sid], ev.EventID)
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := e.stored()
	if len(got) != clients*perClient || len(accepted) != clients*perClient {
		t.Fatalf("stored %d, accepted %d, want %d each", len(got), len(accepted), clients*perClient)
	}
	order := map[string][]string{}
	for _, g := range got {
		if _, ok := accepted[g.EventID]; !ok {
			t.Fatalf("stream holds %s that was never acknowledged", g.EventID)
		}
		order[g.SessionID] = append(order[g.SessionID], g.EventID)
	}
	for sid, want := range perSession {
		if fmt.Sprint(order[sid]) != fmt.Sprint(want) {
			t.Fatalf("session %s stored out of accept order", sid)
		}
	}
}

func TestBatchAnswersPerEventInOrder(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	a1 := envelope("batch-a", event.KindSessionStart)
	a2 := envelope("batch-a", event.KindUserPrompt)
	bad := envelope("batch-b", event.KindToolUse)
	bad.Tool = nil
	b1 := envelope("batch-b", event.KindSessionStart)
	body := []byte("[" + string(mustJSON(t, a1)) + `,{"broken":]`)
	// A raw broken element makes the whole array malformed JSON: 400 for all.
	if a := e.post("/v1/events:batch", "application/json", body); a.status != 400 {
		t.Fatalf("batch with broken JSON element: %d", a.status)
	}
	body = mustJSON(t, map[string]any{"events": []any{a1, bad, a2, b1, a1}})
	a := e.post("/v1/events:batch", "application/json", body)
	if a.status != 200 {
		t.Fatalf("status %d %s", a.status, a.raw)
	}
	var ans api.BatchAnswer
	if err := json.Unmarshal(a.raw, &ans); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     string
		status int
		dup    bool
	}{{a1.EventID, 202, false}, {bad.EventID, 422, false}, {a2.EventID, 202, false}, {b1.EventID, 202, false}, {a1.EventID, 202, true}}
	if len(ans.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(ans.Results), len(want))
	}
	for i, w := range want {
		r := ans.Results[i]
		if r.EventID != w.id || r.Status != w.status || r.Duplicate != w.dup {
			t.Errorf("result %d = %+v, want id %s status %d dup %v", i, r, w.id, w.status, w.dup)
		}
	}
	if ans.Results[1].Field != "tool" {
		t.Errorf("rejected element names field %q, want tool", ans.Results[1].Field)
	}
	if ans.Accepted != 3 || ans.Duplicates != 1 || ans.Rejected != 1 {
		t.Errorf("totals %+v", ans)
	}
	got := e.stored()
	if len(got) != 3 || got[0].EventID != a1.EventID || got[1].EventID != a2.EventID || got[2].EventID != b1.EventID {
		t.Fatalf("stored %d events in the wrong order", len(got))
	}
}

func TestClaudeCodeRawHookEndpoint(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	dir := testkit.FixtureDir(t, "claude-code")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		return b
	}
	a := e.post("/v1/hooks/claude-code/PostToolUse", "application/json", read("PostToolUse-Bash.json"))
	if a.status != 202 {
		t.Fatalf("PostToolUse: %d %s", a.status, a.raw)
	}
	a = e.post("/v1/hooks/claude-code/Notification", "application/json", read("Notification.json"))
	if a.status != 200 || a.body["skipped"] == "" {
		t.Fatalf("Notification: %d %s, want 200 skipped", a.status, a.raw)
	}
	got := e.stored()
	if len(got) != 1 || got[0].Kind != event.KindToolUse || got[0].Tool == nil || got[0].Tool.Name != "Bash" {
		t.Fatalf("stored %+v, want one Bash tool_use", got)
	}
}

func TestTokenRequiredWhenConfigured(t *testing.T) {
	e := newEnv(t, ingest.Config{Token: "t0ken"})
	ev := envelope("auth", event.KindSessionStart)
	if a := e.postEvent(ev); a.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", a.status)
	}
	if a := e.post("/v1/events", "application/json", mustJSON(t, ev), "Authorization", "Bearer wrong"); a.status != 401 {
		t.Fatalf("wrong token: %d, want 401", a.status)
	}
	if a := e.post("/v1/events", "application/json", mustJSON(t, ev), "Authorization", "Bearer t0ken"); a.status != 202 {
		t.Fatalf("right token: %d, want 202", a.status)
	}
}

func TestConfigRefusesOpenBindWithoutToken(t *testing.T) {
	c := ingest.DefaultConfig()
	if err := c.ValidateBind(); err != nil {
		t.Fatalf("loopback default refused: %v", err)
	}
	c.Addr = "0.0.0.0:37801"
	err := c.ValidateBind()
	if err == nil || !strings.Contains(err.Error(), "MNEMO_TOKEN") {
		t.Fatalf("open bind without token: %v, want an error naming MNEMO_TOKEN", err)
	}
	c.Token = "x"
	if err := c.ValidateBind(); err != nil {
		t.Fatalf("open bind with token: %v", err)
	}
	c.Limits.Body = 10
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "MNEMO_MAX_BODY") {
		t.Fatalf("tiny body limit: %v, want an error naming MNEMO_MAX_BODY", err)
	}
}

func TestMicroServiceReportsStats(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	for i := 0; i < 3; i++ {
		e.postEvent(envelope("stats", event.KindUserPrompt))
	}
	e.post("/v1/events", "application/json", []byte(`{`))
	msg, err := e.nc.Request("$SRV.STATS.mnemo-ingest", nil, 2*time.Second)
	if err != nil {
		t.Fatalf("micro stats: %v", err)
	}
	if !bytes.Contains(msg.Data, []byte(`"accepted":3`)) || !bytes.Contains(msg.Data, []byte(`"rejected":1`)) {
		t.Fatalf("stats %s, want accepted 3 and rejected 1", msg.Data)
	}
}

// A raw hook payload is stripped and validated once in this process, by the
// mapping (hook.ClaudeCode); an envelope from the network once, by ingest.
func TestHookPayloadIsStrippedAndValidatedOnce(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	b, err := os.ReadFile(filepath.Join(testkit.FixtureDir(t, "claude-code"), "PostToolUse-Bash.json"))
	if err != nil {
		t.Fatal(err)
	}
	once := func(what string, post func() answer) {
		t.Helper()
		s0, v0 := event.Checks()
		if a := post(); a.status != 202 {
			t.Fatalf("%s: %d %s", what, a.status, a.raw)
		}
		if s1, v1 := event.Checks(); s1-s0 != 1 || v1-v0 != 1 {
			t.Fatalf("%s: stripped %d and validated %d times in this process, want once each", what, s1-s0, v1-v0)
		}
	}
	once("raw hook payload", func() answer { return e.post("/v1/hooks/claude-code/PostToolUse", "application/json", b) })
	once("envelope", func() answer { return e.postEvent(envelope("once", event.KindSessionStart)) })
}
