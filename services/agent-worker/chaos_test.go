package worker_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// workerBin is the real worker binary the chaos tests run as child
// processes, so that kill -9 is a real kill.
var workerBin string

func TestMain(m *testing.M) {
	testkit.MainWithBinaries(m, testkit.Binary{Name: "mnemo-worker", Pkg: "./cmd/mnemo-worker", Path: &workerBin})
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
	// Kill w1 while it holds messages: its in-flight registry, which only it
	// empties, still lists them after the kill.
	rdb := p.redis.Client(t)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h, err := session.Inflight(ctx, rdb, "w1"); err == nil && len(h) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("w1 never held 5 messages at once")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w1.Signal(syscall.SIGKILL)
	held, err := session.Inflight(ctx, rdb, "w1")
	if err != nil || len(held) == 0 {
		t.Fatalf("w1 held nothing when it died (%v): the test would prove nothing", err)
	}
	t.Logf("w1 killed holding %d messages", len(held))
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
// invariants. (Writes under a stale fence: TestZombieWorkerWritesAreRefused.)
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

// A restarted broker has lost the consumers' memory-stored state: the
// worker recreates each partition's consumer to start after the ack floor it
// recorded in the store, so the restart loses nothing and does not replay
// the stream from its first message.
func TestConsumersRecreatedAfterRecordedFloors(t *testing.T) {
	p := newPipeline(t, "")
	p.spawn(t, "w1", "MNEMO_FLOOR_EVERY=100ms")
	ctx := context.Background()
	sessions := sessionIDs("f", 40)
	p.publish(ctx, sessions, 20, 10)
	p.waitApplied(60 * time.Second)

	s, err := p.js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	key := bus.StreamKey(s.CachedInfo())
	floorOf := func(part int) jetstream.ConsumerConfig {
		t.Helper()
		c, err := p.js.Consumer(ctx, bus.EventsStream, bus.ConsumerName(part))
		if err != nil {
			t.Fatalf("consumer of partition %d: %v", part, err)
		}
		return c.CachedInfo().Config
	}
	// The broker's ack floors once every applied event is acknowledged.
	broker := map[int]uint64{}
	deadline := time.Now().Add(15 * time.Second)
	for part := 0; part < p.layout.Partitions; part++ {
		for {
			c, err := p.js.Consumer(ctx, bus.EventsStream, bus.ConsumerName(part))
			if err != nil {
				t.Fatal(err)
			}
			info := c.CachedInfo()
			if info.NumAckPending == 0 && info.NumPending == 0 {
				if f := info.AckFloor.Stream; f > 0 {
					broker[part] = f
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d still has %d unacknowledged", part, info.NumAckPending)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(broker) < p.layout.Partitions/2 {
		t.Fatalf("only %d partitions have messages; the test needs most", len(broker))
	}
	// The worker records them in the store.
	for {
		recorded, err := p.store.PartitionFloors(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for part, f := range broker {
			if recorded[part] < f {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d partitions' floors not recorded: store %v, broker %v", missing, recorded, broker)
		}
		time.Sleep(50 * time.Millisecond)
	}

	p.nats.Restart()
	p.publish(ctx, sessions, 20, 10)
	p.waitApplied(90 * time.Second)
	p.checkInvariants()
	for part, f := range broker {
		cfg := floorOf(part)
		if cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq < f+1 {
			t.Fatalf("partition %d's consumer after the restart: policy %v from %d, want to start after its recorded floor %d",
				part, cfg.DeliverPolicy, cfg.OptStartSeq, f)
		}
	}
}
