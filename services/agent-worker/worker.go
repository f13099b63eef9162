package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/outage"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Deps are the worker's connections, owned by the caller.
type Deps struct {
	NC         *nats.Conn
	JS         jetstream.JetStream
	Redis      redis.UniversalClient
	Store      store.Store
	Compressor llm.Compressor
	Logger     *slog.Logger
	// Registry receives the worker's metrics (the command serves it on
	// /metrics); nil uses a private one.
	Registry prometheus.Registerer
	// Embedder, when set, embeds stored observations for semantic search
	// in a loop of the worker's own (docs/ARCHITECTURE.md §14); nil = off.
	Embedder *embed.Client
}

// Worker leases partitions, pulls their consumers and runs one actor per
// active session.
type Worker struct {
	cfg      Config
	d        Deps
	log      *slog.Logger
	m        *metrics
	locks    *session.Locks
	members  *session.Membership
	leases   *session.PartitionLeases
	inflight *inflightTracker
	acks     *acker
	meta     *session.MetaStore
	stream   jetstream.Stream

	mu       sync.Mutex
	actors   map[string]*actor
	pullers  map[int]*puller
	stopping bool

	actorsWG  sync.WaitGroup
	pullersWG sync.WaitGroup
	// runCtx lives until shutdown's grace runs out; actors work under it.
	runCtx    context.Context
	runCancel context.CancelFunc

	processed    atomic.Int64
	stoppingFlag atomic.Bool
	// llmCalls and llmNanos count the compressor calls of this process and
	// the time they took, for the ops page's LLM latency (Stats).
	llmCalls atomic.Int64
	llmNanos atomic.Int64

	// catchup embeds observations after they are stored; nil = off.
	catchup *semantic.Catchup

	// down bounds the Redis and NATS outages Run rides out.
	down *outage.Backends
}

// New checks the config and returns a worker. It starts nothing, so it takes
// no context: Run(ctx) starts the work and ends it with ctx.
func New(cfg Config, d Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.NC == nil || d.JS == nil || d.Redis == nil || d.Store == nil {
		return nil, errors.New("worker: NATS, JetStream, Redis and a store are required")
	}
	if d.Compressor == nil {
		d.Compressor = llm.Offline{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	log := d.Logger.With("worker", cfg.WorkerID)
	w := &Worker{
		cfg:      cfg,
		d:        d,
		log:      log,
		m:        newMetrics(d.Registry),
		locks:    session.NewLocks(d.Redis, cfg.LockTTL),
		members:  session.NewMembership(d.Redis, cfg.WorkerID, cfg.MemberTTL),
		leases:   session.NewPartitionLeases(d.Redis, cfg.WorkerID, cfg.MemberTTL),
		meta:     session.NewMetaStore(d.Redis),
		inflight: newInflightTracker(d.Redis, cfg.WorkerID, log),
		actors:   map[string]*actor{},
		pullers:  map[int]*puller{},
		down:     outage.NewBackends(cfg.OutageLimit),
	}
	if d.Embedder != nil {
		w.catchup = semantic.NewCatchup(d.Store, d.Embedder, log, 0)
		w.catchup.OnEmbedded = func(int) { w.announce(bus.MemoryChange{Vectors: true}) }
	}
	w.acks = newAcker(cfg.AckDelay, max(cfg.Layout.MaxAckPending/4, 1), log, func(ds []delivery) { w.untrack(ds...) })
	return w, nil
}

// announce tells query processes' semantic indexes that memory changed;
// a notice lost is caught up by their polling, so a failure is only logged.
func (w *Worker) announce(c bus.MemoryChange) {
	if err := bus.PublishMemoryChange(w.d.NC, c); err != nil {
		w.log.Warn("memory change not announced; query processes catch up by polling", "err", err)
	}
}

// ID returns the worker's ID.
func (w *Worker) ID() string { return w.cfg.WorkerID }

// Run works until ctx ends, then shuts down gracefully: it stops pulling,
// lets in-flight work finish within the grace period, NAKs the rest, releases
// leases and locks, and returns.
func (w *Worker) Run(ctx context.Context) error {
	w.runCtx, w.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	defer w.runCancel()
	stopTracker := make(chan struct{})
	go w.inflight.run(stopTracker)
	defer func() { close(stopTracker); <-w.inflight.done }()
	go w.acks.run()
	defer w.acks.close()
	if w.catchup != nil {
		// Its own context: the embedder stops with Run, whatever ended it.
		cctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); w.catchup.Run(cctx) }()
		defer func() { stop(); <-done }()
	}

	s, err := w.waitStream(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the broker was ready: nothing in flight
		}
		return err
	}
	w.stream = s
	if err := w.members.Heartbeat(ctx); err != nil {
		w.log.Warn("first heartbeat failed; retrying in the loop", "err", err)
	}

	abortSub, err := w.d.NC.Subscribe(bus.AbortFilter, w.onAbort)
	if err != nil {
		return fmt.Errorf("worker: subscribe to aborts: %w", err)
	}
	defer func() { _ = abortSub.Unsubscribe() }()
	svc, err := bus.AddService(w.d.NC, "worker", w.cfg.WorkerID, "Mnemo agent worker: per-session ordered processing",
		map[string]string{"worker": w.cfg.WorkerID}, func() any { return w.Stats() })
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop() }()

	w.log.Info("worker started", "partitions", w.cfg.Layout.Partitions, "compressor", w.d.Compressor.Name())
	_ = w.outages(ctx, w.rebalance(ctx))
	tick := time.NewTicker(w.cfg.Rebalance)
	defer tick.Stop()
	keep := time.NewTicker(w.keepAliveEvery())
	defer keep.Stop()
	floors := time.NewTicker(w.cfg.FloorEvery)
	defer floors.Stop()
	for {
		select {
		case <-ctx.Done():
			w.shutdown()
			return nil
		case <-tick.C:
			if err := w.outages(ctx, w.rebalance(ctx)); err != nil {
				w.shutdown()
				return err
			}
		case <-keep.C:
			w.keepAlive()
		case <-floors.C:
			w.saveFloors(ctx, w.Partitions())
		}
	}
}

func (w *Worker) keepAliveEvery() time.Duration {
	d := w.cfg.Layout.AckWait / 3
	if len(w.cfg.Layout.BackOff) > 0 && w.cfg.Layout.BackOff[0]/3 < d {
		d = w.cfg.Layout.BackOff[0] / 3
	}
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return d
}

// waitStream ensures the streams and this layout's consumers exist (create
// or update, idempotent) and returns the events stream, retrying while the
// broker is away.
func (w *Worker) waitStream(ctx context.Context) (jetstream.Stream, error) {
	var s jetstream.Stream
	err := w.down.Retry(ctx, w.log, "worker", "stream "+bus.EventsStream, func(ctx context.Context) error {
		if err := bus.Ensure(ctx, w.d.JS, w.cfg.Layout, w.floors); err != nil {
			return err
		}
		var err error
		s, err = w.d.JS.Stream(ctx, bus.EventsStream)
		return err
	}, bus.ErrPartitionMismatch)
	return s, err
}

// outages records whether Redis (redisErr, the heartbeat's outcome) and
// NATS are reachable, and returns the error that ends the worker once
// either has been away longer than MNEMO_OUTAGE_LIMIT.
func (w *Worker) outages(ctx context.Context, redisErr error) error {
	return w.down.During(ctx, "worker", redisErr, w.d.NC)
}

// rebalance heartbeats, computes this worker's fair share of partitions,
// takes or renews their leases, and gives up the others. It returns the
// heartbeat's error: whether Redis is reachable.
func (w *Worker) rebalance(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Rebalance)
	defer cancel()
	if err := w.members.Heartbeat(rctx); err != nil {
		// Redis down: keep pulling what we hold; nobody can take it meanwhile.
		w.log.Warn("heartbeat failed; keeping current partitions", "err", err)
		return fmt.Errorf("heartbeat: %w", err)
	}
	live, err := session.LiveWorkers(rctx, w.d.Redis, w.cfg.MemberTTL)
	if err != nil {
		w.log.Warn("list live workers failed", "err", err)
		return nil
	}
	want := map[int]bool{}
	for _, p := range session.FairShare(w.cfg.WorkerID, live, w.cfg.Layout.Partitions) {
		want[p] = true
	}
	w.mu.Lock()
	held := make(map[int]*puller, len(w.pullers))
	for p, pl := range w.pullers {
		held[p] = pl
	}
	w.mu.Unlock()
	for p, pl := range held {
		if !want[p] {
			w.stopPuller(p, pl)
			if err := w.leases.Release(rctx, p); err != nil {
				w.log.Warn("release partition lease", "partition", p, "err", err)
			}
			continue
		}
		ok, err := w.leases.Acquire(rctx, p)
		if err != nil {
			w.log.Warn("renew partition lease", "partition", p, "err", err)
			continue
		}
		if !ok {
			w.log.Warn("partition lease taken by another worker", "partition", p)
			w.stopPuller(p, pl)
		}
	}
	for p := range want {
		if held[p] != nil {
			continue
		}
		ok, err := w.leases.Acquire(rctx, p)
		if err != nil {
			w.log.Warn("take partition lease", "partition", p, "err", err)
			continue
		}
		if ok {
			w.startPuller(p)
		}
	}
	return nil
}

// Partitions returns the partitions this worker pulls now.
func (w *Worker) Partitions() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int, 0, len(w.pullers))
	for p := range w.pullers {
		out = append(out, p)
	}
	return out
}

func (w *Worker) startPuller(p int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping || w.pullers[p] != nil {
		return
	}
	pl := newPuller(w, p)
	w.pullers[p] = pl
	w.pullersWG.Add(1)
	go func() {
		defer w.pullersWG.Done()
		pl.run()
	}()
	w.log.Debug("pulling partition", "partition", p)
}

func (w *Worker) stopPuller(p int, pl *puller) {
	w.mu.Lock()
	if w.pullers[p] == pl {
		delete(w.pullers, p)
	}
	// Actors of a partition we gave up finish their queue and exit without
	// lingering, so the new owner gets their session locks quickly.
	for _, a := range w.actors {
		if a.partition == p {
			a.evict()
		}
	}
	w.mu.Unlock()
	pl.stop()
	w.log.Debug("stopped pulling partition", "partition", p)
}

// dispatch hands a delivered message to its session's actor, creating the
// actor on the session's first message.
func (w *Worker) dispatch(p int, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		w.log.Error("message without metadata", "subject", m.Subject(), "err", err)
		_ = m.TermWithReason("no jetstream metadata")
		return
	}
	sid, ok := bus.SessionOfSubject(m.Subject())
	if !ok {
		w.log.Error("message on an unexpected subject", "subject", m.Subject(), "seq", md.Sequence.Stream)
		_ = m.TermWithReason("subject is not mnemo.ev.<partition>.<session>")
		return
	}
	d := delivery{msg: m, seq: md.Sequence.Stream, delivered: md.NumDelivered}
	w.trackInflight(d)
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		w.nak(d)
		return
	}
	a := w.actors[sid]
	if a == nil {
		a = newActor(w, sid, p)
		w.actors[sid] = a
		w.actorsWG.Add(1)
		go func() {
			defer w.actorsWG.Done()
			a.run()
		}()
	}
	a.enqueue(d)
	w.mu.Unlock()
}

// removeActor forgets an actor that decided to exit with an empty queue. It
// returns false when messages arrived meanwhile, and the actor must go on.
func (w *Worker) removeActor(a *actor) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !a.queueEmpty() {
		return false
	}
	if w.actors[a.sid] == a {
		delete(w.actors, a.sid)
	}
	return true
}

// floors reads the partitions' recorded ack floors from the store.
func (w *Worker) floors(ctx context.Context, streamKey string) (bus.Floors, error) {
	f, err := w.d.Store.PartitionFloors(ctx, streamKey)
	return bus.Floors(f), err
}

// saveFloors records the ack floor of every partition this worker pulls, so
// that a consumer the broker loses (memory state, bus.Layout) is recreated
// to start there rather than at the stream's first message.
func (w *Worker) saveFloors(ctx context.Context, partitions []int) {
	if w.stream == nil || len(partitions) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	floors := map[int]uint64{}
	for _, p := range partitions {
		c, err := w.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(p))
		if err != nil {
			w.log.Debug("read partition ack floor", "partition", p, "err", err)
			continue
		}
		if f := c.CachedInfo().AckFloor.Stream; f > 0 {
			floors[p] = f
		}
	}
	if len(floors) == 0 {
		return
	}
	if err := w.d.Store.SavePartitionFloors(ctx, bus.StreamKey(w.stream.CachedInfo()), floors); err != nil {
		w.log.Warn("record partition ack floors", "err", err)
	}
}

func (w *Worker) trackInflight(d delivery) { w.inflight.add(d.seq, d.msg.Reply()) }

func (w *Worker) untrack(ds ...delivery) {
	for _, d := range ds {
		w.inflight.remove(d.seq)
	}
}

func (w *Worker) nak(ds ...delivery) {
	for _, d := range ds {
		if err := d.msg.Nak(); err != nil {
			w.log.Debug("nak failed; the message is redelivered after ack wait", "seq", d.seq, "err", err)
		}
	}
	w.untrack(ds...)
}

// keepAlive tells the server that every message this worker holds is still
// being worked on, so none is redelivered while it waits in a session queue.
func (w *Worker) keepAlive() {
	w.mu.Lock()
	actors := make([]*actor, 0, len(w.actors))
	for _, a := range w.actors {
		actors = append(actors, a)
	}
	w.mu.Unlock()
	for _, a := range actors {
		for _, d := range a.held() {
			_ = d.msg.InProgress()
		}
	}
}

func (w *Worker) onAbort(m *nats.Msg) {
	sid, ok := bus.SessionOfAbort(m.Subject)
	if !ok {
		return
	}
	w.mu.Lock()
	a := w.actors[sid]
	w.mu.Unlock()
	aborted := false
	if a != nil {
		a.abort()
		aborted = true
		w.log.Info("session aborted", "session", sid)
	}
	if m.Reply != "" {
		b, _ := json.Marshal(map[string]any{"worker": w.cfg.WorkerID, "aborted": aborted})
		_ = m.Respond(b)
	}
}

// Stats are SessionManager's figures for this worker (the wire type).
type Stats = api.WorkerStats

// Stats returns the worker's current figures.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{Worker: w.cfg.WorkerID, ActiveSessions: len(w.actors), Partitions: len(w.pullers), Processed: w.processed.Load(),
		Leased: slices.Sorted(maps.Keys(w.pullers)), LLMCalls: w.llmCalls.Load(),
		LLMSeconds: time.Duration(w.llmNanos.Load()).Seconds()}
	for _, a := range w.actors {
		q, busy := a.depth()
		st.QueueDepth += q
		if busy {
			st.InFlight++
		}
	}
	st.ActiveWork = st.QueueDepth + st.InFlight
	st.Processing = st.ActiveWork > 0
	return st
}

// timeLLM counts one compressor call that started at start.
func (w *Worker) timeLLM(start time.Time) {
	w.llmCalls.Add(1)
	w.llmNanos.Add(int64(time.Since(start)))
}

// shutdown stops pulling, NAKs queued work, gives in-flight work the grace
// period, then cancels it (NAK), releases leases and leaves.
func (w *Worker) shutdown() {
	w.log.Info("worker stopping", "grace", w.cfg.Grace)
	w.mu.Lock()
	w.stopping = true
	w.stoppingFlag.Store(true)
	pullers := w.pullers
	w.pullers = map[int]*puller{}
	for _, a := range w.actors {
		a.evict()
	}
	w.mu.Unlock()
	for _, pl := range pullers {
		pl.stop()
	}
	w.pullersWG.Wait()

	done := make(chan struct{})
	go func() { w.actorsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.Grace):
		w.log.Warn("grace period over; cancelling in-flight work")
		w.runCancel()
		<-done
	}
	w.acks.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w.saveFloors(ctx, slices.Collect(maps.Keys(pullers)))
	for p := range pullers {
		if err := w.leases.Release(ctx, p); err != nil {
			w.log.Debug("release lease at shutdown", "partition", p, "err", err)
		}
	}
	if err := w.members.Leave(ctx); err != nil {
		w.log.Debug("leave at shutdown", "err", err)
	}
	w.log.Info("worker stopped", "processed", w.processed.Load())
}
