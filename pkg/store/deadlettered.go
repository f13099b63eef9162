package store

import (
	"context"
	"fmt"
	"time"
)

// DeadLettered returns, of the given event IDs, those with a dead letter and
// its ID (the lowest when there are several).
func (s *SQLite) DeadLettered(ctx context.Context, eventIDs []string) (map[string]int64, error) {
	out := make(map[string]int64)
	const chunk = 500
	for i := 0; i < len(eventIDs); i += chunk {
		part := eventIDs[i:min(i+chunk, len(eventIDs))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		rows, err := s.r.QueryContext(ctx, `SELECT event_id, MIN(id) FROM dead_letters WHERE event_id IN (`+placeholders(len(part))+`) GROUP BY event_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: look up dead letters: %w", err)
		}
		for rows.Next() {
			var id string
			var dl int64
			if err := rows.Scan(&id, &dl); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("store: sqlite: scan dead letter: %w", err)
			}
			out[id] = dl
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: sqlite: look up dead letters: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: sqlite: look up dead letters: %w", err)
		}
	}
	return out, nil
}

// DeadLettered returns, of the given event IDs, those with a dead letter and
// its ID (the lowest when there are several).
func (p *Postgres) DeadLettered(ctx context.Context, eventIDs []string) (map[string]int64, error) {
	out := make(map[string]int64)
	ids := make([]string, 0, len(eventIDs))
	for _, id := range eventIDs {
		if storable(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT event_id, MIN(id) FROM dead_letters WHERE event_id = ANY($1) GROUP BY event_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: look up dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var dl int64
		if err := rows.Scan(&id, &dl); err != nil {
			return nil, fmt.Errorf("store: postgres: scan dead letter: %w", err)
		}
		out[id] = dl
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: look up dead letters: %w", err)
	}
	return out, nil
}

// claimFenceSQL raises a session's fence only when the claim is newer; no row
// changed means the claim is stale. The same statement serves both stores.
const claimFenceSQL = `INSERT INTO session_cursors (session_id, last_seq, fence, updated_at) VALUES (%s, 0, %s, %s)
	ON CONFLICT (session_id) DO UPDATE SET fence = excluded.fence, updated_at = excluded.updated_at
	WHERE session_cursors.fence < excluded.fence`

// ClaimFence records fence as the session's fence if it is newer.
func (s *SQLite) ClaimFence(ctx context.Context, sessionID string, fence int64) error {
	if err := checkID("session_id", sessionID); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, fmt.Sprintf(claimFenceSQL, "?", "?", "?"), sessionID, fence, micros(utc(time.Now())))
	if err != nil {
		return fmt.Errorf("store: sqlite: claim fence: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: session %s: claim of fence %d is not above the stored one", ErrStaleFence, sessionID, fence)
	}
	return nil
}

// ClaimFence records fence as the session's fence if it is newer.
func (p *Postgres) ClaimFence(ctx context.Context, sessionID string, fence int64) error {
	if err := checkID("session_id", sessionID); err != nil {
		return err
	}
	tag, err := p.pool.Exec(ctx, fmt.Sprintf(claimFenceSQL, "$1", "$2", "$3"), sessionID, fence, utc(time.Now()))
	if err != nil {
		return fmt.Errorf("store: postgres: claim fence: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: session %s: claim of fence %d is not above the stored one", ErrStaleFence, sessionID, fence)
	}
	return nil
}
