package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

func TestLockIsExclusiveAndFencesRise(t *testing.T) {
	r := testkit.StartRedis(t)
	locks := session.NewLocks(r.Client(t), 5*time.Second)
	ctx := context.Background()

	f1, err := locks.Acquire(ctx, "s1", "w1", "w1/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locks.Acquire(ctx, "s1", "w2", "w2/b", 0); !errors.Is(err, session.ErrLockHeld) {
		t.Fatalf("second owner got %v, want ErrLockHeld", err)
	}
	if err := locks.Renew(ctx, "s1", "w2/b"); !errors.Is(err, session.ErrLockLost) {
		t.Fatalf("renew by non-owner: %v", err)
	}
	if err := locks.Release(ctx, "s1", "w1", "w1/a"); err != nil {
		t.Fatal(err)
	}
	f2, err := locks.Acquire(ctx, "s1", "w2", "w2/b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if f2 <= f1 {
		t.Fatalf("fence did not rise: %d then %d", f1, f2)
	}
}

// Many contenders: at any moment at most one holds the lock, and every grant
// has a fence no other grant has.
func TestLockContention(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	locks := session.NewLocks(rdb, 5*time.Second)
	ctx := context.Background()
	var (
		mu      sync.Mutex
		holders int
		fences  = map[int64]bool{}
		wg      sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := fmt.Sprintf("w%d", w)
			for i := 0; i < 20; i++ {
				tok := session.Token(id, fmt.Sprint(i))
				f, err := locks.Acquire(ctx, "hot", id, tok, 0)
				if errors.Is(err, session.ErrLockHeld) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				holders++
				if holders != 1 {
					t.Errorf("%d holders at once", holders)
				}
				if fences[f] {
					t.Errorf("fence %d granted twice", f)
				}
				fences[f] = true
				mu.Unlock()
				time.Sleep(100 * time.Microsecond)
				mu.Lock()
				holders--
				mu.Unlock()
				if err := locks.Release(ctx, "hot", id, tok); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if len(fences) == 0 {
		t.Fatal("no grant at all")
	}
}

// After Redis loses everything, fences still rise above what the store saw.
func TestFenceFloorSurvivesRedisRestart(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	locks := session.NewLocks(rdb, 5*time.Second)
	ctx := context.Background()
	f, err := locks.Acquire(ctx, "s", "w1", "w1/x", 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Restart()
	f2, err := locks.Acquire(ctx, "s", "w2", "w2/y", f+41) // the store recorded f+41
	if err != nil {
		t.Fatal(err)
	}
	if f2 <= f+41 {
		t.Fatalf("fence %d not above the store's %d", f2, f+41)
	}
}

func TestLockExpiresAndReleaseWorker(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	ctx := context.Background()
	short := session.NewLocks(rdb, 200*time.Millisecond)
	if _, err := short.Acquire(ctx, "a", "dead", "dead/1", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := short.Acquire(ctx, "b", "dead", "dead/2", 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := short.Acquire(ctx, "a", "w2", "w2/1", 0); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lock never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := short.Renew(ctx, "a", "dead/1"); !errors.Is(err, session.ErrLockLost) {
		t.Fatalf("renew of an expired, retaken lock: %v", err)
	}
	long := session.NewLocks(rdb, time.Minute)
	if _, err := long.Acquire(ctx, "c", "dead", "dead/3", 0); err != nil {
		t.Fatal(err)
	}
	released, err := long.ReleaseWorker(ctx, "dead")
	if err != nil {
		t.Fatal(err)
	}
	if len(released) != 1 || released[0] != "c" {
		t.Fatalf("released %v, want [c] (a was retaken by w2, b expired)", released)
	}
	if _, err := long.Acquire(ctx, "c", "w3", "w3/1", 0); err != nil {
		t.Fatalf("c still locked after ReleaseWorker: %v", err)
	}
}

func TestFairShareCoversEveryPartitionOnce(t *testing.T) {
	for n := 1; n <= 7; n++ {
		var live []string
		for i := 0; i < n; i++ {
			live = append(live, fmt.Sprintf("w%d", i))
		}
		owner := map[int]string{}
		for _, w := range live {
			share := session.FairShare(w, live, 64)
			if len(share) < 64/n || len(share) > 64/n+1 {
				t.Errorf("%d workers: %s gets %d partitions", n, w, len(share))
			}
			for _, p := range share {
				if o, ok := owner[p]; ok {
					t.Errorf("partition %d given to %s and %s", p, o, w)
				}
				owner[p] = w
			}
		}
		if len(owner) != 64 {
			t.Errorf("%d workers cover %d of 64 partitions", n, len(owner))
		}
	}
}

func TestLeasesAndMembership(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	ctx := context.Background()
	a := session.NewMembership(rdb, "a", 300*time.Millisecond)
	b := session.NewMembership(rdb, "b", 300*time.Millisecond)
	for _, m := range []*session.Membership{a, b} {
		if err := m.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	live, err := session.LiveWorkers(ctx, rdb, 300*time.Millisecond)
	if err != nil || len(live) != 2 {
		t.Fatalf("live = %v, %v", live, err)
	}
	aLeases := session.NewPartitionLeases(rdb, "a", 300*time.Millisecond)
	bLeases := session.NewPartitionLeases(rdb, "b", 300*time.Millisecond)
	if ok, _ := aLeases.Acquire(ctx, 3); !ok {
		t.Fatal("a could not lease a free partition")
	}
	if ok, _ := bLeases.Acquire(ctx, 3); ok {
		t.Fatal("b leased a partition a holds")
	}
	aInflight := session.NewInflightRegistry(rdb, "a")
	if err := aInflight.Apply(ctx, session.InflightChange{Seq: 42, Reply: "$JS.ACK.x"}, session.InflightChange{Seq: 43, Reply: "$JS.ACK.y"}, session.InflightChange{Seq: 43}); err != nil {
		t.Fatal(err)
	}
	// a dies: no more heartbeats.
	time.Sleep(400 * time.Millisecond)
	if err := b.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	dead, err := session.DeadWorkers(ctx, rdb, 300*time.Millisecond)
	if err != nil || len(dead) != 1 || dead[0] != "a" {
		t.Fatalf("dead = %v, %v", dead, err)
	}
	inf, _ := session.Inflight(ctx, rdb, "a")
	if len(inf) != 1 || inf["42"] != "$JS.ACK.x" {
		t.Fatalf("in-flight of a = %v, want only 42 (43 was added then removed)", inf)
	}
	if ok, _ := bLeases.Acquire(ctx, 3); !ok {
		t.Fatal("b could not take the expired lease")
	}
}

func TestMetaTouchAndGet(t *testing.T) {
	r := testkit.StartRedis(t)
	ms := session.NewMetaStore(r.Client(t))
	ctx := context.Background()
	if _, err := ms.Get(ctx, "s"); !errors.Is(err, session.ErrNoMeta) {
		t.Fatalf("empty: %v", err)
	}
	t0 := time.Now().Add(-time.Minute)
	if err := ms.Touch(ctx, "s", "acme", "claude-code", "/w", t0); err != nil {
		t.Fatal(err)
	}
	if err := ms.Touch(ctx, "s", "", "", "", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	m, err := ms.Get(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if m.Project != "acme" || m.Status != "active" || !m.StartedAt.Equal(t0.Truncate(time.Millisecond)) || !m.LastEventAt.After(m.StartedAt) {
		t.Fatalf("meta = %+v", m)
	}
	n, _ := ms.Active(ctx, t0.Add(-time.Second))
	if n != 1 {
		t.Fatalf("active = %d", n)
	}
	idle, _ := ms.Idle(ctx, time.Now(), 10)
	if len(idle) != 1 {
		t.Fatalf("idle = %v", idle)
	}
}

// TestMetaTouchAllFoldsEvents checks that one Activity per session stands for
// all its events: started_at is the first event's time, last_event_at the
// last one's, the latest non-empty agent and cwd win, and the project stays
// the first event's (a session's project is fixed at its start).
func TestMetaTouchAllFoldsEvents(t *testing.T) {
	r := testkit.StartRedis(t)
	ms := session.NewMetaStore(r.Client(t))
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	a := session.Activity{SessionID: "a", Project: "acme", Agent: "claude-code", First: t0.Add(time.Second), Last: t0.Add(time.Second)}
	a.Merge("", "", "/w", t0.Add(3*time.Second))
	a.Merge("src", "", "", t0) // an event stamped earlier, accepted later, from a subdirectory
	b := session.Activity{SessionID: "b", Project: "other", First: t0, Last: t0}
	if err := ms.TouchAll(ctx, []session.Activity{a, b}); err != nil {
		t.Fatal(err)
	}
	ma, err := ms.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !ma.StartedAt.Equal(t0) || !ma.LastEventAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("a: started %v, last %v; want %v and %v", ma.StartedAt, ma.LastEventAt, t0, t0.Add(3*time.Second))
	}
	if ma.Project != "acme" || ma.Agent != "claude-code" || ma.Cwd != "/w" || ma.Status != "active" {
		t.Fatalf("a = %+v", ma)
	}
	mb, err := ms.Get(ctx, "b")
	if err != nil || mb.Project != "other" || !mb.LastEventAt.Equal(t0) {
		t.Fatalf("b = %+v, %v", mb, err)
	}
	if n, _ := ms.Active(ctx, t0.Add(-time.Second)); n != 2 {
		t.Fatalf("active = %d, want 2", n)
	}
	// A later write keeps the first started_at and the first project.
	if err := ms.TouchAll(ctx, []session.Activity{{SessionID: "a", Project: "src", First: t0.Add(time.Hour), Last: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if ma, _ = ms.Get(ctx, "a"); !ma.StartedAt.Equal(t0) || ma.Project != "acme" {
		t.Fatalf("after a later write: %+v", ma)
	}
}
