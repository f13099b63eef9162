package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

var (
	hookBinOnce sync.Once
	hookBin     string
	hookBinErr  error
)

// smallHookBin builds the mnemo-hook executable (pkg/hook/cmd/mnemo-hook)
// next to the test's mnemo binary, once.
func smallHookBin(tb testing.TB) string {
	tb.Helper()
	hookBinOnce.Do(func() {
		hookBin = filepath.Join(filepath.Dir(mnemoBin), "mnemo-hook")
		cmd := exec.Command("go", "build", "-o", hookBin, "github.com/mnemo-dev/mnemo/pkg/hook/cmd/mnemo-hook")
		if out, err := cmd.CombinedOutput(); err != nil {
			hookBinErr = err
			tb.Logf("%s", out)
		}
	})
	if hookBinErr != nil {
		tb.Fatalf("build mnemo-hook: %v", hookBinErr)
	}
	return hookBin
}

func downURL(t *testing.T) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	return addr
}

func bashPayload(sid, cmd string) []byte {
	b, _ := json.Marshal(map[string]any{"session_id": sid, "hook_event_name": "PostToolUse", "cwd": "/home/dev/acme",
		"tool_name": "Bash", "tool_use_id": "t-" + cmd, "tool_input": map[string]any{"command": cmd},
		"tool_response": map[string]any{"stdout": "ok"}})
	return b
}

func spoolStatus(t *testing.T, home string) hookcli.SpoolStatus {
	t.Helper()
	out, code := mnemoCmd(t, []string{"MNEMO_HOME=" + home}, "spool", "status", "--json")
	var st hookcli.SpoolStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("spool status: %d %s", code, out)
	}
	return st
}

// `mnemo spool flush` replays what the hooks spooled while Mnemo was down,
// once: a second copy of a delivered event is a duplicate, and an event
// ingest refuses goes to rejected.jsonl instead of blocking the spool.
func TestSpoolFlushReplaysOnceAndSetsRejectsAside(t *testing.T) {
	addr := downURL(t)
	home := t.TempDir()
	env := []string{"MNEMO_HOME=" + home, "MNEMO_URL=http://" + addr, "MNEMO_HOOK_FLUSH_BACKOFF=1h"}
	for _, c := range []string{"make a", "make b", "make c"} {
		if r := runHookProc(t, home, "http://"+addr, "PostToolUse", bashPayload("flush-1", c), "MNEMO_HOOK_FLUSH_BACKOFF=1h"); r.code != 0 || r.stdout != "" {
			t.Fatalf("hook with Mnemo down: %+v", r)
		}
	}
	st := spoolStatus(t, home)
	if st.Count != 3 || st.Oldest.IsZero() {
		t.Fatalf("spool status %+v, want 3 events", st)
	}
	if out, code := mnemoCmd(t, env, "spool", "flush", "--timeout", "500ms"); code == 0 || !strings.Contains(out, "kept 3") {
		t.Fatalf("flush with Mnemo down: %d %s", code, out)
	}
	// Keep a copy of one spooled event, to spool it again after delivery.
	names, _ := filepath.Glob(filepath.Join(home, "spool", "*.json"))
	if len(names) != 3 {
		t.Fatalf("spool files %v", names)
	}
	again, _ := os.ReadFile(names[0])
	// An event ingest will refuse: valid JSON, unknown kind.
	bad := event.Envelope{EventID: event.NewID(), SessionID: "flush-1", Kind: "compile", At: time.Now()}
	badJSON, _ := json.Marshal(bad)
	if err := os.WriteFile(filepath.Join(home, "spool", bad.EventID+".json"), badJSON, 0o600); err != nil {
		t.Fatal(err)
	}

	m := startMnemo(t, addr)
	out, code := mnemoCmd(t, env, "spool", "flush")
	if code != 0 || !strings.Contains(out, "sent 3, already there 0, rejected 1, kept 0") {
		t.Fatalf("flush: %d %s", code, out)
	}
	// Replayed in the order the hooks ran.
	var order []string
	for _, e := range m.stored(t) {
		var in struct {
			Command string `json:"command"`
		}
		_ = json.Unmarshal(e.Tool.Input, &in)
		order = append(order, in.Command)
	}
	if fmt.Sprint(order) != "[make a make b make c]" {
		t.Fatalf("stored in the order %q, want make a, make b, make c", order)
	}
	st = spoolStatus(t, home)
	if st.Count != 0 || st.Rejected != 1 {
		t.Fatalf("after flush %+v", st)
	}
	rej, _ := os.ReadFile(filepath.Join(home, "spool", hookcli.SpoolRejected))
	if !strings.Contains(string(rej), bad.EventID) || !strings.Contains(string(rej), `"field":"kind"`) {
		t.Fatalf("rejected.jsonl: %s", rej)
	}
	// The same event spooled again (a hook that timed out after ingest stored
	// it) is recognised as already there.
	if err := os.WriteFile(names[0], again, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := mnemoCmd(t, env, "spool", "flush"); code != 0 || !strings.Contains(out, "sent 0, already there 1") {
		t.Fatalf("flush of a delivered event: %d %s", code, out)
	}
	if got := m.stored(t); len(got) != 3 {
		t.Fatalf("%d events stored after the duplicate, want 3", len(got))
	}
}

// Ingest up but unable to store (NATS gone): the hook gets 503 and spools;
// nothing is lost or sent twice when NATS is back.
func TestHookSpoolsOn503(t *testing.T) {
	n := testkit.StartNATS(t)
	nc, js := n.Connect(t)
	testkit.Ensure(t, js, testkit.TestLayout())
	srv, err := ingest.New(t.Context(), ingest.Config{PublishTimeout: 300 * time.Millisecond}, ingest.Deps{NC: nc, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	web := httptest.NewServer(srv.Handler())
	t.Cleanup(web.Close)
	home := t.TempDir()
	n.Shutdown()
	if r := runHookProc(t, home, web.URL, "PostToolUse", bashPayload("s503", "make x"), "MNEMO_HOOK_TIMEOUT=2s"); r.code != 0 || r.stdout != "" {
		t.Fatalf("hook on 503: %+v", r)
	}
	if st := spoolStatus(t, home); st.Count != 1 {
		t.Fatalf("spool %+v, want the event kept", st)
	}
	n.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := mnemoCmd(t, []string{"MNEMO_HOME=" + home, "MNEMO_URL=" + web.URL}, "spool", "flush", "--timeout", "2s")
		if strings.Contains(out, "sent 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flush after NATS came back: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s, err := js.Stream(context.Background(), bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream holds %v events (%v), want 1", info.State.Msgs, err)
	}
}

// mnemo-hook, the small executable install prefers, keeps the same contract
// as `mnemo hook`: exit 0, nothing on stdout, the event arrives; install
// picks it when it sits next to mnemo.
func TestSmallHookBinary(t *testing.T) {
	bin := smallHookBin(t)
	m := startMnemo(t, "")
	home := t.TempDir()
	cmd := exec.Command(bin, "hook", "claude-code", "PostToolUse")
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL="+m.url)
	cmd.Stdin = bytes.NewReader(bashPayload("small-1", "make small"))
	out, err := cmd.Output()
	if err != nil || len(out) != 0 {
		t.Fatalf("mnemo-hook: %v stdout %q", err, out)
	}
	got := m.stored(t)
	if len(got) != 1 || got[0].SessionID != "small-1" || got[0].Tool == nil || got[0].Tool.Name != "Bash" {
		t.Fatalf("stored %+v", got)
	}
	// Bad arguments still exit 0 for the hook (never break the agent).
	cmd = exec.Command(bin, "hook", "claude-code")
	cmd.Stdin = strings.NewReader("{}")
	if out, err := cmd.Output(); err != nil || len(out) != 0 {
		t.Fatalf("mnemo-hook without an event: %v %q", err, out)
	}

	settings := filepath.Join(t.TempDir(), "settings.json")
	if out, code := mnemoCmd(t, []string{"MNEMO_HOME=" + home}, "install", "claude-code", "--settings", settings, "--no-mcp"); code != 0 {
		t.Fatalf("install: %s", out)
	}
	b, _ := os.ReadFile(settings)
	if !strings.Contains(string(b), bin+" hook claude-code PostToolUse") {
		t.Fatalf("install did not pick mnemo-hook next to mnemo:\n%s", b)
	}
	if out, code := mnemoCmd(t, []string{"MNEMO_HOME=" + home, "MNEMO_URL=" + m.url}, "doctor", "--settings", settings); code != 0 {
		t.Fatalf("doctor with mnemo-hook installed: %d\n%s", code, out)
	}
}
