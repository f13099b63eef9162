package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

// delivery is one message as the consumer delivered it.
type delivery struct {
	msg       jetstream.Msg
	seq       uint64
	delivered uint64
}

// actor processes one session's events strictly in stream order, like
// claude-mem's per-session message iterator: it lives while events arrive,
// lingers for more, and exits after the linger timeout or after a summary.
type actor struct {
	// inHand are the delivered messages being processed, by ascending seq:
	// the walk uses their own data when the stream read does not show them.
	inHand    []delivery
	w         *Worker
	sid       string
	partition int
	subject   string
	log       *slog.Logger
	wake      chan struct{}

	mu         sync.Mutex
	queue      []delivery
	working    []delivery
	evicted    bool
	cancelWork context.CancelFunc

	// State below is owned by the actor's goroutine.
	token     string
	fence     int64
	locked    bool
	lost      atomic.Bool
	stopRenew chan struct{}
	renewDone chan struct{}

	loaded     bool
	cursor     store.Cursor
	sess       store.Session
	sessExists bool
	prompt     string
	private    bool
	conv       []byte
	summarized bool
	dead       map[uint64]string // delivered seqs to terminate, with reason
	// applying is the first sequence of the group being applied; failures
	// counts failed attempts per sequence; giveUp holds sequences to
	// dead-letter on the next walk, with the reason.
	applying uint64
	failures map[uint64]int
	giveUp   map[uint64]string
}

func newActor(w *Worker, sid string, p int) *actor {
	return &actor{
		w:         w,
		sid:       sid,
		partition: p,
		subject:   bus.StoredSubject(sid, w.cfg.Layout.Partitions),
		log:       w.log.With("session", sid, "partition", p),
		wake:      make(chan struct{}, 1),
		dead:      map[uint64]string{},
		failures:  map[uint64]int{},
		giveUp:    map[uint64]string{},
	}
}

func (a *actor) enqueue(d delivery) {
	a.mu.Lock()
	a.queue = append(a.queue, d)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *actor) queueEmpty() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue) == 0
}

// held returns every message the actor holds, queued or being worked on.
func (a *actor) held() []delivery {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]delivery, 0, len(a.queue)+len(a.working))
	out = append(out, a.working...)
	return append(out, a.queue...)
}

func (a *actor) depth() (queued int, busy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue), len(a.working) > 0
}

// evict makes the actor exit as soon as its queue is empty, without lingering.
func (a *actor) evict() {
	a.mu.Lock()
	a.evicted = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// abort cancels the work in flight (DELETE /v1/sessions/{id}); the actor then
// reloads the session, which the caller marked aborted in the store.
func (a *actor) abort() {
	a.mu.Lock()
	if a.cancelWork != nil {
		a.cancelWork()
	}
	a.mu.Unlock()
}

func (a *actor) run() {
	defer a.release()
	for {
		batch, ok := a.next()
		if !ok {
			return
		}
		a.process(batch)
	}
}

// next waits for queued messages; it returns false when the actor should exit
// (linger timeout, eviction, summary done, shutdown) with nothing queued.
func (a *actor) next() ([]delivery, bool) {
	for {
		a.mu.Lock()
		if len(a.queue) > 0 {
			b := a.queue
			a.queue = nil
			if a.w.isStopping() {
				a.mu.Unlock()
				a.w.nak(b...)
				continue
			}
			a.working = b
			a.mu.Unlock()
			return b, true
		}
		linger := a.w.cfg.Linger
		if a.evicted || a.summarized || a.w.isStopping() {
			linger = 0
		}
		a.mu.Unlock()
		if linger == 0 {
			if a.w.removeActor(a) {
				return nil, false
			}
			continue
		}
		t := time.NewTimer(linger)
		select {
		case <-a.wake:
			t.Stop()
		case <-t.C:
			if a.w.removeActor(a) {
				a.log.Debug("actor exits after linger timeout")
				return nil, false
			}
		}
	}
}

// process applies a batch of delivered messages and acknowledges them. It
// retries transient failures in place until the work is done or the worker
// gives up at shutdown (then it NAKs).
func (a *actor) process(batch []delivery) {
	sort.Slice(batch, func(i, j int) bool { return batch[i].seq < batch[j].seq })
	target := batch[len(batch)-1].seq
	a.inHand = batch
	defer func() { a.inHand = nil }()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithCancel(a.w.runCtx)
		a.mu.Lock()
		a.cancelWork = cancel
		a.mu.Unlock()
		err := a.step(ctx, target)
		a.mu.Lock()
		a.cancelWork = nil
		a.mu.Unlock()
		cancel()
		if err == nil {
			break
		}
		if a.w.runCtx.Err() != nil {
			a.w.nak(batch...)
			a.finish()
			return
		}
		switch {
		case errors.Is(err, context.Canceled):
			// Aborted: reload (the session is now aborted) and go on at once.
			a.loaded = false
			continue
		case errors.Is(err, store.ErrStaleFence), errors.Is(err, session.ErrLockLost):
			if errors.Is(err, store.ErrStaleFence) {
				a.w.countStale()
			}
			a.log.Warn("session lock lost; taking it again", "err", err)
			a.dropLock()
		case errors.Is(err, store.ErrCursorBackwards), errors.Is(err, store.ErrPartialDuplicate):
			a.log.Info("store moved under us; reloading", "err", err)
			a.loaded = false
		case errors.Is(err, session.ErrLockHeld):
			if a.w.isStopping() {
				a.w.nak(batch...)
				a.finish()
				return
			}
			a.log.Debug("session locked by another worker; waiting")
		default:
			a.loaded = false
			if seq := a.applying; seq != 0 {
				a.failures[seq]++
				if a.failures[seq] >= a.w.cfg.MaxAttempts {
					a.log.Error("event keeps failing; dead-lettering it", "seq", seq, "attempts", a.failures[seq], "err", err)
					a.giveUp[seq] = fmt.Sprintf("failed %d attempts: %v", a.failures[seq], err)
					continue
				}
			}
			a.log.Warn("transient failure; retrying in place", "attempt", attempt, "seq", a.applying, "err", err)
		}
		select {
		case <-a.w.runCtx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, a.w.cfg.RetryMax)
	}
	a.ack(batch)
	a.finish()
}

func (a *actor) finish() {
	a.mu.Lock()
	a.working = nil
	a.mu.Unlock()
}

// ack hands every delivered message to the worker's acker, to be
// acknowledged (or terminated, for dead events): all of them are now at or
// below the stored cursor.
func (a *actor) ack(batch []delivery) {
	items := make([]ackItem, 0, len(batch))
	for _, d := range batch {
		it := ackItem{d: d}
		if reason, ok := a.dead[d.seq]; ok {
			it.reason = reason
			delete(a.dead, d.seq)
		}
		items = append(items, it)
	}
	a.w.acks.add(a.partition, items...)
	a.w.processed.Add(int64(len(batch)))
}

// step brings the session's cursor up to target: lock, load, gap walk.
func (a *actor) step(ctx context.Context, target uint64) error {
	if err := a.ensureLock(ctx); err != nil {
		return err
	}
	if !a.loaded {
		if err := a.load(ctx); err != nil {
			return err
		}
	}
	if a.cursor.LastSeq >= target {
		return nil
	}
	return a.walk(ctx, target)
}

func (a *actor) ensureLock(ctx context.Context) error {
	if a.locked && !a.lost.Load() {
		return nil
	}
	if a.locked {
		a.dropLock()
	}
	cur, err := a.w.d.Store.Cursor(ctx, a.sid)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	token := session.Token(a.w.cfg.WorkerID, event.NewID())
	fence, err := a.w.locks.Acquire(ctx, a.sid, a.w.cfg.WorkerID, token, cur.Fence)
	if err != nil {
		return err
	}
	// Claim the fence in the store before anything else: a holder that has
	// not written yet (after Redis lost the fence counter, two workers can be
	// handed the same fence) is then refused, whoever claims second.
	if err := a.w.d.Store.ClaimFence(ctx, a.sid, fence); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = a.w.locks.Release(rctx, a.sid, a.w.cfg.WorkerID, token)
		cancel()
		if errors.Is(err, store.ErrStaleFence) {
			return session.ErrLockHeld
		}
		return fmt.Errorf("claim fence: %w", err)
	}
	a.token, a.fence, a.locked, a.loaded = token, fence, true, false
	a.lost.Store(false)
	a.stopRenew, a.renewDone = make(chan struct{}), make(chan struct{})
	go a.renewLoop(token, a.stopRenew, a.renewDone)
	return nil
}

func (a *actor) renewLoop(token string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(a.w.cfg.LockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(a.w.runCtx, a.w.cfg.LockTTL/3)
			err := a.w.locks.Renew(ctx, a.sid, token)
			cancel()
			if errors.Is(err, session.ErrLockLost) {
				a.lost.Store(true)
				return
			}
			if err != nil {
				// Redis away: the store's fence still protects the writes.
				a.log.Debug("renew session lock", "err", err)
			}
		}
	}
}

func (a *actor) dropLock() {
	if !a.locked {
		return
	}
	close(a.stopRenew)
	<-a.renewDone
	a.locked, a.loaded = false, false
}

// release gives the session lock back when the actor exits.
func (a *actor) release() {
	if !a.locked {
		return
	}
	token := a.token
	a.dropLock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.w.runCtx), 2*time.Second)
	defer cancel()
	if err := a.w.locks.Release(ctx, a.sid, a.w.cfg.WorkerID, token); err != nil {
		a.log.Debug("release session lock", "err", err)
	}
}

// load reads the session's cursor and state from the store, where they are
// canonical, and repairs Redis metadata from it when Redis lost it.
func (a *actor) load(ctx context.Context) error {
	st := a.w.d.Store
	cur, err := st.Cursor(ctx, a.sid)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if cur.Fence > a.fence {
		return fmt.Errorf("%w: store has fence %d, we hold %d", store.ErrStaleFence, cur.Fence, a.fence)
	}
	a.cursor = cur
	a.sess, a.sessExists, a.prompt, a.private, a.conv = store.Session{}, false, "", false, nil
	s, err := st.Session(ctx, a.sid)
	switch {
	case err == nil:
		a.sess, a.sessExists = s, true
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read session: %w", err)
	}
	if a.sessExists && a.sess.PromptCount > 0 {
		prompts, err := st.Prompts(ctx, a.sid)
		if err != nil {
			return fmt.Errorf("read prompts: %w", err)
		}
		if n := len(prompts); n > 0 {
			a.prompt, a.private = prompts[n-1].Text, prompts[n-1].Private
		}
	}
	conv, err := st.Conversation(ctx, a.sid)
	switch {
	case err == nil:
		a.conv = conv.State
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read conversation: %w", err)
	}
	a.loaded = true
	if a.sessExists {
		a.repairMeta(ctx)
	}
	return nil
}

func (a *actor) repairMeta(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	if _, err := a.w.meta.Get(ctx, a.sid); !errors.Is(err, session.ErrNoMeta) {
		return
	}
	if err := a.w.meta.Set(ctx, a.metaOf()); err != nil {
		a.log.Debug("repair session metadata", "err", err)
		return
	}
	a.log.Info("session metadata rebuilt from the store")
}

func (a *actor) metaOf() session.Meta {
	return session.Meta{
		SessionID: a.sid, Project: a.sess.Project, Agent: a.sess.Agent, Cwd: a.sess.Cwd,
		Status: a.sess.Status, StartedAt: a.sess.StartedAt, LastEventAt: a.sess.LastEventAt,
		PromptNumber: a.sess.PromptCount,
	}
}

// streamEvent is one stored message of the session, read from the stream.
type streamEvent struct {
	seq       uint64
	at        time.Time
	id        string
	env       *event.Envelope
	decodeErr error
	data      []byte
}

// heldAfter returns the first delivered message in hand after seq.
func (a *actor) heldAfter(seq uint64) (delivery, bool) {
	for _, d := range a.inHand {
		if d.seq > seq {
			return d, true
		}
	}
	return delivery{}, false
}

func (e streamEvent) groupable() bool {
	return e.decodeErr == nil && e.env.Kind == event.KindToolUse
}

// walk applies the session's stored events after the cursor, in stream order,
// up to target. It reads them from the stream (next message on the session's
// subject after the cursor), so order never depends on delivery order,
// redeliveries, or which worker got which message.
func (a *actor) walk(ctx context.Context, target uint64) error {
	var group []streamEvent
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		err := a.applyGroup(ctx, group)
		group = nil
		return err
	}
	pos := a.cursor.LastSeq
	for pos < target {
		raw, err := a.w.stream.GetMsg(ctx, pos+1, jetstream.WithGetMsgSubject(a.subject))
		notFound := errors.Is(err, jetstream.ErrMsgNotFound)
		if err != nil && !notFound {
			return fmt.Errorf("read stream after %d: %w", pos, err)
		}
		// A read served by a replica that lags (or a message not yet visible
		// to it) must not skip a message this actor holds: a delivered one
		// below what the read returned is taken from its delivery.
		var ev streamEvent
		if d, ok := a.heldAfter(pos); ok && (notFound || raw.Sequence > d.seq) {
			meta, _ := d.msg.Metadata()
			ev = streamEvent{seq: d.seq, data: d.msg.Data(), id: d.msg.Headers().Get(jetstream.MsgIDHeader)}
			if meta != nil {
				ev.at = meta.Timestamp.UTC()
			}
		} else {
			if notFound || raw.Sequence > target {
				break
			}
			ev = streamEvent{seq: raw.Sequence, at: raw.Time.UTC(), data: raw.Data, id: raw.Header.Get(jetstream.MsgIDHeader)}
		}
		if ev.seq > target {
			break
		}
		pos = ev.seq
		ev.env, ev.decodeErr = bus.DecodeEvent(ev.data)
		if ev.decodeErr == nil {
			if ev.env.SessionID != a.sid {
				ev.decodeErr = fmt.Errorf("event of session %q stored on the subject of %q", ev.env.SessionID, a.sid)
			} else if ev.env.EventID != "" {
				ev.id = ev.env.EventID
			}
		}
		if ev.id == "" {
			ev.id = fmt.Sprintf("seq-%d", ev.seq)
		}
		if reason, ok := a.giveUp[ev.seq]; ok {
			if err := flush(); err != nil {
				return err
			}
			if err := a.applyDead(ctx, ev, reason); err != nil {
				return err
			}
			continue
		}
		if ev.groupable() && len(group) < a.w.cfg.MaxBatch {
			group = append(group, ev)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		group = append(group, ev)
		if !ev.groupable() {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if a.cursor.LastSeq < target {
		// Delivered messages that are no longer in the stream (deleted or
		// aged out): nothing to apply; they are acknowledged.
		a.log.Warn("delivered messages not found in the stream", "cursor", a.cursor.LastSeq, "target", target)
	}
	return nil
}
