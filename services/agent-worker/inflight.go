package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/redis/go-redis/v9"
)

// inflightOp adds (reply != "") or removes one message of the registry.
type inflightOp struct {
	seq   uint64
	reply string
}

// inflightTracker keeps the worker's in-flight registry in Redis (seq → ack
// reply subject, for the reaper) off the message path: operations are queued
// and written in batches, and dropped when Redis is away, since the registry
// only speeds up recovery; correctness never depends on it.
type inflightTracker struct {
	rdb  redis.UniversalClient
	key  string
	log  *slog.Logger
	ops  chan inflightOp
	done chan struct{}
}

func newInflightTracker(rdb redis.UniversalClient, workerID string, log *slog.Logger) *inflightTracker {
	return &inflightTracker{rdb: rdb, key: session.InflightKey(workerID), log: log, ops: make(chan inflightOp, 8192), done: make(chan struct{})}
}

func (t *inflightTracker) add(seq uint64, reply string) { t.push(inflightOp{seq: seq, reply: reply}) }
func (t *inflightTracker) remove(seq uint64)            { t.push(inflightOp{seq: seq}) }

func (t *inflightTracker) push(op inflightOp) {
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
	var batch []inflightOp
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

func (t *inflightTracker) flush(batch []inflightOp) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, op := range batch {
			f := strconv.FormatUint(op.seq, 10)
			if op.reply != "" {
				p.HSet(ctx, t.key, f, op.reply)
			} else {
				p.HDel(ctx, t.key, f)
			}
		}
		p.Expire(ctx, t.key, 24*time.Hour)
		return nil
	})
	if err != nil {
		t.log.Debug("in-flight registry not written", "ops", len(batch), "err", err)
	}
}
