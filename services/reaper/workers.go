package reaper

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/mnemo-dev/mnemo/pkg/session"
)

// nakBody is the JetStream NAK: the message is redelivered at once.
var nakBody = []byte("-NAK")

// reapWorkers releases the work of every worker whose heartbeat expired: its
// partition leases and session locks go first, so the survivors can take
// them, then each message it registered as in flight is NAKed through its ack
// reply subject, so it is redelivered now rather than after AckWait; last the
// worker is forgotten. Each step is idempotent: a reaper that dies half-way
// leaves the worker in the registry, and the next pass redoes it.
func (r *Reaper) reapWorkers(ctx context.Context) error {
	dead, err := session.DeadWorkers(ctx, r.d.Redis, r.cfg.MemberTTL)
	if err != nil {
		return err
	}
	return r.eachWhileLeader(dead, func(id string) error { return r.reapWorker(ctx, id) })
}

func (r *Reaper) reapWorker(ctx context.Context, id string) error {
	log := r.log.With("worker", id)
	leases, err := session.ReleaseWorkerLeases(ctx, r.d.Redis, id, r.cfg.Layout.Partitions)
	if err != nil {
		return err
	}
	locks, err := r.locks.ReleaseWorker(ctx, id)
	if err != nil {
		return err
	}
	inflight, err := session.Inflight(ctx, r.d.Redis, id)
	if err != nil {
		return err
	}
	seqs := make([]string, 0, len(inflight))
	for seq := range inflight {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool {
		a, _ := strconv.ParseUint(seqs[i], 10, 64)
		b, _ := strconv.ParseUint(seqs[j], 10, 64)
		return a < b
	})
	for _, seq := range seqs {
		reply := inflight[seq]
		if reply == "" {
			continue
		}
		// An ack subject of a message that was acked or redelivered meanwhile
		// is ignored by the server or redelivers a message early: harmless,
		// since the worker skips what the store already has.
		if err := r.d.NC.Publish(reply, nakBody); err != nil {
			return fmt.Errorf("reaper: nak seq %s of worker %s: %w", seq, id, err)
		}
	}
	if len(seqs) > 0 {
		if err := r.d.NC.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("reaper: flush naks of worker %s: %w", id, err)
		}
	}
	if err := session.ForgetWorker(ctx, r.d.Redis, id); err != nil {
		return err
	}
	r.deadWorkers.Add(1)
	r.naked.Add(int64(len(seqs)))
	r.m.deadWorkers.Inc()
	r.m.naked.Add(float64(len(seqs)))
	log.Warn("dead worker reaped", "naked", len(seqs), "leases", leases, "locks", len(locks), "seqs", seqs)
	return nil
}
