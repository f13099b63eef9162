package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrAlreadyReplayed means the dead letter was replayed before.
var ErrAlreadyReplayed = errors.New("dead letter already replayed")

// ErrNoReaper means no reaper answered a replay request: none is running,
// or none may be reached with this connection's permissions.
var ErrNoReaper = errors.New("no reaper answered on " + ReplaySubject)

// ReplayRequest asks a reaper to replay dead letter ID.
type ReplayRequest struct {
	ID int64 `json:"id"`
}

// ReplayAnswer is a reaper's answer: the event ID the dead letter was
// replayed as, or why it was not (Replayed true: it was replayed before, as
// EventID).
type ReplayAnswer struct {
	EventID  string `json:"event_id,omitempty"`
	Replayed bool   `json:"already_replayed,omitempty"`
	Error    string `json:"error,omitempty"`
}

// RequestReplay asks a reaper over nc to replay dead letter id and returns
// the new event ID. Errors: ErrAlreadyReplayed, ErrNoReaper, or the
// reaper's reason.
func RequestReplay(ctx context.Context, nc *nats.Conn, id int64) (string, error) {
	body, err := json.Marshal(ReplayRequest{ID: id})
	if err != nil {
		return "", err
	}
	m, err := nc.RequestWithContext(ctx, ReplaySubject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return "", ErrNoReaper
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		// A request this connection may not publish is dropped by the
		// server without an answer: it ends here too.
		return "", fmt.Errorf("%w in time (may this connection publish there?)", ErrNoReaper)
	case err != nil:
		return "", fmt.Errorf("replay dead letter %d: %w", id, err)
	}
	var a ReplayAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return "", fmt.Errorf("replay dead letter %d: the reaper's answer %.80q: %w", id, m.Data, err)
	}
	switch {
	case a.Replayed:
		return a.EventID, fmt.Errorf("%w: dead letter %d as %s", ErrAlreadyReplayed, id, a.EventID)
	case a.Error != "":
		return "", fmt.Errorf("replay dead letter %d: reaper: %s", id, a.Error)
	}
	return a.EventID, nil
}
