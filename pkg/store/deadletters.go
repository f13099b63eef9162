package store

import (
	"context"
	"fmt"
	"time"
)

// insertDeadLetter is the statement recording d; the same (event ID, seq)
// again changes nothing.
func insertDeadLetter(d *DeadLetter) stmt {
	return stmt{sql: `INSERT INTO dead_letters (event_id, session_id, seq, reason, deliveries, payload, at, replayed_as)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, seq) DO NOTHING`,
		args: []any{d.EventID, d.SessionID, int64(d.Seq), d.Reason, d.Deliveries, d.Payload, d.At, d.ReplayedAs}}
}

// AddDeadLetter records a dead letter; adding the same (event ID, seq)
// again returns the first one's ID.
func (s *sqlStore) AddDeadLetter(ctx context.Context, d DeadLetter) (int64, error) {
	if err := normalizeDeadLetter("dead_letter", &d, utc(time.Now())); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.write(ctx, func(ctx context.Context, tx executor) error {
		return tx.send(ctx, []stmt{insertDeadLetter(&d), {sql: `SELECT id FROM dead_letters WHERE event_id = ? AND seq = ?`,
			args: []any{d.EventID, int64(d.Seq)}, dest: []any{&id}}})
	})
	if err != nil {
		return 0, s.fail("write dead letter", err)
	}
	return id, nil
}

// DeadLettered returns, of the given event IDs, those with a dead letter and
// its ID (the lowest when there are several).
func (s *sqlStore) DeadLettered(ctx context.Context, eventIDs []string) (map[string]int64, error) {
	ids := storableIDs(eventIDs)
	if len(ids) == 0 {
		return map[string]int64{}, nil
	}
	m, err := queryMap[string, int64](ctx, s.db.reads(),
		`SELECT event_id, MIN(id) FROM dead_letters WHERE event_id`+s.d.anyOf+` GROUP BY event_id`, ids)
	if err != nil {
		return nil, s.fail("look up dead letters", err)
	}
	return m, nil
}

// DeadLetters lists dead letters, newest first.
func (s *sqlStore) DeadLetters(ctx context.Context, limit, offset int) ([]DeadLetter, error) {
	return readAll(ctx, s, "list dead letters", scanDeadLetter,
		`SELECT `+deadLetterCols+` FROM dead_letters ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
		clamp(limit, defaultDeadLetterLimit, maxDeadLetterLimit), offsetOf(offset))
}

// DeadLetter returns one dead letter, ErrNotFound when there is none.
func (s *sqlStore) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	l, err := queryAll(ctx, s.db.reads(), scanDeadLetter, `SELECT `+deadLetterCols+` FROM dead_letters WHERE id = ?`, id)
	switch {
	case err != nil:
		return DeadLetter{}, s.fail("read dead letter", err)
	case len(l) == 0:
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
	}
	return l[0], nil
}

// MarkReplayed records the event ID a dead letter was replayed as.
func (s *sqlStore) MarkReplayed(ctx context.Context, id int64, newEventID string) error {
	if err := checkID("new_event_id", newEventID); err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx executor) error {
		n, err := tx.exec(ctx, `UPDATE dead_letters SET replayed_as = ? WHERE id = ?`, newEventID, id)
		if err != nil {
			return s.fail("mark replayed", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
		}
		return nil
	})
}
