package bus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventMsg builds the message for one envelope: its subject, its JSON body
// and the Nats-Msg-Id header (the event ID) that JetStream deduplicates on.
func EventMsg(e *event.Envelope) (*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("bus: encode event %s: %w", e.EventID, err)
	}
	return EncodedEventMsg(e, data), nil
}

// EncodedEventMsg is EventMsg for an envelope whose JSON the caller already
// holds as data (ingest, for a body that needed no change).
func EncodedEventMsg(e *event.Envelope, data []byte) *nats.Msg {
	m := nats.NewMsg(PublishSubject(e.SessionID))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.EventID)
	m.Header.Set(jetstream.ExpectedStreamHeader, EventsStream)
	return m
}

// Publish publishes one envelope and returns only once JetStream has
// acknowledged it as stored (or as a duplicate of a stored event).
func Publish(ctx context.Context, js jetstream.JetStream, e *event.Envelope) (*jetstream.PubAck, error) {
	m, err := EventMsg(e)
	if err != nil {
		return nil, err
	}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("bus: publish event %s: %w", e.EventID, err)
	}
	return ack, nil
}

// DecodeEvent decodes a stored event message body.
func DecodeEvent(data []byte) (*event.Envelope, error) {
	var e event.Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("bus: decode event: %w", err)
	}
	return &e, nil
}
