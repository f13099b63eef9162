package store

import (
	"context"
	"fmt"
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
