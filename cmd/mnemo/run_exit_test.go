package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// startRun starts the real `mnemo run` on a free port with its own home and
// the given Redis, the environment cleared of MNEMO_* variables but env.
func startRunWithRedis(t *testing.T, redisURL string, env ...string) (*testkit.Proc, string) {
	t.Helper()
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MNEMO_") {
			base = append(base, kv)
		}
	}
	base = append(base, "MNEMO_HOME="+t.TempDir(), "MNEMO_ADDR=127.0.0.1:0", "MNEMO_REDIS_URL="+redisURL, "MNEMO_LOG_LEVEL=info")
	p := testkit.StartExact(t, "mnemo-run", mnemoBin, []string{"run"}, append(base, env...))
	addr := p.WaitLog(t, "mnemo is running", 120*time.Second)
	waitUp(t, p, "http://"+addr+"/readyz", 60*time.Second)
	return p, "http://" + addr
}

// exitCode waits for p to end and returns its exit status.
func exitCode(t *testing.T, p *testkit.Proc, within time.Duration) int {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(within):
		t.Fatalf("%s still running after %s:\n%s", p.ID, within, tail(p.Output(), 20))
	}
	return p.Cmd.ProcessState.ExitCode() // set by the Wait that closed done
}

// When Redis goes away for longer than MNEMO_OUTAGE_LIMIT, the worker inside
// `mnemo run` ends for good: the process stops the rest and exits non-zero,
// its last line the one-line reason.
func TestRunExitsWhenItsWorkerFailsForGood(t *testing.T) {
	rds := testkit.StartRedis(t)
	// The worker checks Redis every 250ms, the reaper every 3s: the worker
	// is the component that crosses the limit first.
	p, _ := startRunWithRedis(t, rds.URL(), "MNEMO_OUTAGE_LIMIT=2s", "MNEMO_REBALANCE=250ms", "MNEMO_REAPER_TICK=3s")
	p.WaitLog(t, `"msg":"worker started"`, 60*time.Second)
	rds.Kill()
	if code := exitCode(t, p, 90*time.Second); code == 0 {
		t.Fatalf("mnemo run exited 0 after its worker failed:\n%s", tail(p.Output(), 10))
	}
	last := tail(p.Output(), 1)
	if !regexp.MustCompile(`^mnemo run: (worker|reaper): .*Redis unreachable for \S+, longer than MNEMO_OUTAGE_LIMIT \(2s\)`).MatchString(last) {
		t.Fatalf("last line %q, want the one-line reason", last)
	}
	if !strings.HasPrefix(last, "mnemo run: worker: ") {
		t.Logf("the reaper crossed the limit before the worker: %q", last)
	}
	if !strings.Contains(p.Output(), `"msg":"stopped"`) {
		t.Fatalf("the rest was not stopped cleanly:\n%s", tail(p.Output(), 10))
	}
}

// A Redis restart shorter than MNEMO_OUTAGE_LIMIT is ridden out: `mnemo
// run` keeps running and an event posted afterwards is processed.
func TestRunCarriesOnThroughARedisRestart(t *testing.T) {
	rds := testkit.StartRedis(t)
	p, base := startRunWithRedis(t, rds.URL(), "MNEMO_OUTAGE_LIMIT=60s", "MNEMO_REBALANCE=250ms")
	p.WaitLog(t, `"msg":"worker started"`, 60*time.Second)
	rds.Kill()
	time.Sleep(3 * time.Second) // the worker and the reaper see it down
	rds.Start()
	session := "redis-restart-" + strings.ToLower(event.NewID())
	prompt := "after the redis restart " + event.NewID()
	body, _ := json.Marshal(map[string]string{"session_id": session, "cwd": "/home/dev/acme-api",
		"hook_event_name": "UserPromptSubmit", "prompt": prompt})
	if code, b := authPost(t, base+"/v1/hooks/claude-code/UserPromptSubmit", "", body); code/100 != 2 {
		t.Fatalf("ingest after the restart: %d %s", code, b)
	}
	waitPrompt(t, base, "", session, prompt)
	select {
	case <-p.Done():
		t.Fatalf("mnemo run ended through a Redis restart:\n%s", tail(p.Output(), 10))
	default:
	}
	if code, _ := authGet(t, base+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz after the restart: %d", code)
	}
}
