package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/nats-io/nats.go/jetstream"
)

// puller pulls one partition's durable consumer with Messages()/Next() (not
// Consume(): handlers are long) and dispatches each message to its actor.
type puller struct {
	w    *Worker
	p    int
	done chan struct{}

	mu   sync.Mutex
	iter jetstream.MessagesContext
	once sync.Once
}

func newPuller(w *Worker, p int) *puller {
	return &puller{w: w, p: p, done: make(chan struct{})}
}

// stop drains the iterator: already pulled messages are still dispatched (and
// NAKed by their actors at shutdown), then run returns.
func (pl *puller) stop() {
	pl.once.Do(func() {
		close(pl.done)
		pl.mu.Lock()
		if pl.iter != nil {
			pl.iter.Drain()
		}
		pl.mu.Unlock()
	})
}

func (pl *puller) stopped() bool {
	select {
	case <-pl.done:
		return true
	default:
		return false
	}
}

func (pl *puller) run() {
	log := pl.w.log.With("partition", pl.p)
	backoff := 100 * time.Millisecond
	for !pl.stopped() {
		iter, err := pl.open()
		if err != nil {
			log.Warn("open partition consumer", "err", err)
			select {
			case <-pl.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for {
			m, err := iter.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
					break
				}
				// Missed heartbeats and the like while the server is away:
				// the iterator recovers by itself, unless the consumer is
				// gone (memory state lost with a restarted broker): then
				// reopen, which recreates it from the recorded floor.
				log.Debug("pull", "err", err)
				if pl.stopped() || (errors.Is(err, jetstream.ErrNoHeartbeat) && pl.consumerGone()) {
					iter.Stop()
					break
				}
				continue
			}
			pl.w.dispatch(pl.p, m)
		}
		if !pl.stopped() {
			log.Warn("partition iterator closed; reopening")
			time.Sleep(backoff)
		}
	}
}

func (pl *puller) open() (jetstream.MessagesContext, error) {
	ctx, cancel := context.WithTimeout(pl.w.runCtx, 5*time.Second)
	defer cancel()
	cons, err := pl.w.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(pl.p))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		pl.w.log.Warn("partition consumer missing; recreating it after its recorded ack floor", "partition", pl.p)
		if err = bus.EnsureConsumer(ctx, pl.w.d.JS, pl.w.cfg.Layout, pl.p, pl.w.floors); err == nil {
			cons, err = pl.w.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(pl.p))
		}
	}
	if err != nil {
		return nil, err
	}
	iter, err := cons.Messages(
		jetstream.PullMaxMessages(pl.w.cfg.PullBatch),
		jetstream.PullExpiry(10*time.Second),
		// Missed heartbeats are how a lost consumer shows (run): 2 s
		// makes a restarted broker's pulls resume within seconds.
		jetstream.PullHeartbeat(2*time.Second),
	)
	if err != nil {
		return nil, err
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.stopped() {
		iter.Stop()
		return nil, errors.New("stopped")
	}
	pl.iter = iter
	return iter, nil
}

// consumerGone reports whether the partition's consumer no longer exists on
// a reachable server.
func (pl *puller) consumerGone() bool {
	ctx, cancel := context.WithTimeout(pl.w.runCtx, 5*time.Second)
	defer cancel()
	_, err := pl.w.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(pl.p))
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}
