package reaper

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/nats-io/nats.go/jetstream"
)

// IdleSource is the source of a stop the reaper synthesizes for an idle
// session.
const IdleSource = "idle"

// idleBatch bounds the idle sessions handled in one pass.
const idleBatch = 256

// StopID is the event ID (and Nats-Msg-Id) of the synthetic stop that closes
// a session idle after event lastEventID: derived from both, so any reaper,
// at any time, asks for that summary under the same ID, and JetStream (within
// its duplicate window) and the store (always) keep one.
func StopID(sid, lastEventID string, lastAt time.Time) string {
	h := sha256.Sum256([]byte("idle-stop\x00" + sid + "\x00" + lastEventID))
	return event.IDFrom(lastAt.Add(time.Millisecond), h[:])
}

// summarizeIdle publishes a synthetic stop for every session whose last event
// is older than IdleSummary and is not a stop or an end. The stop goes
// through the normal publish subject, so the worker makes the summary in
// order with the session's other events. A session whose last stored event
// is already a stop (a real one, or ours from an earlier pass or another
// reaper) only leaves the active set.
func (r *Reaper) summarizeIdle(ctx context.Context) error {
	before := time.Now().Add(-r.cfg.IdleSummary)
	sids, err := r.meta.Idle(ctx, before, idleBatch)
	if err != nil {
		return err
	}
	return r.eachWhileLeader(sids, func(sid string) error { return r.closeIdle(ctx, sid, before) })
}

func (r *Reaper) closeIdle(ctx context.Context, sid string, before time.Time) error {
	log := r.log.With("session", sid)
	if !event.ValidSessionID(sid) {
		log.Warn("invalid session ID in the active set; dropped")
		return r.meta.DeactivateIfNoEventSince(ctx, sid, before)
	}
	subject := bus.StoredSubject(sid, r.cfg.Layout.Partitions)
	raw, err := r.stream().GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Nothing stored (aged out, or never accepted): nothing to summarize.
		return r.meta.DeactivateIfNoEventSince(ctx, sid, before)
	}
	if err != nil {
		return fmt.Errorf("reaper: last event of %s: %w", sid, err)
	}
	if raw.Time.After(before) {
		return nil // an event arrived meanwhile: not idle after all
	}
	lastID, _ := identify(raw)
	env, err := bus.DecodeEvent(raw.Data)
	if err == nil && (env.Kind == event.KindStop || env.Kind == event.KindSessionEnd) {
		// Summarized or ended (or our stop awaits the worker): not idle.
		return r.meta.DeactivateIfNoEventSince(ctx, sid, before)
	}
	stop := &event.Envelope{
		EventID:   StopID(sid, lastID, raw.Time),
		SessionID: sid,
		Kind:      event.KindStop,
		At:        time.Now().UTC(),
		Source:    IdleSource,
	}
	if env != nil {
		stop.Project, stop.Agent, stop.Cwd = env.Project, env.Agent, env.Cwd
	}
	if m, err := r.meta.Get(ctx, sid); err == nil {
		stop.Project = first(stop.Project, m.Project)
		stop.Agent = first(stop.Agent, m.Agent)
		stop.Cwd = first(stop.Cwd, m.Cwd)
	}
	ack, err := bus.Publish(ctx, r.d.JS, stop)
	if err != nil {
		return err
	}
	r.idleStops.Add(1)
	r.m.idleStops.Inc()
	log.Info("idle session: stop published for its summary", "event", stop.EventID, "after", lastID,
		"seq", ack.Sequence, "duplicate", ack.Duplicate)
	return nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
