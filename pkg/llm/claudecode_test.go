package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// isolateClaude gives the CLI a home of its own (no login, no settings of
// the developer's) and clears the variables that would choose for the test.
func isolateClaude(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"CLAUDE_CONFIG_DIR", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
		"MNEMO_LLM_PROVIDER", "MNEMO_LLM_MODEL", "MNEMO_LLM_DAILY_TOKENS", "MNEMO_CLAUDE_PATH", "MNEMO_LLM_API_KEY", "MNEMO_LLM_BASE_URL", "MNEMO_OBSERVER"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)  // the CLI takes an empty CLAUDE_CONFIG_DIR as set
	}
	return home
}

// The real Claude Code CLI as the compressor, against a streaming fake of the
// Messages API: the observer's instructions are its system prompt, it is
// offered no tools, one request per call, the answer parsed as for any
// provider, usage and cost counted; the conversation state travels in the
// prompt; and the observer's own run neither fires the user's hooks (Mnemo's
// real hook binary among them) nor leaves a session file.
func TestClaudeCodeCompressor(t *testing.T) {
	cli := testkit.ClaudeCLI(t)
	hookBin := filepath.Join(t.TempDir(), "mnemo-hook")
	if out, err := exec.Command("go", "build", "-o", hookBin, "github.com/mnemo-dev/mnemo/pkg/hook/cmd/mnemo-hook").CombinedOutput(); err != nil {
		t.Fatalf("build mnemo-hook: %v\n%s", err, out)
	}
	home := isolateClaude(t)
	fake := testkit.StartAnthropic(t, func(_ *http.Request, req testkit.AnthropicRequest) testkit.AnthropicAnswer {
		return testkit.AnthropicAnswer{Text: testkit.ObserverAnswer(req), OutputTokens: 23}
	})

	// The user's settings run Mnemo's real hook on every event, and a
	// sentinel that records any hook run at all.
	ingest, posts := testkit.CountPosts(t)
	sentinel := filepath.Join(home, "hooks-ran")
	hooks := map[string]any{}
	for _, ev := range []string{"SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"} {
		hooks[ev] = []any{map[string]any{"hooks": []any{
			map[string]any{"type": "command", "command": hookBin + " hook claude-code " + ev},
			map[string]any{"type": "command", "command": "echo " + ev + " >> " + sentinel},
		}}}
	}
	settings, _ := json.Marshal(map[string]any{"hooks": hooks})
	if err := os.MkdirAll(filepath.Join(home, ".claude"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".claude", "settings.json"), settings, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MNEMO_URL", ingest.URL)
	t.Setenv("MNEMO_HOME", filepath.Join(home, "mnemo"))
	t.Setenv("ANTHROPIC_API_KEY", "sk-test-user-key")
	t.Setenv("ANTHROPIC_BASE_URL", fake.URL)

	// Control: the same CLI run as a user would fires those hooks, so the
	// checks below can fail.
	ctl := exec.Command(cli, "-p", "--output-format", "json", "--model", "haiku", "--tools", "")
	ctl.Dir, ctl.Stdin = t.TempDir(), strings.NewReader("hello")
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("control run: %v\n%s", err, out)
	}
	if _, err := os.Stat(sentinel); err != nil || posts.Load() == 0 {
		t.Fatalf("control run: hooks did not fire (sentinel %v, %d posts): the test's settings are not live", err, posts.Load())
	}
	_ = os.Remove(sentinel)
	posts.Store(0)
	before := len(fake.Requests())

	work := filepath.Join(home, "mnemo", "observer")
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: work, Timeout: 2 * time.Minute, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "claude-code/haiku" {
		t.Fatalf("name %q", m.Name())
	}
	ctx := context.Background()
	res, err := m.Observe(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Observations) != 2 || res.Observations[0].Title != "Claude saw Bash" || res.Observations[1].SourceEventIDs[0] != "ev2" {
		t.Fatalf("observations %+v", res.Observations)
	}
	reqs := fake.Requests()[before:]
	if len(reqs) != 1 {
		t.Fatalf("%d model requests for one observation call, want 1 (no title or other side calls)", len(reqs))
	}
	r := reqs[0]
	if !r.Stream || r.Tools != 0 || !strings.Contains(r.Model, "haiku") || !strings.Contains(r.System, "You are Mnemo's memory observer") ||
		!strings.Contains(r.LastUser(), `"event_id":"ev1"`) {
		t.Fatalf("request: stream %v, %d tools, model %s, system %q…, prompt %q…", r.Stream, r.Tools, r.Model, clipTest(r.System, 200), clipTest(r.LastUser(), 200))
	}
	if len(res.Usage) != 1 || res.Usage[0].Provider != llm.ClaudeCode || res.Usage[0].InputTokens == 0 || res.Usage[0].OutputTokens != 23 || res.Usage[0].CostUSD <= 0 {
		t.Fatalf("usage %+v", res.Usage)
	}

	// The stop: the earlier exchange travels in the prompt (state from Mnemo's
	// store, not the CLI's session files).
	sum, err := m.Summarize(ctx, llm.SummarizeRequest{Session: request().Session, LastAssistantMessage: "done", State: res.State})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Summary == nil || sum.Summary.Request != "what the user asked" || len(sum.Usage) != 1 || sum.Usage[0].OutputTokens != 23 {
		t.Fatalf("summary %+v usage %+v", sum.Summary, sum.Usage)
	}
	last := fake.Requests()[len(fake.Requests())-1].LastUser()
	if !strings.Contains(last, `"event_id":"ev1"`) || !strings.Contains(last, "Claude saw Bash") || !strings.Contains(last, "The session stopped.") {
		t.Fatalf("the summary's prompt lacks the earlier exchange: %q", clipTest(last, 400))
	}

	if _, err := os.Stat(sentinel); err == nil {
		b, _ := os.ReadFile(sentinel)
		t.Fatalf("the observer's run fired the user's hooks: %q", b)
	}
	if posts.Load() != 0 {
		t.Fatalf("the observer's run reached Mnemo's ingest %d times", posts.Load())
	}
	var sessions []string
	_ = filepath.Walk(filepath.Join(home, ".claude", "projects"), func(p string, _ os.FileInfo, _ error) error {
		if strings.HasSuffix(p, ".jsonl") {
			sessions = append(sessions, p)
		}
		return nil
	})
	// The control run wrote one; the observer's runs none.
	if len(sessions) != 1 || strings.Contains(sessions[0], "observer") {
		t.Fatalf("session files %v: want only the control run's", sessions)
	}
}

// An API error the CLI reports is classified as for the HTTP providers: a 4xx
// other than 429 is permanent (a dead letter), without more tries.
func TestClaudeCodePermanentError(t *testing.T) {
	cli := testkit.ClaudeCLI(t)
	isolateClaude(t)
	var calls atomic.Int64
	fake := testkit.StartAnthropic(t, func(_ *http.Request, req testkit.AnthropicRequest) testkit.AnthropicAnswer {
		calls.Add(1)
		return testkit.AnthropicAnswer{Status: http.StatusBadRequest}
	})
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: t.TempDir(), BaseURL: fake.URL, APIKey: "sk-test",
		Attempts: 3, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Observe(context.Background(), request())
	if !errors.Is(err, llm.ErrPermanent) || calls.Load() != 1 {
		t.Fatalf("err %v after %d calls: want a permanent failure after one", err, calls.Load())
	}
}

// runningFakeClaude is fakeClaude in a fresh directory, with the claude
// configuration isolated, each run sleeping sleep seconds and logging to log.
func runningFakeClaude(t *testing.T, sleep string) (cli, log string) {
	t.Helper()
	isolateClaude(t)
	dir := t.TempDir()
	cli = fakeClaude(t, dir)
	log = filepath.Join(dir, "runs.log")
	t.Setenv("FAKE_CLAUDE_LOG", log)
	t.Setenv("FAKE_CLAUDE_SLEEP", sleep)
	return cli, log
}

// fakeClaude writes an executable standing in for the claude CLI: `auth
// status` reports a login when the file $FAKE_CLAUDE_LOGIN exists; a run logs
// "start"/"end" lines to $FAKE_CLAUDE_LOG around a sleep of
// $FAKE_CLAUDE_SLEEP seconds (starting a child that sleeps as long, whose pid
// it logs too) and prints a result.
func fakeClaude(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "claude")
	script := `#!/bin/sh
if [ "$1" = auth ]; then
	if [ -e "$FAKE_CLAUDE_LOGIN" ]; then echo '{"loggedIn": true, "authMethod": "claude.ai"}'; exit 0; fi
	echo '{"loggedIn": false, "authMethod": "none"}'; exit 1
fi
cat >/dev/null
echo "start $$" >> "$FAKE_CLAUDE_LOG"
sleep "${FAKE_CLAUDE_SLEEP:-0}" &
echo "child $!" >> "$FAKE_CLAUDE_LOG"
wait
echo "end $$" >> "$FAKE_CLAUDE_LOG"
echo '{"type":"result","subtype":"success","is_error":false,"result":"{\"observations\":[]}","total_cost_usd":0.001,"usage":{"input_tokens":10,"output_tokens":2},"modelUsage":{"claude-haiku-4-5":{"inputTokens":10,"outputTokens":2,"cacheReadInputTokens":0,"cacheCreationInputTokens":0}}}'
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// A burst of calls never runs more CLI processes than the limit, and reaches
// it.
func TestClaudeCodeConcurrencyLimit(t *testing.T) {
	cli, log := runningFakeClaude(t, "0.3")
	const limit, burst = 3, 12
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: t.TempDir(), Concurrency: limit, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Observe(context.Background(), request())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	running, most, runs := 0, 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch strings.Fields(line)[0] {
		case "start":
			running++
			runs++
			most = max(most, running)
		case "end":
			running--
		}
	}
	if runs != burst || most != limit {
		t.Fatalf("%d runs, at most %d at once: want %d runs, %d at once", runs, most, burst, limit)
	}
}

// A call that outlives its timeout, or whose caller gives up, leaves no
// process behind: the CLI and whatever it started die as a group.
func TestClaudeCodeTimeoutKillsProcessGroup(t *testing.T) {
	cli, log := runningFakeClaude(t, "120")
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: t.TempDir(), Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = m.Observe(context.Background(), request())
	if err == nil || !strings.Contains(err.Error(), "no answer within 1s") || time.Since(start) > 30*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(time.Second); cancel() }()
	patient, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: t.TempDir(), Timeout: time.Minute, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := patient.Observe(ctx, request()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	b, _ := os.ReadFile(log)
	var pids []int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var what string
		var pid int
		if _, err := fmt.Sscan(line, &what, &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) != 4 {
		t.Fatalf("log %q: want two runs, each with its child", b)
	}
	for _, pid := range pids {
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("process %d to end with its call", pid), func() bool { return !testkit.Alive(pid) })
	}
}

func clipTest(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
