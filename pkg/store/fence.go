package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A session's cursor is its position in the stream and its write fence
// (docs/ARCHITECTURE.md §2): Apply refuses a unit whose fence is older than
// the stored one, and ClaimFence raises the stored fence as a new holder
// of the session's lock starts.

// Cursor returns the session's cursor, or a zero Cursor.
func (s *sqlStore) Cursor(ctx context.Context, sessionID string) (Cursor, error) {
	if !storable(sessionID) {
		return Cursor{}, nil
	}
	c := Cursor{SessionID: sessionID}
	err := scanOne(ctx, s.db.reads(), `SELECT last_seq, fence FROM session_cursors WHERE session_id = ?`,
		[]any{sessionID}, &c.LastSeq, &c.Fence)
	switch {
	case errors.Is(err, errNoRows):
		return Cursor{}, nil
	case err != nil:
		return Cursor{}, s.fail("read cursor", err)
	}
	return c, nil
}

// ClaimFence records fence as the session's fence if it is newer: the
// upsert changes no row when the stored fence is as new or newer.
func (s *sqlStore) ClaimFence(ctx context.Context, sessionID string, fence int64) error {
	if err := checkID("session_id", sessionID); err != nil {
		return err
	}
	return s.db.write(ctx, func(ctx context.Context, tx executor) error {
		n, err := tx.exec(ctx, `INSERT INTO session_cursors (session_id, last_seq, fence, updated_at) VALUES (?, 0, ?, ?)
			ON CONFLICT (session_id) DO UPDATE SET fence = excluded.fence, updated_at = excluded.updated_at
			WHERE session_cursors.fence < excluded.fence`, sessionID, fence, utc(time.Now()))
		if err != nil {
			return s.fail("claim fence", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: session %s: claim of fence %d is not above the stored one", ErrStaleFence, sessionID, fence)
		}
		return nil
	})
}
