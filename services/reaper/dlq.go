package reaper

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Advisory types the reaper turns into dead letters.
const (
	AdvisoryTypeMaxDeliver = "io.nats.jetstream.advisory.v1.max_deliver"
	AdvisoryTypeTerminated = "io.nats.jetstream.advisory.v1.terminated"
)

// advisory is the part of a MAX_DELIVERIES or MSG_TERMINATED advisory the
// reaper reads.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason"`
}

// Entry is one message of the MNEMO_DLQ stream: a dead event with why.
type Entry struct {
	EventID    string          `json:"event_id"`
	SessionID  string          `json:"session_id"`
	Stream     string          `json:"stream"`
	Seq        uint64          `json:"seq"`
	Consumer   string          `json:"consumer,omitempty"`
	Kind       string          `json:"kind"` // max_deliveries | terminated
	Reason     string          `json:"reason"`
	Deliveries uint64          `json:"deliveries"`
	AcceptedAt time.Time       `json:"accepted_at,omitzero"`
	At         time.Time       `json:"at"`
	Envelope   json.RawMessage `json:"envelope,omitempty"` // the original event, as stored
	// Missing is set when the original was no longer in the stream.
	Missing bool `json:"missing,omitempty"`
}

// DLQMsgID is the Nats-Msg-Id of the dead-letter entry of a stream message:
// deterministic, so two leaders or a retry store it once.
func DLQMsgID(stream string, seq uint64) string {
	return "dlq-" + stream + "-" + strconv.FormatUint(seq, 10)
}

// drainAdvisories turns every captured advisory into a DLQ entry and a store
// dead-letter row, acknowledging the advisory only once both are written.
func (r *Reaper) drainAdvisories(ctx context.Context) error {
	for r.lead.Leader() {
		batch, err := r.advisoryConsumer().FetchNoWait(64)
		if err != nil {
			// The consumer may have been deleted or lost: make it again.
			if eerr := r.ensure(ctx); eerr != nil {
				err = errors.Join(err, eerr)
			}
			return fmt.Errorf("reaper: fetch advisories: %w", err)
		}
		n := 0
		var errs []error
		for m := range batch.Messages() {
			n++
			if err := r.deadLetter(ctx, m); err != nil {
				errs = append(errs, err)
				_ = m.NakWithDelay(time.Second)
				continue
			}
			if err := m.Ack(); err != nil {
				errs = append(errs, fmt.Errorf("reaper: ack advisory: %w", err))
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			if eerr := r.ensure(ctx); eerr != nil {
				err = errors.Join(err, eerr)
			}
			errs = append(errs, fmt.Errorf("reaper: fetch advisories: %w", err))
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if n == 0 {
			return nil
		}
	}
	return errNotLeader
}

func (r *Reaper) deadLetter(ctx context.Context, m jetstream.Msg) error {
	var adv advisory
	if err := json.Unmarshal(m.Data(), &adv); err != nil {
		r.log.Error("undecodable advisory dropped", "subject", m.Subject(), "err", err)
		return nil
	}
	var kind, reason string
	switch adv.Type {
	case AdvisoryTypeMaxDeliver:
		kind = "max_deliveries"
		reason = fmt.Sprintf("delivered %d times without an ack (max deliver) on consumer %s", adv.Deliveries, adv.Consumer)
	case AdvisoryTypeTerminated:
		kind = "terminated"
		reason = adv.Reason
		if reason == "" {
			reason = "terminated by consumer " + adv.Consumer
		}
	default:
		return nil
	}
	if adv.Stream != bus.EventsStream || adv.StreamSeq == 0 {
		return nil
	}
	e := Entry{
		Stream: adv.Stream, Seq: adv.StreamSeq, Consumer: adv.Consumer, Kind: kind, Reason: reason,
		Deliveries: adv.Deliveries, At: time.Now().UTC(),
	}
	raw, err := r.stream().GetMsg(ctx, adv.StreamSeq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		e.Missing = true
		e.EventID = fmt.Sprintf("seq-%d", adv.StreamSeq)
	case err != nil:
		return fmt.Errorf("reaper: fetch dead event %d: %w", adv.StreamSeq, err)
	default:
		e.Envelope = raw.Data
		e.AcceptedAt = raw.Time.UTC()
		e.EventID, e.SessionID = identify(raw)
	}
	log := r.log.With("session", e.SessionID, "seq", e.Seq, "event", e.EventID)
	if kind == "max_deliveries" && !e.Missing {
		// A slow worker can exhaust deliveries of an event that its actor
		// then applies from the stream: such an event is not dead, and a
		// dead letter for it would let a replay duplicate its memory.
		applied, err := r.d.Store.AppliedSeqs(ctx, []string{e.EventID})
		if err != nil {
			return fmt.Errorf("reaper: check whether %d was applied: %w", e.Seq, err)
		}
		if _, ok := applied[e.EventID]; ok {
			log.Info("deliveries exhausted but the event is applied; no dead letter")
			return nil
		}
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("reaper: encode dlq entry: %w", err)
	}
	sid := e.SessionID
	if sid == "" || !event.ValidSessionID(sid) {
		sid = "_unknown"
	}
	out := nats.NewMsg(bus.DLQSubject(sid))
	out.Data = body
	out.Header.Set(jetstream.MsgIDHeader, DLQMsgID(e.Stream, e.Seq))
	out.Header.Set(jetstream.ExpectedStreamHeader, bus.DLQStream)
	if _, err := r.d.JS.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("reaper: publish dlq entry of %d: %w", e.Seq, err)
	}
	id, err := r.d.Store.AddDeadLetter(ctx, store.DeadLetter{
		EventID: e.EventID, SessionID: e.SessionID, Seq: e.Seq, Reason: reason,
		Deliveries: int(adv.Deliveries), Payload: e.Envelope, At: e.At,
	})
	if err != nil {
		return fmt.Errorf("reaper: store dead letter of %d: %w", e.Seq, err)
	}
	r.deadLetters.Add(1)
	r.m.deadLetters.WithLabelValues(kind).Inc()
	log.Warn("event dead-lettered", "kind", kind, "reason", reason, "deliveries", adv.Deliveries, "consumer", adv.Consumer, "dead_letter", id)
	return nil
}

// identify returns the event ID and session of a stored event exactly as the
// worker names them: the envelope's event ID when it decodes and belongs to
// the subject's session, else the Nats-Msg-Id, else seq-N.
func identify(raw *jetstream.RawStreamMsg) (eventID, sid string) {
	sid, _ = bus.SessionOfSubject(raw.Subject)
	eventID = raw.Header.Get(jetstream.MsgIDHeader)
	if env, err := bus.DecodeEvent(raw.Data); err == nil && env.SessionID == sid && env.EventID != "" {
		eventID = env.EventID
	}
	if eventID == "" {
		eventID = fmt.Sprintf("seq-%d", raw.Sequence)
	}
	return eventID, sid
}

// ErrAlreadyReplayed means the dead letter was replayed before (the bus's
// sentinel, so that a replay asked over the bus reports the same).
var ErrAlreadyReplayed = bus.ErrAlreadyReplayed

// ReplayID is the event ID a dead letter is replayed under: a ULID made from
// the dead letter, so that a replay retried after a crash is deduplicated
// (by JetStream, then by the store) instead of applied twice.
func ReplayID(d store.DeadLetter) string {
	h := sha256.Sum256([]byte("replay\x00" + d.EventID + "\x00" + strconv.FormatUint(d.Seq, 10)))
	return event.IDFrom(d.At, h[:])
}

// Replay republishes a dead letter's original event with a new event ID whose
// replay_of records the original, on the normal publish subject, and marks
// the dead letter replayed. It returns the new event ID.
func Replay(ctx context.Context, js jetstream.JetStream, st store.Store, id int64) (string, error) {
	d, err := st.DeadLetter(ctx, id)
	if err != nil {
		return "", err
	}
	if d.ReplayedAs != "" {
		return d.ReplayedAs, fmt.Errorf("%w: dead letter %d as %s", ErrAlreadyReplayed, id, d.ReplayedAs)
	}
	if len(d.Payload) == 0 {
		return "", fmt.Errorf("reaper: dead letter %d has no original event to replay", id)
	}
	env, err := bus.DecodeEvent(d.Payload)
	if err != nil {
		return "", fmt.Errorf("reaper: dead letter %d: the original is not an event envelope: %w", id, err)
	}
	if env.SessionID == "" || !event.ValidSessionID(env.SessionID) {
		return "", fmt.Errorf("reaper: dead letter %d: the original has no valid session ID", id)
	}
	env.ReplayOf = d.EventID
	env.EventID = ReplayID(d)
	if _, err := bus.Publish(ctx, js, env); err != nil {
		return "", err
	}
	if err := st.MarkReplayed(ctx, id, env.EventID); err != nil {
		return env.EventID, fmt.Errorf("reaper: mark dead letter %d replayed: %w", id, err)
	}
	return env.EventID, nil
}
