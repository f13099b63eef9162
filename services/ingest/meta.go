package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/session"
)

// metaChunk bounds the sessions written in one Redis round trip.
const metaChunk = 256

// metaEvery is the least time between two rounds of metadata writes: the
// metadata lags the stream by at most this much (plus Redis's answer).
const metaEvery = 250 * time.Millisecond

// metaWriteTimeout bounds one round trip of metadata writes.
const metaWriteTimeout = time.Second

// metaWriter writes session metadata to Redis off the request path. It is best
// effort by design (docs/ARCHITECTURE.md §5): a slow or dead Redis never delays or fails
// an accepted event. The events of a session accepted while a write is under
// way fold into one pending update, so Redis sees one write per active session
// and round trip, whatever the event rate. Beyond limit pending sessions,
// updates for further sessions are dropped and the worker repairs them from
// the store.
type metaWriter struct {
	ctx     context.Context // the writes' values, never cancelled
	meta    *session.MetaStore
	log     *slog.Logger
	m       *metrics
	limit   int
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	grace   time.Duration // set before stop is closed
	dropped atomic.Int64

	mu      sync.Mutex // guards pending and closed
	pending map[string]session.Activity
	closed  bool
}

// newMetaWriter starts the writer; its writes carry ctx's values but outlive
// its end (close stops them).
func newMetaWriter(ctx context.Context, meta *session.MetaStore, limit int, log *slog.Logger, m *metrics) *metaWriter {
	w := &metaWriter{ctx: context.WithoutCancel(ctx), meta: meta, log: log, m: m, limit: limit,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		pending: make(map[string]session.Activity)}
	go w.run()
	return w
}

// touch folds an accepted event into its session's pending update.
func (w *metaWriter) touch(e *event.Envelope) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	a, ok := w.pending[e.SessionID]
	switch {
	case ok:
		a.Merge(e.Project, e.Agent, e.Cwd, e.At)
	case len(w.pending) >= w.limit:
		w.mu.Unlock()
		w.dropped.Add(1)
		w.m.metaDropped.Inc()
		return
	default:
		a = session.Activity{SessionID: e.SessionID, Project: e.Project, Agent: e.Agent, Cwd: e.Cwd, First: e.At, Last: e.At}
	}
	w.pending[e.SessionID] = a
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // a write is already due
	}
}

func (w *metaWriter) run() {
	defer close(w.done)
	final := func(failing bool) {
		ctx, cancel := context.WithTimeout(w.ctx, w.grace)
		defer cancel()
		w.flush(ctx, failing)
	}
	failing := false
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			final(failing)
			return
		}
		failing = w.flush(w.ctx, failing)
		// Let the next events of the sessions just written fold together.
		rest := time.NewTimer(metaEvery)
		select {
		case <-rest.C:
		case <-w.stop:
			rest.Stop()
			final(failing)
			return
		}
	}
}

// flush writes every pending update and reports whether writes are failing;
// it logs the transitions, not every failed write.
func (w *metaWriter) flush(ctx context.Context, failing bool) bool {
	w.mu.Lock()
	batch := w.pending
	w.pending = make(map[string]session.Activity, len(batch))
	w.mu.Unlock()
	acts := make([]session.Activity, 0, len(batch))
	for _, a := range batch {
		acts = append(acts, a)
	}
	for len(acts) > 0 {
		n := min(len(acts), metaChunk)
		wctx, cancel := context.WithTimeout(ctx, metaWriteTimeout)
		err := w.meta.TouchAll(wctx, acts[:n])
		cancel()
		if err != nil {
			w.m.metaFailed.Add(float64(n))
			if !failing {
				w.log.Warn("session metadata not written; the worker will repair it", "sessions", n, "err", err)
			}
		} else if failing {
			w.log.Info("session metadata writes resumed")
		}
		failing = err != nil
		acts = acts[n:]
	}
	return failing
}

// close stops taking updates and gives the pending ones up to grace.
func (w *metaWriter) close(grace time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	w.grace = grace
	close(w.stop)
	<-w.done
}
