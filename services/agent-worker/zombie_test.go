package worker_test

import (
	"bufio"
	"context"
	"database/sql"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// A zombie worker: w1 is stopped (SIGSTOP) while it holds sessions in the
// middle of its compressor calls, past its lock TTL; w2 takes them over and
// applies everything. Continued (SIGCONT), w1 finishes what it was doing and
// writes under its old fence: the store refuses it, w1 counts it in
// mnemo_worker_stale_writes_refused_total, and nothing is lost or doubled.
func TestZombieWorkerWritesAreRefused(t *testing.T) {
	p := newPipeline(t, "")
	w1 := p.spawn(t, "w1", "MNEMO_LLM_SIMULATED_LATENCY=4s", "MNEMO_WORKER_ADDR=127.0.0.1:0")
	ops := w1.WaitLog(t, "worker listening", 30*time.Second)
	ctx := context.Background()
	sessions := sessionIDs("z", 4)
	p.publish(ctx, sessions, 6, 6)
	rdb := p.redis.Client(t)
	holds := func() bool {
		for _, sid := range sessions {
			if v, err := rdb.Get(ctx, session.LockKey(sid)).Result(); err != nil || !strings.HasPrefix(v, "w1/") {
				return false
			}
		}
		return true
	}
	testkit.WaitFor(t, 30*time.Second, "w1 to hold every session's lock", holds)
	stopOutsideCommit(t, w1.Cmd.Process, p.storeDSN)
	t.Cleanup(func() { _ = w1.Cmd.Process.Signal(syscall.SIGCONT) })
	for _, sid := range sessions {
		if c, err := p.store.Cursor(ctx, sid); err == nil && c.LastSeq >= p.sessions[sid].lastSeq {
			t.Fatalf("session %s fully applied before w1 stopped; the test holds nothing", sid)
		}
	}
	stopped := time.Now()
	p.spawn(t, "w2")
	p.waitApplied(90 * time.Second)
	// w1 renews its 3s locks every second, so at the stop each has at least
	// 2s left: a takeover sooner would steal a live lock.
	if took := time.Since(stopped); took < 2*time.Second {
		t.Fatalf("w2 applied everything %s after w1 stopped, within the 2s left of w1's locks (TTL 3s, renewed every 1s)", took)
	}
	fences := map[string]int64{}
	for _, sid := range sessions {
		c, err := p.store.Cursor(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		fences[sid] = c.Fence
	}

	if err := w1.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 60*time.Second, "w1 to count a refused stale write", func() bool {
		return metric(ops, "mnemo_worker_stale_writes_refused_total") >= 1
	})
	total := 0
	for _, sl := range p.sessions {
		total += len(sl.tools)
	}
	observations := func() int {
		n := 0
		for _, sid := range sessions {
			obs, err := p.store.SessionObservations(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			n += len(obs)
		}
		return n
	}
	if n := testkit.Settled(t, "observations", total, 30*time.Second, 3*time.Second, observations); n != total {
		t.Fatalf("%d observations after w1 came back, want %d", n, total)
	}
	p.checkInvariants()
	t.Logf("w1 refused %v stale writes; fences after takeover %v", metric(ops, "mnemo_worker_stale_writes_refused_total"), fences)
}

// stopOutsideCommit stops proc (SIGSTOP) at a moment it holds no SQLite
// write lock on the store at dsn: the zombie under test is one stopped in
// its compressor calls. A process stopped inside a commit would block every
// writer of the file until it runs again, which SQLite's single writer
// makes so and which is not what this test is about.
func stopOutsideCommit(t *testing.T, proc *os.Process, dsn string) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn+"?_pragma=busy_timeout(200)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 50 {
		if err := proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin()
		if err == nil {
			_ = tx.Rollback()
			return
		}
		if err := proc.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatal("the worker held the store's write lock at each of 50 stops")
}

// metric reads one unlabelled counter from a /metrics endpoint (-1 when it
// cannot).
func metric(addr, name string) float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
