package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// The lean mnemo-hook binary the hooks run cuts what is over a limit rather
// than losing the event: a 5 MiB tool response arrives as a truncation
// marker (event.TruncationMarker) with its original size, a prompt over
// event.DefaultLimits.Prompt keeps its head and a note of the cut. A payload
// over the stdin limit (64 MiB) is dropped with the reason logged
// (MNEMO_HOOK_DEBUG), and the hook exits 0 with nothing on stdout.
func TestLeanHookCutsOversizedStdin(t *testing.T) {
	bin := smallHookBin(t)
	m := startMnemo(t, "")
	home := t.TempDir()
	run := func(name string, payload []byte, env ...string) hookResult {
		t.Helper()
		return runHookBin(t, bin, home, m.url, name, payload, append([]string{"MNEMO_HOOK_TIMEOUT=20s"}, env...)...)
	}

	resp := strings.Repeat("r", 5<<20)
	tool, _ := json.Marshal(map[string]any{"session_id": "cut-1", "hook_event_name": "PostToolUse", "cwd": "/home/dev/acme",
		"tool_name": "Bash", "tool_use_id": "t-cut", "tool_input": map[string]any{"command": "cat big.log"},
		"tool_response": map[string]any{"stdout": resp}})
	if r := run("PostToolUse", tool); r.code != 0 || r.stdout != "" {
		t.Fatalf("5 MiB tool response: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	prompt := strings.Repeat("p", event.DefaultLimits.Prompt+100<<10)
	up, _ := json.Marshal(map[string]any{"session_id": "cut-2", "hook_event_name": "UserPromptSubmit", "cwd": "/home/dev/acme",
		"prompt": prompt})
	if r := run("UserPromptSubmit", up); r.code != 0 || r.stdout != "" {
		t.Fatalf("oversized prompt: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	huge := bashPayload("cut-3", strings.Repeat("x", 65<<20))
	start := time.Now()
	if r := run("PostToolUse", huge, "MNEMO_HOOK_DEBUG=1"); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "not recorded") {
		t.Fatalf("65 MiB payload: exit %d stdout %q stderr %q; want exit 0, nothing on stdout, the reason logged", r.code, r.stdout, r.stderr)
	}
	// A hang guard, not a speed claim.
	if took := time.Since(start); took > 60*time.Second {
		t.Fatalf("the hook took %s on a 65 MiB payload", took)
	}

	got := m.stored(t)
	if len(got) != 2 || got[0].SessionID != "cut-1" || got[1].SessionID != "cut-2" {
		t.Fatalf("stored %d events, want the cut tool use and the cut prompt", len(got))
	}
	if tu := got[0].Tool; tu == nil || !tu.Truncated || len(tu.Response) > event.DefaultLimits.ToolResponse {
		t.Fatalf("tool use stored without its response cut to %d bytes: %+v", event.DefaultLimits.ToolResponse, tu)
	}
	var mark event.TruncationMarker
	if err := json.Unmarshal(got[0].Tool.Response, &mark); err != nil || !mark.Truncated || mark.OriginalBytes < len(resp) || !strings.HasPrefix(mark.Head, `{"stdout":"rrr`) {
		t.Fatalf("tool response is not a truncation marker of the original: %v %+v", err, mark)
	}
	p := got[1].Prompt
	if len(p) > event.DefaultLimits.Prompt || !strings.HasPrefix(p, "ppp") || !strings.Contains(p, "[mnemo: truncated") {
		t.Fatalf("prompt stored %d bytes ending %q: want at most %d with a note of the cut", len(p), p[max(0, len(p)-60):], event.DefaultLimits.Prompt)
	}
}
