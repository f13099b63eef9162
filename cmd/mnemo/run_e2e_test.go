package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// localRun is a real `mnemo run` process: its own embedded NATS, redis-server
// child, SQLite store, worker, reaper and HTTP mux.
type localRun struct {
	url  string
	home string
	proc *testkit.Proc
}

// startRun starts `mnemo run` on a port it binds itself and waits until it
// is ready; the compressor is the offline one, whatever this machine has.
func startRun(t *testing.T, args ...string) *localRun {
	t.Helper()
	home := t.TempDir()
	p := testkit.StartCmd(t, "mnemo-run", mnemoBin, append([]string{"run", "--addr", "127.0.0.1:0"}, args...),
		"MNEMO_HOME="+home, "MNEMO_LLM_PROVIDER=offline", "MNEMO_REDIS_URL=", "MNEMO_STORE=", "MNEMO_TOKEN=", "MNEMO_LOG_LEVEL=info")
	addr := p.WaitLog(t, "mnemo is running", 90*time.Second)
	if addr == "" {
		t.Fatal("mnemo run logged no address")
	}
	r := &localRun{url: "http://" + addr, home: home, proc: p}
	waitHTTP(t, r.url+"/readyz", 60*time.Second)
	return r
}

// sessionDetail is GET /v1/sessions/{id}, or a zero value while it is 404.
func (r *localRun) sessionDetail(t *testing.T, id string) (d struct {
	Session      store.Session       `json:"session"`
	Observations []store.Observation `json:"observations"`
	Summaries    []store.Summary     `json:"summaries"`
}) {
	t.Helper()
	resp, err := http.Get(r.url + "/v1/sessions/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return d
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&d) != nil {
		t.Fatalf("GET /v1/sessions/%s: %d", id, resp.StatusCode)
	}
	return d
}

// `mnemo run` as one process, end to end: Claude Code's hook payloads go in
// through real hook processes, and its own mux answers with one observation
// per tool use and the session's summary, exactly once each.
func TestRunEndToEnd(t *testing.T) {
	r := startRun(t)
	hookHome := t.TempDir()
	var sid string
	for _, name := range []string{"SessionStart-startup", "UserPromptSubmit", "PostToolUse-Bash", "PostToolUse-Write", "PostToolUse-Edit", "Stop"} {
		payload, head := readFixture(t, name)
		sid = head.Session
		if h := runHookProc(t, hookHome, r.url, head.Event, payload, "MNEMO_HOOK_TIMEOUT=5s"); h.code != 0 {
			t.Fatalf("%s: exit %d %s", name, h.code, h.stderr)
		}
	}
	if st, _ := os.ReadDir(filepath.Join(hookHome, "spool")); len(st) > 0 {
		t.Fatalf("%d files spooled although mnemo run was up", len(st))
	}
	written := func() int {
		d := r.sessionDetail(t, sid)
		return len(d.Observations) + len(d.Summaries)
	}
	if n := testkit.Settled(t, "observations and the summary", 4, 60*time.Second, 3*time.Second, written); n != 4 {
		t.Fatalf("%d observations and summaries, want 3 and 1", n)
	}
	d := r.sessionDetail(t, sid)
	if len(d.Observations) != 3 || len(d.Summaries) != 1 {
		t.Fatalf("%d observations, %d summaries: want 3 and 1", len(d.Observations), len(d.Summaries))
	}
	if d.Session.Project == "" {
		t.Errorf("session %+v has no project", d.Session)
	}
}

// A dead-lettered event that can succeed, replayed with `mnemo dlq replay`
// against the running mnemo (found through its run.json), ends as an applied
// observation.
func TestDeadLetterReplayEndsApplied(t *testing.T) {
	r := startRun(t)
	st, _ := r.deadLetter(t, "dlq-e2e")
	out, code := mnemoCmd(t, []string{"MNEMO_HOME=" + r.home, "MNEMO_NATS_URL=", "MNEMO_STORE="}, "dlq", "replay", "--all")
	if code != 0 || !strings.Contains(out, "replayed dead letter") {
		t.Fatalf("dlq replay --all: %d\n%s", code, out)
	}
	rows, err := st.DeadLetters(context.Background(), 10, 0)
	if err != nil || len(rows) != 1 || rows[0].ReplayedAs == "" {
		t.Fatalf("dead letters after replay: %+v (%v)", rows, err)
	}
	r.waitObservationOf(t, "dlq-e2e", rows[0].ReplayedAs)
}

// deadLetter opens the run's store and records in it the dead letter of a
// tool use of session sid that can succeed when replayed; it returns the
// store (closed with the test) and the dead letter's ID.
func (r *localRun) deadLetter(t *testing.T, sid string) (store.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(r.home, "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	orig := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "acme", Agent: "claude-code", Cwd: "/home/dev/acme",
		Kind: event.KindToolUse, At: time.Now().UTC(), Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make replayed"}`),
			Response: json.RawMessage(`{"stdout":"ok"}`)}}
	payload, _ := json.Marshal(orig)
	id, err := st.AddDeadLetter(ctx, store.DeadLetter{EventID: orig.EventID, SessionID: orig.SessionID, Seq: 1,
		Reason: "compressor failed 5 times", Deliveries: 5, Payload: payload, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return st, id
}

// waitObservationOf waits until session sid holds exactly one observation
// made from event eventID (a replayed dead letter's new event).
func (r *localRun) waitObservationOf(t *testing.T, sid, eventID string) {
	t.Helper()
	observed := func() int {
		n := 0
		for _, o := range r.sessionDetail(t, sid).Observations {
			for _, id := range o.SourceEventIDs {
				if id == eventID {
					n++
				}
			}
		}
		return n
	}
	if n := testkit.Settled(t, "the replayed event's observation", 1, 60*time.Second, 2*time.Second, observed); n != 1 {
		t.Fatalf("%d observations of the replayed event %s, want 1", n, eventID)
	}
}

// `mnemo run --upstream`: events accepted locally reach the shared cluster's
// stream, once each, through the real flag.
func TestRunForwardsUpstream(t *testing.T) {
	hub := testkit.StartNATS(t)
	_, hubJS := hub.Connect(t)
	testkit.Ensure(t, hubJS, testkit.TestLayout())
	r := startRun(t, "--upstream", hub.URL())
	hookHome := t.TempDir()
	for i := 0; i < 5; i++ {
		if h := runHookProc(t, hookHome, r.url, "PostToolUse", bashPayload("up-1", fmt.Sprintf("make up-%d", i)), "MNEMO_HOOK_TIMEOUT=5s"); h.code != 0 {
			t.Fatalf("hook: exit %d %s", h.code, h.stderr)
		}
	}
	ctx := context.Background()
	var cmds []string
	upstream := func() int {
		s, err := hubJS.Stream(ctx, bus.EventsStream)
		if err != nil {
			return 0
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0
		}
		cmds = cmds[:0]
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			e, err := bus.DecodeEvent(m.Data)
			if err != nil || e.Tool == nil {
				continue
			}
			var in struct {
				Command string `json:"command"`
			}
			_ = json.Unmarshal(e.Tool.Input, &in)
			cmds = append(cmds, in.Command)
		}
		return int(info.State.Msgs)
	}
	if n := testkit.Settled(t, "events upstream", 5, 60*time.Second, 2*time.Second, upstream); n != 5 {
		t.Fatalf("%d events upstream, want 5 exactly once", n)
	}
	upstream()
	if fmt.Sprint(cmds) != "[make up-0 make up-1 make up-2 make up-3 make up-4]" {
		t.Fatalf("upstream holds %q, want make up-0…4 in order", cmds)
	}
}
