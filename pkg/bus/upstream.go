package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// UpstreamConsumer is the durable consumer on a machine's local events stream
// that forwards every event to the shared cluster (`mnemo run --upstream`).
const UpstreamConsumer = "upstream"

// Forwarder copies a machine's locally accepted events to an upstream
// cluster's MNEMO_EVENTS, so that a laptop offline keeps accepting events
// (they are durable locally) and the cluster receives each once the link is
// back: in stream order, one at a time (so each session keeps its order), a
// local message acknowledged only after the upstream PubAck, with the event
// ID as Nats-Msg-Id (JetStream dedupes a retried forward, the store dedupes
// one beyond the dedupe window).
type Forwarder struct {
	Local    jetstream.JetStream
	Upstream jetstream.JetStream
	Log      *slog.Logger
	// Timeout bounds one upstream publish (default 5 s).
	Timeout time.Duration
}

// Run forwards until ctx ends. It only returns ctx's error or a setup error.
func (f *Forwarder) Run(ctx context.Context) error {
	if f.Timeout <= 0 {
		f.Timeout = 5 * time.Second
	}
	s, err := f.Local.Stream(ctx, EventsStream)
	if err != nil {
		return fmt.Errorf("bus: upstream: local stream: %w", err)
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       UpstreamConsumer,
		Description:   "forwards this machine's events to the shared cluster",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1, // strictly in stream order
	})
	if err != nil {
		return fmt.Errorf("bus: upstream: consumer: %w", err)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
				continue
			}
			f.Log.Debug("upstream: fetch", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for ctx.Err() == nil {
			err := f.forward(ctx, msg)
			if err == nil {
				backoff = 100 * time.Millisecond
				break
			}
			f.Log.Warn("upstream unreachable; holding events locally", "subject", msg.Subject(), "err", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			_ = msg.InProgress()
		}
		if ctx.Err() != nil {
			_ = msg.Nak()
		}
	}
	return ctx.Err()
}

// forward publishes one local message upstream and acks it locally.
func (f *Forwarder) forward(ctx context.Context, msg jetstream.Msg) error {
	e, err := DecodeEvent(msg.Data())
	if err != nil || e.SessionID == "" {
		f.Log.Error("upstream: undecodable local event dropped from forwarding", "subject", msg.Subject(), "err", err)
		return msg.Term()
	}
	out, err := EventMsg(e)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	if _, err := f.Upstream.PublishMsg(pctx, out); err != nil {
		return err
	}
	return msg.DoubleAck(ctx)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
