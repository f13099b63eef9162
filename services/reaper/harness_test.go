package reaper_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/reaper"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Binaries the tests run as child processes, so that kill -9 is real.
var workerBin, reaperBin string

func TestMain(m *testing.M) {
	testkit.MainWithBinaries(m,
		testkit.Binary{Name: "mnemo-worker", Pkg: "./cmd/mnemo-worker", Dir: "../agent-worker", Path: &workerBin},
		testkit.Binary{Name: "mnemo-reaper", Pkg: "./cmd/mnemo-reaper", Path: &reaperBin})
}

// rig is a real broker, a real redis-server and a real SQLite store file that
// child workers and reapers share.
type rig struct {
	t      testing.TB
	nats   *testkit.NATS
	redis  *testkit.Redis
	nc     *nats.Conn
	js     jetstream.JetStream
	rdb    *redis.Client
	dsn    string
	store  store.Store
	layout bus.Layout
	events jetstream.Stream
}

func newRig(t testing.TB, ackWait time.Duration) *rig {
	t.Helper()
	r := &rig{t: t, nats: testkit.StartNATS(t), redis: testkit.StartRedis(t)}
	r.layout = testkit.TestLayout()
	r.layout.Partitions = 8
	r.layout.AckWait = ackWait
	r.nc, r.js = r.nats.Connect(t)
	testkit.Ensure(t, r.js, r.layout)
	r.rdb = r.redis.Client(t)
	r.dsn = filepath.Join(t.TempDir(), "mnemo.db")
	r.store = storetest.Open(t, r.dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The reaper's consumer exists before any worker or reaper starts, so
	// that their start-up never updates a stream while it is being made
	// (the embedded server has a data race there).
	var err error
	if r.events, _, err = reaper.EnsureAdvisoryConsumer(ctx, r.js, r.layout); err != nil {
		t.Fatal(err)
	}
	return r
}

// reaperConfig is a reaper config with short timers for r.
func (r *rig) reaperConfig(id string) reaper.Config {
	cfg := reaper.DefaultConfig()
	cfg.ID = id
	cfg.Layout = r.layout
	cfg.LeaderTTL = 3 * time.Second
	cfg.Tick = 250 * time.Millisecond
	cfg.MemberTTL = 3 * time.Second
	cfg.IdleSummary = 2 * time.Second
	cfg.IdleEvery = 500 * time.Millisecond
	cfg.AuditEvery = time.Second
	cfg.StuckAfter = time.Minute
	return cfg
}

// startReaper runs an in-process reaper until the test ends; its metrics
// are in the registry returned.
func (r *rig) startReaper(cfg reaper.Config) (*reaper.Reaper, *prometheus.Registry) {
	r.t.Helper()
	reg := prometheus.NewRegistry()
	rp, err := reaper.New(cfg, reaper.Deps{NC: r.nc, JS: r.js, Redis: r.redis.Client(r.t), Store: r.store, Logger: testkit.Logger(), Registry: reg})
	if err != nil {
		r.t.Fatal(err)
	}
	testkit.RunService(r.t, "reaper "+cfg.ID, rp.Run)
	return rp, reg
}

func (r *rig) env(id string) []string {
	return append([]string{},
		"MNEMO_NATS_URL="+r.nats.URL(),
		"MNEMO_REDIS_URL="+r.redis.URL(),
		"MNEMO_STORE="+r.dsn,
		fmt.Sprintf("MNEMO_PARTITIONS=%d", r.layout.Partitions),
		"MNEMO_ACK_WAIT="+r.layout.AckWait.String(),
		"MNEMO_BACKOFF=none",
		"MNEMO_MEMBER_TTL=3s",
		"MNEMO_LOG_LEVEL=info",
	)
}

// spawnWorker starts a mnemo-worker child.
func (r *rig) spawnWorker(id string, env ...string) *testkit.Proc {
	return r.spawn(workerBin, id, append([]string{
		"MNEMO_WORKER_ID=" + id,
		"MNEMO_LINGER=300ms",
		"MNEMO_LOCK_TTL=30s",
		"MNEMO_SHUTDOWN_GRACE=2s",
		"MNEMO_REBALANCE=500ms",
	}, env...)...)
}

// spawnReaper starts a mnemo-reaper child with short timers; addr is its
// HTTP address.
func (r *rig) spawnReaper(id, addr string, env ...string) *testkit.Proc {
	return r.spawn(reaperBin, id, append([]string{
		"MNEMO_REAPER_ID=" + id,
		"MNEMO_REAPER_ADDR=" + addr,
		"MNEMO_REAPER_LEADER_TTL=3s",
		"MNEMO_REAPER_TICK=250ms",
		"MNEMO_IDLE_SUMMARY=2s",
		"MNEMO_REAPER_IDLE_EVERY=500ms",
		"MNEMO_REAPER_AUDIT_EVERY=1s",
	}, env...)...)
}

func (r *rig) spawn(bin, id string, env ...string) *testkit.Proc {
	r.t.Helper()
	return testkit.StartProc(r.t, id, bin, append(r.env(id), env...)...)
}

// publishToolUses starts each session and publishes perSession tool uses
// in it; it returns each session's tool event IDs and last sequence, and the
// sequences of all the tool uses.
func (r *rig) publishToolUses(sessions []string, perSession int) (tools map[string][]string, last map[string]uint64, seqs []uint64) {
	r.t.Helper()
	tools, last = map[string][]string{}, map[string]uint64{}
	for _, sid := range sessions {
		r.publish(&event.Envelope{SessionID: sid, Kind: event.KindSessionStart, Source: "startup"})
		for i := 0; i < perSession; i++ {
			e := toolUse(sid, i)
			last[sid] = r.publish(e)
			tools[sid] = append(tools[sid], e.EventID)
			seqs = append(seqs, last[sid])
		}
	}
	return tools, last, seqs
}

// waitHolding waits until worker holds every message of seqs in flight.
func (r *rig) waitHolding(worker string, seqs []uint64, timeout time.Duration) {
	r.t.Helper()
	testkit.WaitFor(r.t, timeout, worker+" to hold every tool use", func() bool {
		h, err := session.Inflight(context.Background(), r.rdb, worker)
		if err != nil {
			return false
		}
		for _, s := range seqs {
			if _, ok := h[fmt.Sprint(s)]; !ok {
				return false
			}
		}
		return true
	})
}

// waitLeasing waits until worker holds the lease of at least one partition.
func (r *rig) waitLeasing(worker string, timeout time.Duration) {
	r.t.Helper()
	testkit.WaitFor(r.t, timeout, worker+" to lease partitions", func() bool {
		for p := 0; p < r.layout.Partitions; p++ {
			if h, _ := session.LeaseHolder(context.Background(), r.rdb, p); h == worker {
				return true
			}
		}
		return false
	})
}

// publish publishes one event of the session and returns its sequence.
func (r *rig) publish(e *event.Envelope) uint64 {
	r.t.Helper()
	if e.EventID == "" {
		e.EventID = event.NewID()
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if e.Project == "" {
		e.Project = "acme"
	}
	e.Agent = "claude-code"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := bus.Publish(ctx, r.js, e)
	if err != nil {
		r.t.Fatal(err)
	}
	return ack.Sequence
}

func toolUse(sid string, i int) *event.Envelope {
	return &event.Envelope{SessionID: sid, Kind: event.KindToolUse, Cwd: "/w/" + sid,
		Tool: &event.Tool{Name: "Read", Input: json.RawMessage(fmt.Sprintf(`{"file_path":"/w/%s/f%d.go"}`, sid, i))}}
}

// applied reports whether the session's cursor reached seq.
func (r *rig) applied(sid string, seq uint64) bool {
	c, err := r.store.Cursor(context.Background(), sid)
	return err == nil && c.LastSeq >= seq
}

// subjectMsgs returns every stored message on a subject, in order.
func (r *rig) subjectMsgs(subject string) []*jetstream.RawStreamMsg {
	return subjectMsgs(r.t, r.events, subject)
}

func subjectMsgs(t testing.TB, s jetstream.Stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			return out
		}
		out = append(out, m)
		seq = m.Sequence + 1
	}
}
