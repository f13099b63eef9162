package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/services/query"
)

// hook runs the real mnemo-hook binary for one event, as Claude Code runs
// it, with its own hook home (spool and hook state).
func (r *localRun) hook(t *testing.T, hookHome, event string, payload []byte, env ...string) {
	t.Helper()
	cmd := exec.Command(smallHookBin(t), "hook", "claude-code", event)
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+hookHome, "MNEMO_URL="+r.url, "MNEMO_HOOK_TIMEOUT=10s",
		"MNEMO_HOOK_FLUSH_BACKOFF=50ms", "CLAUDE_PROJECT_DIR=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mnemo-hook %s: %v\n%s", event, err, out)
	}
}

// post sends a raw hook payload to /v1/hooks/claude-code/{event}.
func (r *localRun) post(t *testing.T, event string, payload []byte) {
	t.Helper()
	postJSON(t, r.url+"/v1/hooks/claude-code/"+event, payload, http.StatusAccepted, http.StatusOK)
}

// getJSON reads a query route into v; it reports the status.
func (r *localRun) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get(r.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// waitSummarized waits until the session has n summaries: its Stop was
// applied, and with it every earlier event of the session (per-session order).
func (r *localRun) waitSummarized(t *testing.T, sid string, n int) query.SessionDetail {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var d query.SessionDetail
		if r.getJSON(t, "/v1/sessions/"+sid, &d) == http.StatusOK && len(d.Summaries) >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: %d summaries after 2 minutes, want %d (%+v)", sid, len(d.Summaries), n, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fixtureFor reads a Claude Code fixture and gives it another session ID
// (and, when cwd is not empty, another working directory).
func fixtureFor(t *testing.T, name, sid, cwd string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["session_id"] = sid
	if cwd != "" {
		m["cwd"] = cwd
	}
	out, _ := json.Marshal(m)
	return out
}

// A session begun in /home/dev/acme-api keeps project acme-api when its Stop
// comes from /home/dev/acme-api/src, by the hook binary and by the HTTP hook
// endpoint alike: the session, its summary and the project's context.
func TestSessionKeepsItsProject(t *testing.T) {
	r := startRun(t)
	hookHome := t.TempDir()
	paths := map[string]func(event string, payload []byte){
		"hook":     func(e string, p []byte) { r.hook(t, hookHome, e, p) },
		"endpoint": func(e string, p []byte) { r.post(t, e, p) },
	}
	for path, send := range paths {
		sid := "keeps-project-" + path
		send("SessionStart", fixtureFor(t, "SessionStart.json", sid, ""))
		send("UserPromptSubmit", fixtureFor(t, "UserPromptSubmit.json", sid, ""))
		send("PostToolUse", fixtureFor(t, "PostToolUse-Read.json", sid, ""))
		send("Stop", fixtureFor(t, "Stop.json", sid, "")) // cwd /home/dev/acme-api/src
		d := r.waitSummarized(t, sid, 1)
		if d.Session.Project != "acme-api" {
			t.Errorf("%s: session moved to project %q, want acme-api", path, d.Session.Project)
		}
		for _, s := range d.Summaries {
			if s.Project != "acme-api" {
				t.Errorf("%s: summary %d filed under %q, want acme-api", path, s.ID, s.Project)
			}
		}
		for _, o := range d.Observations {
			if o.Project != "acme-api" {
				t.Errorf("%s: observation %d filed under %q, want acme-api", path, o.ID, o.Project)
			}
		}
	}
	var list struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	if r.getJSON(t, "/v1/sessions?project=src", &list); len(list.Sessions) != 0 {
		t.Errorf("project src has %d sessions, want none", len(list.Sessions))
	}
	var c struct {
		Context string `json:"context"`
	}
	r.getJSON(t, "/v1/context?project="+url.QueryEscape("acme-api"), &c)
	if n := strings.Count(c.Context, "\nS"); n < 2 {
		t.Errorf("acme-api's context lists %d summaries, want both sessions':\n%s", n, c.Context)
	}
}

// One observation per tool use and one prompt per prompt, whatever path
// brought them: 22 runs of mnemo-hook with one PostToolUse payload, and the
// endpoint given PostToolUse.json and PostToolUse-Bash.json (one
// tool_use_id) and the same UserPromptSubmit twice.
func TestOneObservationPerToolUse(t *testing.T) {
	r := startRun(t)
	hookHome := t.TempDir()

	sid := "once-hook"
	r.hook(t, hookHome, "SessionStart", fixtureFor(t, "SessionStart.json", sid, ""))
	r.hook(t, hookHome, "UserPromptSubmit", fixtureFor(t, "UserPromptSubmit.json", sid, ""))
	tool := fixtureFor(t, "PostToolUse.json", sid, "")
	for i := 0; i < 22; i++ {
		r.hook(t, hookHome, "PostToolUse", tool)
	}
	r.hook(t, hookHome, "Stop", fixtureFor(t, "Stop.json", sid, ""))
	if d := r.waitSummarized(t, sid, 1); len(d.Observations) != 1 || len(d.Prompts) != 1 {
		t.Errorf("22 hook runs of one tool use: %d observations, %d prompts; want 1 and 1", len(d.Observations), len(d.Prompts))
	}

	sid = "once-endpoint"
	r.post(t, "SessionStart", fixtureFor(t, "SessionStart.json", sid, ""))
	r.post(t, "UserPromptSubmit", fixtureFor(t, "UserPromptSubmit.json", sid, ""))
	r.post(t, "UserPromptSubmit", fixtureFor(t, "UserPromptSubmit.json", sid, ""))
	r.post(t, "PostToolUse", fixtureFor(t, "PostToolUse.json", sid, ""))
	r.post(t, "PostToolUse", fixtureFor(t, "PostToolUse-Bash.json", sid, ""))
	r.post(t, "PostToolUse", fixtureFor(t, "PostToolUse.json", sid, ""))
	r.post(t, "Stop", fixtureFor(t, "Stop.json", sid, ""))
	d := r.waitSummarized(t, sid, 1)
	if len(d.Observations) != 1 || len(d.Prompts) != 1 || d.Session.PromptCount != 1 {
		t.Errorf("endpoint: %d observations, %d prompts, prompt count %d; want 1, 1, 1",
			len(d.Observations), len(d.Prompts), d.Session.PromptCount)
	}
}
