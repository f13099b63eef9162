package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// workerBin is the real worker binary the chaos tests run as child
// processes, so that kill -9 is a real kill.
var workerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mnemo-worker-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "mnemo-worker")
	build := exec.Command("go", "build", "-o", workerBin, "./cmd/mnemo-worker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mnemo-worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func (p *pipeline) spawn(t *testing.T, id string, env ...string) *testkit.Proc {
	t.Helper()
	return testkit.StartProc(t, id, workerBin, append([]string{
		"MNEMO_NATS_URL=" + p.nats.URL(),
		"MNEMO_REDIS_URL=" + p.redis.URL(),
		"MNEMO_STORE=" + p.storeDSN,
		"MNEMO_WORKER_ID=" + id,
		fmt.Sprintf("MNEMO_PARTITIONS=%d", p.layout.Partitions),
		"MNEMO_ACK_WAIT=" + p.layout.AckWait.String(),
		"MNEMO_BACKOFF=none",
		"MNEMO_LINGER=500ms",
		"MNEMO_LOCK_TTL=3s",
		"MNEMO_MEMBER_TTL=2s",
		"MNEMO_REBALANCE=500ms",
		"MNEMO_SHUTDOWN_GRACE=3s",
		"MNEMO_LOG_LEVEL=info",
	}, env...)...)
}

// publishInBackground publishes rounds of every session while the test acts.
func publishInBackground(p *pipeline, sessions []string, perSession int) (progress func() int, wait func()) {
	var (
		mu    sync.Mutex
		round int
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := 0; r < perSession; r++ {
			p.publish(context.Background(), sessions, perSession, 1)
			mu.Lock()
			round++
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() int { mu.Lock(); defer mu.Unlock(); return round }, wg.Wait
}

func waitRound(t *testing.T, progress func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for progress() < n {
		if time.Now().After(deadline) {
			t.Fatalf("publisher stuck before round %d", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func chaosKillWorker(t *testing.T, dsn string) {
	p := newPipeline(t, dsn)
	w1 := p.spawn(t, "w1", "MNEMO_LLM_SIMULATED_LATENCY=0-20ms")
	p.spawn(t, "w2", "MNEMO_LLM_SIMULATED_LATENCY=0-20ms")
	sessions := sessionIDs("k", 50)
	progress, wait := publishInBackground(p, sessions, 40)
	waitRound(t, progress, 15)
	w1.Signal(syscall.SIGKILL)
	wait()
	took := p.waitApplied(90 * time.Second)
	t.Logf("all applied %s after the last publish", took.Round(time.Millisecond))
	p.checkInvariants()
}

// 2 workers, 50 sessions × 40 events, kill -9 one worker mid-run: every
// accepted event applied exactly once, in accept order, and the dead worker's
// sessions resume on the other.
func TestChaosKillWorkerSQLite(t *testing.T) { chaosKillWorker(t, "") }

// The same on the PostgreSQL store that clustered deployments share.
func TestChaosKillWorkerPostgres(t *testing.T) { chaosKillWorker(t, testkit.StartPostgres(t)) }

// Redis restarted (losing every lock, lease and fence) and the NATS server
// restarted on the same store directory, mid-run: same invariants.
func TestChaosRestartRedisAndNATS(t *testing.T) {
	p := newPipeline(t, "")
	p.spawn(t, "w1", "MNEMO_LLM_SIMULATED_LATENCY=0-20ms")
	p.spawn(t, "w2", "MNEMO_LLM_SIMULATED_LATENCY=0-20ms")
	sessions := sessionIDs("r", 30)
	progress, wait := publishInBackground(p, sessions, 30)
	waitRound(t, progress, 8)
	p.redis.Restart()
	waitRound(t, progress, 16)
	p.nats.Restart()
	wait()
	p.waitApplied(120 * time.Second)
	p.checkInvariants()
}

// 3 workers × 200 sessions with random compressor delays (0–200 ms): same
// invariants, and no write ever lands under a stale fence.
func TestChaosThreeWorkersRandomDelays(t *testing.T) {
	p := newPipeline(t, "")
	for i := 1; i <= 3; i++ {
		p.spawn(t, fmt.Sprintf("w%d", i), "MNEMO_LLM_SIMULATED_LATENCY=0-200ms")
	}
	sessions := sessionIDs("d", 200)
	p.publish(context.Background(), sessions, 12, 12)
	p.waitApplied(120 * time.Second)
	p.checkInvariants()
}
