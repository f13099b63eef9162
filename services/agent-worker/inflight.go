package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/redis/go-redis/v9"
)

// inflightTracker keeps the worker's in-flight registry in Redis (seq → ack
// reply subject, for the reaper) off the message path: operations are queued
// and written in batches, and dropped when Redis is away, since the registry
// only speeds up recovery; correctness never depends on it.
type inflightTracker struct {
	reg  *session.InflightRegistry
	log  *slog.Logger
	ops  chan session.InflightChange
	done chan struct{}
}

func newInflightTracker(rdb redis.UniversalClient, workerID string, log *slog.Logger) *inflightTracker {
	return &inflightTracker{reg: session.NewInflightRegistry(rdb, workerID), log: log, ops: make(chan session.InflightChange, 8192), done: make(chan struct{})}
}

func (t *inflightTracker) add(seq uint64, reply string) {
	t.push(session.InflightChange{Seq: seq, Reply: reply})
}
func (t *inflightTracker) remove(seq uint64) { t.push(session.InflightChange{Seq: seq}) }

func (t *inflightTracker) push(op session.InflightChange) {
	select {
	case t.ops <- op:
	default: // full: Redis is slow or away; the registry is best effort
	}
}

// run writes queued operations until stop is closed, then flushes once more.
func (t *inflightTracker) run(stop <-chan struct{}) {
	defer close(t.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var batch []session.InflightChange
	for {
		select {
		case op := <-t.ops:
			batch = append(batch, op)
			if len(batch) < 512 {
				continue
			}
		case <-tick.C:
		case <-stop:
			for {
				select {
				case op := <-t.ops:
					batch = append(batch, op)
					continue
				default:
				}
				break
			}
			t.flush(batch)
			return
		}
		t.flush(batch)
		batch = batch[:0]
	}
}

func (t *inflightTracker) flush(batch []session.InflightChange) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := t.reg.Apply(ctx, batch...); err != nil {
		t.log.Debug("in-flight registry not written", "ops", len(batch), "err", err)
	}
}
