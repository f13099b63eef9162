package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// claudeHome gives the Claude Code CLI a home of its own (no login or
// settings of the developer's) and clears the variables that would choose
// for the test. It returns the real CLI's path.
func claudeHome(t *testing.T) (cli, home string) {
	cli = testkit.ClaudeCLI(t) // installs with the real HOME's cache
	home = t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"CLAUDE_CONFIG_DIR", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "MNEMO_OBSERVER"} {
		t.Setenv(v, "")
		os.Unsetenv(v) // the CLI takes an empty CLAUDE_CONFIG_DIR as set
	}
	return cli, home
}

// observerFake is the Messages API answering in the observer format, each
// answer held for hold (until the request ends) when hold is set.
func observerFake(t *testing.T, hold bool, inFlight, most, answered *atomic.Int64) *testkit.Anthropic {
	return testkit.StartAnthropic(t, func(r *http.Request, req testkit.AnthropicRequest) testkit.AnthropicAnswer {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if hold {
			<-r.Context().Done()
			return testkit.AnthropicAnswer{}
		}
		answered.Add(1)
		return testkit.AnthropicAnswer{Text: testkit.ObserverAnswer(req), OutputTokens: 17}
	})
}

// The real Claude Code CLI as the pipeline's compressor: the observations and
// summaries its model wrote are stored, one per tool use in accept order, no
// session but the published ones exists, and every call's tokens are counted.
func TestPipelineWithClaudeCode(t *testing.T) {
	cli, home := claudeHome(t)
	var inFlight, most, answered atomic.Int64
	fake := observerFake(t, false, &inFlight, &most, &answered)
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: filepath.Join(home, "observer"), BaseURL: fake.URL,
		APIKey: "sk-test", Timeout: 3 * time.Minute, Backoff: 100 * time.Millisecond, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, "")
	rdb := p.redis.Client(t)
	startWorker(t, p, "w1", llm.WithBudget(m, rdb, 1_000_000_000, slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	sessions := sessionIDs("cc", 3)
	p.publish(ctx, sessions, 6, 6)
	p.waitApplied(5 * time.Minute)
	p.checkInvariants()
	for _, sid := range sessions {
		obs, err := p.store.SessionObservations(ctx, sid)
		if err != nil || len(obs) != 3 || obs[0].Title != "Claude saw Read" {
			t.Fatalf("observations of %s: %v %+v", sid, err, obs)
		}
		sums, err := p.store.SessionSummaries(ctx, sid)
		if err != nil || len(sums) != 1 || sums[0].Request != "what the user asked" {
			t.Fatalf("summaries of %s: %v %+v", sid, err, sums)
		}
	}
	all, err := p.store.Sessions(ctx, store.SessionFilter{Limit: 100})
	if err != nil || len(all) != len(sessions) {
		t.Fatalf("sessions in Mnemo: %v %+v, want only the %d published", err, all, len(sessions))
	}
	c, err := p.store.Counts(ctx, "", time.Now().Add(-time.Hour))
	if err != nil || c.InputTokens == 0 || c.OutputTokens != 17*answered.Load() || c.CostUSD <= 0 {
		t.Fatalf("usage %+v after %d answered calls (%v)", c, answered.Load(), err)
	}
	var budgeted int64
	for _, sid := range sessions {
		n, _ := rdb.Get(ctx, llm.BudgetKey("proj-"+sid[len(sid)-1:], time.Now())).Int64()
		budgeted += n
	}
	if budgeted != c.InputTokens+c.OutputTokens {
		t.Fatalf("%d tokens counted toward the daily budget, %d recorded", budgeted, c.InputTokens+c.OutputTokens)
	}
	if most.Load() > 2 {
		t.Fatalf("%d model calls at once, limit 2", most.Load())
	}
}

// childrenOf lists the live processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// A worker killed with -9 while its Claude Code processes wait on the model:
// no claude process survives it (parent-death signal), and another worker
// redoes the lost calls, so no observation or summary is lost or doubled.
func TestWorkerKilledMidClaudeCodeCall(t *testing.T) {
	cli, home := claudeHome(t)
	var slowIn, slowMost, slowAnswered atomic.Int64
	slow := observerFake(t, true, &slowIn, &slowMost, &slowAnswered)
	var fastIn, fastMost, fastAnswered atomic.Int64
	fast := observerFake(t, false, &fastIn, &fastMost, &fastAnswered)
	p := newPipeline(t, "")
	w1 := p.spawn(t, "w1", "MNEMO_LLM_PROVIDER=claude-code", "MNEMO_CLAUDE_PATH="+cli, "MNEMO_LLM_BASE_URL="+slow.URL,
		"MNEMO_LLM_API_KEY=sk-test", "MNEMO_LLM_CONCURRENCY=2", "MNEMO_HOME="+filepath.Join(home, "w1"))
	ctx := context.Background()
	p.publish(ctx, sessionIDs("kc", 3), 6, 6)
	deadline := time.Now().Add(3 * time.Minute)
	for slowIn.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d model calls in flight after 3 minutes, want 2", slowIn.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	clis := childrenOf(w1.Cmd.Process.Pid)
	if len(clis) != 2 {
		t.Fatalf("worker runs %d processes %v with 2 calls in flight, want 2 claude processes", len(clis), clis)
	}
	for _, pid := range clis {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.Contains(string(cmdline), "mnemo-observer") {
			t.Fatalf("child %d is not the observer's claude: %q", pid, cmdline)
		}
	}
	w1.Signal(syscall.SIGKILL)
	for _, pid := range clis {
		testkit.WaitFor(t, 15*time.Second, fmt.Sprintf("claude process %d to end with its worker's kill -9", pid), func() bool { return !testkit.Alive(pid) })
	}
	m, err := llm.New(llm.Config{Provider: llm.ClaudeCode, CLIPath: cli, WorkDir: filepath.Join(home, "w2"), BaseURL: fast.URL,
		APIKey: "sk-test", Timeout: 3 * time.Minute, Backoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, p, "w2", m)
	p.waitApplied(5 * time.Minute)
	p.checkInvariants()
	if slowAnswered.Load() != 0 || fastAnswered.Load() == 0 || slowMost.Load() > 2 {
		t.Fatalf("slow answered %d (at most %d at once, limit 2), fast answered %d", slowAnswered.Load(), slowMost.Load(), fastAnswered.Load())
	}
}
