package reaper_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/reaper"
)

// BenchmarkRecoveryAfterKill measures how long work held by a worker that is
// killed with -9 takes to be applied by another, with AckWait at one minute
// so only the reaper's NAK can make it fast; and counts lost and duplicated
// observations (both must be 0).
func BenchmarkRecoveryAfterKill(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := newRig(b, time.Minute)
		cfg := r.reaperConfig("r1")
		cfg.IdleSummary = time.Hour
		r.startReaper(cfg)
		w1 := r.spawnWorker("w1", "MNEMO_LLM_SIMULATED_LATENCY=60s")
		var sessions []string
		for s := 0; s < 20; s++ {
			sessions = append(sessions, fmt.Sprintf("rec-%02d", s))
		}
		tools, last, held := r.publishToolUses(sessions, 3)
		r.waitHolding("w1", held, 30*time.Second)
		r.spawnWorker("w2")
		r.waitLeasing("w2", 30*time.Second)
		killed := time.Now()
		w1.Signal(syscall.SIGKILL)
		// A session never applied is counted lost below (the report's "no"),
		// not a failed benchmark with no figures.
		deadline := time.Now().Add(2 * time.Minute)
		for sid := range tools {
			for !r.applied(sid, last[sid]) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		took := time.Since(killed)
		lost, dup := 0, 0
		for sid, want := range tools {
			seen := map[string]int{}
			for _, id := range storetest.ObservedFrom(r.t, r.store, sid) {
				seen[id]++
			}
			for _, id := range want {
				switch n := seen[id]; {
				case n == 0:
					lost++
				case n > 1:
					dup += n - 1
				}
			}
		}
		b.ReportMetric(took.Seconds(), "recovery-s")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(dup), "duplicated")
		b.ReportMetric(float64(len(held)), "held")
	}
}

// BenchmarkLeaderTakeover measures how long the second of two reaper
// processes takes to lead after the leader is killed with -9 (leader TTL
// 3 s): the speed claim TestLeaderFailover leaves to the report.
func BenchmarkLeaderTakeover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := newRig(b, 5*time.Second)
		procs := map[string]*testkit.Proc{}
		for _, id := range []string{"ra", "rb"} {
			procs[id] = r.spawnReaper(id, "127.0.0.1:0")
			procs[id].WaitLog(b, "reaper listening", 30*time.Second)
		}
		ctx := context.Background()
		var leader string
		testkit.WaitFor(b, 30*time.Second, "a leader", func() bool {
			leader, _ = reaper.LeaderID(ctx, r.rdb)
			return leader != ""
		})
		killed := time.Now()
		procs[leader].Signal(syscall.SIGKILL)
		testkit.WaitFor(b, time.Minute, "the other reaper to lead", func() bool {
			id, _ := reaper.LeaderID(ctx, r.rdb)
			return id != "" && id != leader
		})
		b.ReportMetric(time.Since(killed).Seconds(), "takeover-s")
	}
}
