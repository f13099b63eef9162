package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// mnemoBin is the real binary the tests run as a child process, as Claude
// Code runs it; built once by TestMain.
var mnemoBin string

func TestMain(m *testing.M) {
	testkit.MainWithBinaries(m, testkit.Binary{Name: "mnemo", Pkg: ".", Path: &mnemoBin})
}

func fixtureDir(t testing.TB) string {
	t.Helper()
	return testkit.FixtureDir(t, "claude-code")
}

// mnemoServer is ingest (and query) on one address over a real embedded NATS
// and store, as `mnemo run` serves them.
type mnemoServer struct {
	js    jetstream.JetStream
	store store.Store
	url   string
	addr  string
	srv   *http.Server
	mux   *http.ServeMux
}

func startMnemo(t testing.TB, addr string) *mnemoServer {
	t.Helper()
	n := testkit.StartNATS(t)
	nc, js := n.Connect(t)
	testkit.Ensure(t, js, testkit.TestLayout())
	st := storetest.Open(t, filepath.Join(t.TempDir(), "m.db"))
	mux := http.NewServeMux()
	closeAll, err := mountServices(t.Context(), mux, services{nc: nc, js: js, store: st, layout: testkit.TestLayout()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeAll)
	m := &mnemoServer{js: js, store: st, mux: mux}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	m.url = "http://" + m.addr
	m.srv = &http.Server{Handler: mux}
	go func() { _ = m.srv.Serve(ln) }()
	t.Cleanup(func() { _ = m.srv.Close() })
	return m
}

// stored returns every event in the stream.
func (m *mnemoServer) stored(t testing.TB) []*event.Envelope {
	t.Helper()
	var out []*event.Envelope
	for _, data := range testkit.StreamData(t, m.js, bus.EventsStream) {
		e, err := bus.DecodeEvent(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

type hookResult struct {
	code   int
	stdout string
	stderr string
}

// runHookProc runs `mnemo hook claude-code <event>` with payload on stdin.
func runHookProc(t testing.TB, home, url, name string, payload []byte, env ...string) hookResult {
	t.Helper()
	return runHookBin(t, mnemoBin, home, url, name, payload, append([]string{"MNEMO_HOOK_FLUSH_BACKOFF=50ms"}, env...)...)
}

// runHookBin runs `<bin> hook claude-code <event>` (mnemo or mnemo-hook)
// with payload on stdin and returns its exit code and output.
func runHookBin(t testing.TB, bin, home, url, name string, payload []byte, env ...string) hookResult {
	t.Helper()
	cmd := exec.Command(bin, "hook", "claude-code", name)
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL="+url)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = bytes.NewReader(payload)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return hookResult{code, out.String(), errb.String()}
}

// Every fixture goes through the real binary: exit 0, nothing on stdout but
// SessionStart's context, and the stream holds exactly what the shared
// mapper says should be recorded.
func TestHookFixturesThroughTheBinary(t *testing.T) {
	m := startMnemo(t, "")
	home := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(fixtureDir(t), "*.json"))
	want := map[event.Kind]int{}
	ran := 0
	for _, f := range files {
		payload, _ := os.ReadFile(f)
		var head struct {
			Name string `json:"hook_event_name"`
		}
		if json.Unmarshal(payload, &head) != nil || head.Name == "" {
			continue
		}
		ran++
		// Each fixture in its own session, so the prompt dedupe and private
		// turns of one do not touch another.
		var obj map[string]any
		_ = json.Unmarshal(payload, &obj)
		obj["session_id"] = fmt.Sprintf("fx-%d", ran)
		payload, _ = json.Marshal(obj)
		r := runHookProc(t, home, m.url, head.Name, payload)
		if r.code != 0 {
			t.Errorf("%s: exit %d (%s)", filepath.Base(f), r.code, r.stderr)
		}
		if head.Name != "SessionStart" && head.Name != "PreToolUse" && r.stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", filepath.Base(f), r.stdout)
		}
		if e, err := hook.ClaudeCode(head.Name, payload, hook.Options{}); err == nil {
			want[e.Kind]++
		}
	}
	if ran < 40 {
		t.Fatalf("only %d fixtures found under %s", ran, fixtureDir(t))
	}
	got := map[event.Kind]int{}
	for _, e := range m.stored(t) {
		got[e.Kind]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stream holds %v, the mapper says %v", got, want)
	}
	if names := spoolEntries(home); len(names) > 0 {
		t.Fatalf("events spooled although Mnemo was up: %v", names)
	}
}

// spoolEntries names everything in the spool of the hook whose home is home
// (events, files being written, the flusher's lock): a hook that must not
// spool leaves none of them.
func spoolEntries(home string) []string {
	entries, _ := os.ReadDir(filepath.Join(home, "spool"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// <private> content never leaves the hook, and a wholly private prompt makes
// its turn's tool uses private too.
func TestHookPrivateNeverArrives(t *testing.T) {
	m := startMnemo(t, "")
	home := t.TempDir()
	base := map[string]any{"session_id": "priv-1", "transcript_path": "/tmp/t.jsonl", "cwd": "/home/dev/acme", "permission_mode": "default"}
	with := func(kv ...any) []byte {
		o := map[string]any{}
		for k, v := range base {
			o[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		b, _ := json.Marshal(o)
		return b
	}
	runHookProc(t, home, m.url, "UserPromptSubmit", with("hook_event_name", "UserPromptSubmit", "prompt", "deploy with key <private>sk-live-AAA</private> now"))
	runHookProc(t, home, m.url, "PostToolUse", with("hook_event_name", "PostToolUse", "tool_name", "Bash", "tool_use_id", "t1",
		"tool_input", map[string]any{"command": "echo <PRIVATE>pw-BBB</PRIVATE>"}, "tool_response", map[string]any{"stdout": "<private>out-CCC"}))
	runHookProc(t, home, m.url, "UserPromptSubmit", with("hook_event_name", "UserPromptSubmit", "prompt", "<private>all of it DDD</private>", "prompt_id", "p2"))
	runHookProc(t, home, m.url, "PostToolUse", with("hook_event_name", "PostToolUse", "tool_name", "Read", "tool_use_id", "t2", "prompt_id", "p2",
		"tool_input", map[string]any{"file_path": "/home/dev/acme/EEE.go"}, "tool_response", map[string]any{"content": "FFF"}))
	got := m.stored(t)
	if len(got) != 4 {
		t.Fatalf("%d events stored, want 4", len(got))
	}
	for _, e := range got {
		b, _ := json.Marshal(e)
		for _, secret := range []string{"AAA", "BBB", "CCC", "DDD"} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("private %s arrived: %s", secret, b)
			}
		}
	}
	if !got[2].Private {
		t.Fatal("a wholly private prompt must be marked private")
	}
	if b, _ := json.Marshal(got[3]); !got[3].Private || strings.Contains(string(b), "FFF") || strings.Contains(string(b), "EEE") {
		t.Fatalf("the private turn's tool use arrived with content: %s", b)
	}
}

// SessionStart prints the project's context in Claude Code's format; with
// Mnemo down it prints nothing and still exits 0.
func TestHookSessionStartContext(t *testing.T) {
	m := startMnemo(t, "")
	payload, project := sessionStartFixture(t)
	at := time.Now().Add(-time.Hour)
	if _, err := m.store.Apply(context.Background(), store.Unit{SessionID: "earlier", Fence: 1,
		Events:  []store.AppliedEvent{{EventID: "e1", Seq: 1, Kind: "tool_use", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: project},
		Observations: []store.Observation{{SessionID: "earlier", Project: project, Type: store.TypeDecision,
			Title: "Retries use exponential backoff", AcceptedAt: at, SourceEventIDs: []string{"e1"}}}}); err != nil {
		t.Fatal(err)
	}
	r := runHookProc(t, t.TempDir(), m.url, "SessionStart", payload)
	var out struct {
		HookSpecificOutput struct {
			HookEventName     string `json:"hookEventName"`
			AdditionalContext string `json:"additionalContext"`
		} `json:"hookSpecificOutput"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	if out.HookSpecificOutput.HookEventName != "SessionStart" || !strings.Contains(out.HookSpecificOutput.AdditionalContext, "Retries use exponential backoff") {
		t.Fatalf("context output %+v", out)
	}
	down := runHookProc(t, t.TempDir(), "http://127.0.0.1:1", "SessionStart", payload)
	if down.code != 0 || down.stdout != "" {
		t.Fatalf("Mnemo down: exit %d stdout %q, want 0 and nothing", down.code, down.stdout)
	}
}

// Mnemo down: 20 hook processes at once spool 20 events; Mnemo up again: one
// more hook call and all 21 arrive, exactly once.
func TestHookSpoolsWhileDownAndReplaysOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: Mnemo is down
	home := t.TempDir()
	payload := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{"session_id": fmt.Sprintf("spool-%d", i%3), "hook_event_name": "PostToolUse", "cwd": "/home/dev/acme",
			"tool_name": "Bash", "tool_use_id": fmt.Sprintf("t%d", i), "tool_input": map[string]any{"command": fmt.Sprintf("make step-%d", i)},
			"tool_response": map[string]any{"stdout": "ok"}})
		return b
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := runHookProc(t, home, "http://"+addr, "PostToolUse", payload(i)); r.code != 0 || r.stdout != "" {
				t.Errorf("hook %d with Mnemo down: exit %d stdout %q", i, r.code, r.stdout)
			}
		}()
	}
	wg.Wait()
	var status bytes.Buffer
	cmd := exec.Command(mnemoBin, "spool", "status")
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+home)
	cmd.Stdout = &status
	_ = cmd.Run()
	if !strings.Contains(status.String(), "20 event") {
		t.Fatalf("spool status %q, want 20 events", status.String())
	}

	m := startMnemo(t, addr)
	if r := runHookProc(t, home, m.url, "PostToolUse", payload(20)); r.code != 0 {
		t.Fatalf("hook with Mnemo up: exit %d", r.code)
	}
	// Every event arrives, and a quiet period after the last change shows
	// no second copy of any.
	n := testkit.Settled(t, "events after Mnemo came back", 21, 20*time.Second, 2*time.Second, func() int { return len(m.stored(t)) })
	got := m.stored(t)
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.EventID] = true
	}
	if n != 21 || len(got) != 21 || len(ids) != 21 {
		t.Fatalf("%d stored (%d distinct), want 21 exactly once", len(got), len(ids))
	}
	// Spooled concurrently, events of one session have no accept order among
	// themselves; the one sent live, step 20 of session spool-2, joined the
	// spool behind them and must be its session's last.
	var lastOf2 int = -1
	for _, e := range got {
		var in struct {
			Command string `json:"command"`
		}
		_ = json.Unmarshal(e.Tool.Input, &in)
		var step int
		if _, err := fmt.Sscanf(in.Command, "make step-%d", &step); err != nil {
			t.Fatalf("stored command %q", in.Command)
		}
		if e.SessionID == "spool-2" {
			lastOf2 = step
		}
	}
	if lastOf2 != 20 {
		t.Fatalf("session spool-2 ends with step %d: the live event overtook spooled ones", lastOf2)
	}
}

// A payload over the hook's stdin limit (64 MiB) is dropped with a logged
// reason, and the hook still exits 0 with nothing on stdout; a large one
// under the limit (a 5 MiB tool response) still arrives.
func TestHookOversizedStdin(t *testing.T) {
	m := startMnemo(t, "")
	home := t.TempDir()
	huge := bashPayload("big-1", strings.Repeat("x", 65<<20))
	start := time.Now()
	r := runHookProc(t, home, m.url, "PostToolUse", huge, "MNEMO_HOOK_DEBUG=1")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "not recorded") {
		t.Fatalf("oversized payload: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// A hang guard, not a speed claim.
	if took := time.Since(start); took > 60*time.Second {
		t.Fatalf("the hook took %s on an oversized payload", took)
	}
	big := bashPayload("big-2", strings.Repeat("y", 5<<20))
	if r := runHookProc(t, home, m.url, "PostToolUse", big, "MNEMO_HOOK_TIMEOUT=10s"); r.code != 0 || r.stdout != "" {
		t.Fatalf("5 MiB payload: exit %d stdout %q", r.code, r.stdout)
	}
	got := m.stored(t)
	if len(got) != 1 || got[0].SessionID != "big-2" {
		t.Fatalf("stored %d events, want only the 5 MiB one", len(got))
	}
}
