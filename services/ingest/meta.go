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

// metaWriter writes session metadata to Redis off the request path. It is best
// effort by design (DESIGN.md §5): a slow or dead Redis never delays or fails
// an accepted event; updates beyond the queue are dropped and the worker
// repairs the metadata from the store.
type metaWriter struct {
	meta    *session.MetaStore
	log     *slog.Logger
	m       *metrics
	q       chan metaUpdate
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Int64
	mu      sync.Mutex // guards closed against touch
	closed  bool
}

type metaUpdate struct {
	sid, project, agent, cwd string
	at                       time.Time
}

func newMetaWriter(meta *session.MetaStore, queue int, log *slog.Logger, m *metrics) *metaWriter {
	w := &metaWriter{meta: meta, log: log, m: m, q: make(chan metaUpdate, queue), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *metaWriter) touch(e *event.Envelope) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	select {
	case w.q <- metaUpdate{sid: e.SessionID, project: e.Project, agent: e.Agent, cwd: e.Cwd, at: e.At}:
	default:
		w.dropped.Add(1)
		w.m.metaDropped.Inc()
	}
}

func (w *metaWriter) run() {
	defer close(w.done)
	failing := false
	for {
		select {
		case u := <-w.q:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := w.meta.Touch(ctx, u.sid, u.project, u.agent, u.cwd, u.at)
			cancel()
			if err != nil {
				w.m.metaFailed.Inc()
				if !failing { // log the transition, not every event
					w.log.Warn("session metadata not written; the worker will repair it", "session", u.sid, "err", err)
				}
			} else if failing {
				w.log.Info("session metadata writes resumed")
			}
			failing = err != nil
		case <-w.stop:
			return
		}
	}
}

// close stops taking updates and gives the queued ones up to grace.
func (w *metaWriter) close(grace time.Duration) {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	deadline := time.After(grace)
	for len(w.q) > 0 {
		select {
		case <-deadline:
			close(w.stop)
			<-w.done
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(w.stop)
	<-w.done
}
