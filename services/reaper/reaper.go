package reaper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/outage"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// AdvisoryConsumer is the durable consumer the leader reads advisories with.
const AdvisoryConsumer = "reaper"

// Deps are the reaper's connections, owned by the caller.
type Deps struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Redis  redis.UniversalClient
	Store  store.Store
	Logger *slog.Logger
	// Registry receives the reaper's metrics (the command serves it on
	// /metrics); nil uses a private one.
	Registry prometheus.Registerer
}

// Reaper redelivers dead workers' work, dead-letters exhausted events,
// summarizes idle sessions and audits consumers, while it holds leadership.
type Reaper struct {
	cfg   Config
	d     Deps
	log   *slog.Logger
	m     *metrics
	lead  *leadership
	locks *session.Locks
	meta  *session.MetaStore

	events     jetstream.Stream
	advisories jetstream.Consumer

	mu       sync.Mutex
	lastIdle time.Time
	lastAud  time.Time

	deadWorkers atomic.Int64
	naked       atomic.Int64
	deadLetters atomic.Int64
	idleStops   atomic.Int64
	metaRebuilt atomic.Int64
	stuck       atomic.Int64
	healthy     atomic.Bool

	// down bounds the Redis and NATS outages Run rides out.
	down *outage.Backends
}

// New checks the config and returns a reaper. It starts nothing, so it takes
// no context: Run(ctx) starts the work and ends it with ctx.
func New(cfg Config, d Deps) (*Reaper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.NC == nil || d.JS == nil || d.Redis == nil || d.Store == nil {
		return nil, errors.New("reaper: NATS, JetStream, Redis and a store are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	return &Reaper{
		cfg:   cfg,
		d:     d,
		log:   d.Logger.With("reaper", cfg.ID),
		m:     newMetrics(d.Registry),
		lead:  newLeadership(d.Redis, LeaderKey, leaderToken(cfg.ID, event.NewID()), cfg.LeaderTTL),
		locks: session.NewLocks(d.Redis, cfg.LockTTL),
		meta:  session.NewMetaStore(d.Redis),
		down:  outage.NewBackends(cfg.OutageLimit),
	}, nil
}

// ID returns the reaper's ID.
func (r *Reaper) ID() string { return r.cfg.ID }

// Leader reports whether this reaper holds leadership now.
func (r *Reaper) Leader() bool { return r.lead.Leader() }

// Stats are the reaper's figures (the wire type).
type Stats = api.ReaperStats

// Stats returns the reaper's current figures.
func (r *Reaper) Stats() Stats {
	return Stats{
		Reaper: r.cfg.ID, Leader: r.Leader(), DeadWorkers: r.deadWorkers.Load(), Naked: r.naked.Load(),
		DeadLetters: r.deadLetters.Load(), IdleStops: r.idleStops.Load(), MetaRebuilt: r.metaRebuilt.Load(),
		Stuck: r.stuck.Load(),
	}
}

// Run works until ctx ends. It registers the NATS micro service
// mnemo-reaper and, while it leads, runs every task each tick. It resigns
// leadership on the way out. The caller serves Handler (on Config.Addr).
func (r *Reaper) Run(ctx context.Context) error {
	svc, err := r.addService()
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop() }()
	if err := r.waitStreams(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r.healthy.Store(true)
	r.log.Info("reaper started", "partitions", r.cfg.Layout.Partitions, "idle_summary", r.cfg.IdleSummary)
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.lead.Leader() {
			if err := r.lead.resign(rctx); err != nil {
				r.log.Debug("resign", "err", err)
			} else {
				r.log.Info("leadership given up")
			}
		}
		r.m.leader.Set(0)
	}()
	tick := time.NewTicker(r.cfg.Tick)
	defer tick.Stop()
	for {
		if err := r.outages(ctx, r.pass(ctx)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// outages records whether Redis (redisErr, the leadership check's outcome)
// and NATS are reachable, and returns the error that ends the reaper once
// either has been away longer than MNEMO_OUTAGE_LIMIT.
func (r *Reaper) outages(ctx context.Context, redisErr error) error {
	return r.down.During(ctx, "reaper", redisErr, r.d.NC)
}

// pass takes or keeps leadership and, while leading, runs the tasks that are
// due. Every task is idempotent: a leader that dies half-way leaves nothing
// the next one cannot redo. It returns the leadership check's error: whether
// Redis is reachable.
func (r *Reaper) pass(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Tick)
	was := r.lead.Leader()
	leading, err := r.lead.tryLead(lctx)
	cancel()
	if err != nil {
		r.log.Warn("leadership check failed", "err", err)
		err = fmt.Errorf("leadership check: %w", err)
	}
	switch {
	case leading && !was:
		r.log.Info("leadership taken")
		r.m.leader.Set(1)
	case !leading && was:
		r.log.Warn("leadership lost; stopping")
		r.m.leader.Set(0)
	}
	if !leading {
		return err
	}
	r.task(ctx, "dead_workers", r.reapWorkers)
	r.task(ctx, "advisories", r.drainAdvisories)
	now := time.Now()
	r.mu.Lock()
	idleDue := now.Sub(r.lastIdle) >= r.cfg.IdleEvery
	auditDue := now.Sub(r.lastAud) >= r.cfg.AuditEvery
	if idleDue {
		r.lastIdle = now
	}
	if auditDue {
		r.lastAud = now
	}
	r.mu.Unlock()
	if auditDue {
		r.task(ctx, "meta", r.rebuildMeta)
		r.task(ctx, "audit", r.audit)
	}
	if idleDue {
		r.task(ctx, "idle", r.summarizeIdle)
	}
	return err
}

func (r *Reaper) task(ctx context.Context, name string, f func(context.Context) error) {
	if ctx.Err() != nil || !r.lead.Leader() {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, max(r.cfg.LeaderTTL/2, 5*time.Second))
	defer cancel()
	if err := f(tctx); err != nil && ctx.Err() == nil {
		r.m.errors.WithLabelValues(name).Inc()
		r.log.Warn("reaper task failed; retrying on the next pass", "task", name, "err", err)
	}
}

// waitStreams ensures the streams (idempotent) and the advisory consumer,
// retrying while the broker is away.
func (r *Reaper) waitStreams(ctx context.Context) error {
	return r.down.Retry(ctx, r.log, "reaper", "streams", r.ensure, bus.ErrPartitionMismatch)
}

func (r *Reaper) ensure(ctx context.Context) error {
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, c, err := EnsureAdvisoryConsumer(ectx, r.d.JS, r.cfg.Layout)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.events, r.advisories = s, c
	r.mu.Unlock()
	return nil
}

// EnsureAdvisoryConsumer makes sure the streams and the reaper's durable
// advisory consumer exist, creating what is missing, and returns the events
// stream and the consumer. Streams that exist are left as they are: the
// workers and ingest keep their configuration up to date.
func EnsureAdvisoryConsumer(ctx context.Context, js jetstream.JetStream, l bus.Layout) (jetstream.Stream, jetstream.Consumer, error) {
	for _, name := range []string{bus.EventsStream, bus.AdvisoriesStream, bus.DLQStream} {
		if _, err := js.Stream(ctx, name); err != nil {
			if !errors.Is(err, jetstream.ErrStreamNotFound) {
				return nil, nil, fmt.Errorf("reaper: look up %s: %w", name, err)
			}
			if err := bus.EnsureStreams(ctx, js, l); err != nil {
				return nil, nil, err
			}
			break
		}
	}
	s, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		return nil, nil, fmt.Errorf("reaper: look up %s: %w", bus.EventsStream, err)
	}
	c, err := js.Consumer(ctx, bus.AdvisoriesStream, AdvisoryConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = js.CreateOrUpdateConsumer(ctx, bus.AdvisoriesStream, jetstream.ConsumerConfig{
			Durable:       AdvisoryConsumer,
			Description:   "Mnemo reaper: advisories to dead letters",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxAckPending: 1024,
			Replicas:      l.Replicas,
		})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reaper: ensure advisory consumer: %w", err)
	}
	return s, c, nil
}

func (r *Reaper) stream() jetstream.Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events
}

func (r *Reaper) advisoryConsumer() jetstream.Consumer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.advisories
}

func (r *Reaper) addService() (micro.Service, error) {
	svc, err := bus.AddService(r.d.NC, "reaper", r.cfg.ID, "Mnemo reaper: dead workers, dead letters, idle summaries, audits",
		map[string]string{"reaper": r.cfg.ID}, func() any { return r.Stats() })
	if err != nil {
		return nil, err
	}
	if err := svc.AddEndpoint("replay", micro.HandlerFunc(r.serveReplay), micro.WithEndpointSubject(bus.ReplaySubject)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("reaper: add replay endpoint: %w", err)
	}
	return svc, nil
}

// serveReplay replays the dead letter a ReplayRequest names (query's ops
// page asks; any one reaper of the queue group answers).
func (r *Reaper) serveReplay(req micro.Request) {
	var q bus.ReplayRequest
	if err := json.Unmarshal(req.Data(), &q); err != nil || q.ID < 1 {
		_ = req.RespondJSON(bus.ReplayAnswer{Error: "want {\"id\": a positive dead letter ID}"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	newID, err := Replay(ctx, r.d.JS, r.d.Store, q.ID)
	a := bus.ReplayAnswer{EventID: newID}
	switch {
	case errors.Is(err, ErrAlreadyReplayed):
		a.Replayed = true
	case err != nil:
		r.log.Error("dead letter replay failed", "dead_letter", q.ID, "err", err)
		a.Error = err.Error()
	default:
		r.log.Info("dead letter replayed", "dead_letter", q.ID, "event_id", newID, "asked_by", "bus")
	}
	_ = req.RespondJSON(a)
}
