package reaper

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

// PartitionAudit is what the audit saw of one partition consumer.
type PartitionAudit struct {
	Partition   int
	Pending     uint64
	AckPending  int
	Redelivered int
	AckFloor    uint64
	// OldestUnacked is the age of the oldest message not yet acknowledged
	// (the first one after the ack floor), zero when none.
	OldestUnacked time.Duration
	Stuck         bool
}

// audit reads every partition consumer's info, exports it, and flags the
// partitions whose oldest unacknowledged message is older than StuckAfter.
func (r *Reaper) audit(ctx context.Context) error {
	res, err := r.AuditPartitions(ctx)
	stuck := 0
	for _, a := range res {
		if a.Stuck {
			stuck++
		}
	}
	r.stuck.Store(int64(stuck))
	r.m.stuck.Set(float64(stuck))
	return err
}

// AuditPartitions audits every partition consumer once (it needs no
// leadership: it only reads) and updates the metrics.
func (r *Reaper) AuditPartitions(ctx context.Context) ([]PartitionAudit, error) {
	if r.stream() == nil {
		return nil, errors.New("reaper: not started: the streams are not known yet")
	}
	var out []PartitionAudit
	var errs []error
	for p := 0; p < r.cfg.Layout.Partitions; p++ {
		a, err := r.auditPartition(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

func (r *Reaper) auditPartition(ctx context.Context, p int) (PartitionAudit, error) {
	a := PartitionAudit{Partition: p}
	c, err := r.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(p))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return a, nil // no worker created it yet
	}
	if err != nil {
		return a, fmt.Errorf("reaper: consumer %s: %w", bus.ConsumerName(p), err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return a, fmt.Errorf("reaper: consumer info %s: %w", bus.ConsumerName(p), err)
	}
	a.Pending, a.AckPending, a.Redelivered, a.AckFloor = info.NumPending, info.NumAckPending, info.NumRedelivered, info.AckFloor.Stream
	var oldest *jetstream.RawStreamMsg
	if a.AckPending > 0 || a.Pending > 0 {
		raw, err := r.stream().GetMsg(ctx, a.AckFloor+1, jetstream.WithGetMsgSubject(bus.PartitionFilter(p)))
		switch {
		case err == nil:
			a.OldestUnacked = max(time.Since(raw.Time), 0)
			oldest = raw
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return a, fmt.Errorf("reaper: oldest unacked of partition %d: %w", p, err)
		}
	}
	a.Stuck = a.OldestUnacked > r.cfg.StuckAfter
	label := strconv.Itoa(p)
	r.m.pending.WithLabelValues(label).Set(float64(a.Pending))
	r.m.ackPending.WithLabelValues(label).Set(float64(a.AckPending))
	r.m.redelivered.WithLabelValues(label).Set(float64(a.Redelivered))
	r.m.ackFloor.WithLabelValues(label).Set(float64(a.AckFloor))
	r.m.oldestUnacked.WithLabelValues(label).Set(a.OldestUnacked.Seconds())
	if a.Stuck {
		holder, _ := session.LeaseHolder(ctx, r.d.Redis, p)
		sid, _ := bus.SessionOfSubject(oldest.Subject)
		// Against the store's cursor: applied but unacked means lost acks
		// (harmless, redelivery is skipped); behind means the session is
		// really stuck.
		var cursor uint64
		if c, err := r.d.Store.Cursor(ctx, sid); err == nil {
			cursor = c.LastSeq
		}
		r.log.Warn("partition stuck: oldest unacknowledged message is old", "partition", p,
			"oldest", a.OldestUnacked.Round(time.Second), "seq", oldest.Sequence, "session", sid,
			"store_cursor", cursor, "applied", cursor >= oldest.Sequence,
			"pending", a.Pending, "ack_pending", a.AckPending,
			"redelivered", a.Redelivered, "ack_floor", a.AckFloor, "worker", holder)
	}
	return a, nil
}

// rebuildMeta writes Redis metadata for recent active sessions of the store
// that Redis lost (restart, eviction), so idle detection and stats see them.
// A session rebuilt after its summary is dropped again by the idle pass,
// which finds its stop in the stream.
func (r *Reaper) rebuildMeta(ctx context.Context) error {
	horizon := time.Now().Add(-session.MetaTTL)
	const page = 500
	for off := 0; ; off += page {
		ss, err := r.d.Store.Sessions(ctx, store.SessionFilter{Status: store.StatusActive, Limit: page, Offset: off})
		if err != nil {
			return fmt.Errorf("reaper: list active sessions: %w", err)
		}
		for _, s := range ss {
			if s.LastEventAt.Before(horizon) {
				return nil // newest first: the rest are older still
			}
			if !r.lead.Leader() {
				return errNotLeader
			}
			if _, err := r.meta.Get(ctx, s.ID); !errors.Is(err, session.ErrNoMeta) {
				if err != nil {
					return err
				}
				continue
			}
			if err := r.meta.Set(ctx, session.Meta{
				SessionID: s.ID, Project: s.Project, Agent: s.Agent, Cwd: s.Cwd, Status: s.Status,
				StartedAt: s.StartedAt, LastEventAt: s.LastEventAt, PromptNumber: s.PromptCount,
			}); err != nil {
				return err
			}
			r.metaRebuilt.Add(1)
			r.m.metaRebuilt.Inc()
			r.log.Info("session metadata rebuilt from the store", "session", s.ID)
		}
		if len(ss) < page {
			return nil
		}
	}
}
