package store

import (
	"context"
	"fmt"
	"time"
)

const insertObservationSQL = `INSERT INTO observations (session_id, project, type, title, subtitle, narrative,
	facts, concepts, files_read, files_modified, prompt_number, accepted_at, source_event_ids, created_at, discovery_tokens)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertObservation appends to b the statements that insert o and its file
// rows; id receives the new observation's ID.
func (s *sqlStore) insertObservation(b []stmt, o *Observation, id *int64) []stmt {
	b = append(b, stmt{sql: insertObservationSQL, args: []any{o.SessionID, o.Project, o.Type, o.Title, o.Subtitle,
		o.Narrative, o.Facts, o.Concepts, o.FilesRead, o.FilesModified, o.PromptNumber, o.AcceptedAt,
		o.SourceEventIDs, o.CreatedAt, o.DiscoveryTokens}, id: id})
	return s.observationFiles(b, o)
}

// observationFiles appends to b the statement that indexes the files of
// the observation inserted just before it, if it names any.
func (s *sqlStore) observationFiles(b []stmt, o *Observation) []stmt {
	if files := filesOf(o); len(files) > 0 {
		b = append(b, stmt{sql: `INSERT INTO observation_files (observation_id, path, project, accepted_at)
			SELECT ` + s.d.lastObservationID + `, f.value, ?, ? FROM ` + s.d.listRows + ` WHERE true
			ON CONFLICT DO NOTHING`, args: []any{o.Project, o.AcceptedAt, files}})
	}
	return b
}

// AddMemory stores a manual observation.
func (s *sqlStore) AddMemory(ctx context.Context, o Observation) (int64, error) {
	o, err := normalizeMemory(o, utc(time.Now()))
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.write(ctx, func(ctx context.Context, tx executor) error {
		return tx.send(ctx, s.insertObservation(nil, &o, &id))
	})
	if err != nil {
		return 0, s.fail("add memory", err)
	}
	return id, nil
}

// DeleteObservation deletes one observation (its file rows and index entry
// with it).
func (s *sqlStore) DeleteObservation(ctx context.Context, id int64) error {
	return s.db.write(ctx, func(ctx context.Context, tx executor) error {
		n, err := tx.exec(ctx, `DELETE FROM observations WHERE id = ?`, id)
		if err != nil {
			return s.fail("delete observation", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: observation %d", ErrNotFound, id)
		}
		return nil
	})
}

func (s *sqlStore) observations(ctx context.Context, q string, args ...any) ([]Observation, error) {
	return readAll(ctx, s, "query observations", scanObservationRow, q, args...)
}

// SessionObservations returns a session's observations in accept order.
func (s *sqlStore) SessionObservations(ctx context.Context, sessionID string) ([]Observation, error) {
	if !storable(sessionID) {
		return []Observation{}, nil
	}
	return s.observations(ctx, `SELECT `+obsCols+` FROM observations o WHERE o.session_id = ? ORDER BY o.accepted_at, o.id`, sessionID)
}

// Observations returns the observations with the given IDs in ID order;
// unknown IDs are left out.
func (s *sqlStore) Observations(ctx context.Context, ids []int64) ([]Observation, error) {
	if len(ids) == 0 {
		return []Observation{}, nil
	}
	return s.observations(ctx, `SELECT `+obsCols+` FROM observations o WHERE o.id`+s.d.anyOf+` ORDER BY o.id`, ids)
}

// ObservationsByFile returns observations that read or modified path,
// newest first, accepted at or after since. An empty project means any.
func (s *sqlStore) ObservationsByFile(ctx context.Context, project, path string, since time.Time, limit int) ([]Observation, error) {
	if !storable(project) || !storable(path) {
		return []Observation{}, nil
	}
	q := `SELECT ` + obsCols + ` FROM observation_files f JOIN observations o ON o.id = f.observation_id
		WHERE f.path = ? AND f.accepted_at >= ?`
	args := []any{path, utc(since)}
	if project != "" {
		q += ` AND f.project = ?`
		args = append(args, project)
	}
	q += ` ORDER BY f.accepted_at DESC, f.observation_id DESC LIMIT ?`
	return s.observations(ctx, q, append(args, clamp(limit, defaultFileLimit, maxFileLimit))...)
}

// SessionSummaries returns a session's summaries, oldest first.
func (s *sqlStore) SessionSummaries(ctx context.Context, sessionID string) ([]Summary, error) {
	if !storable(sessionID) {
		return []Summary{}, nil
	}
	return s.summaries(ctx, `SELECT `+summaryCols+` FROM summaries WHERE session_id = ? ORDER BY accepted_at, id`, sessionID)
}

func (s *sqlStore) summaries(ctx context.Context, q string, args ...any) ([]Summary, error) {
	return readAll(ctx, s, "query summaries", scanSummaryRow, q, args...)
}

// Timeline returns up to before older and after newer observations of the
// same project around one, in accept order.
func (s *sqlStore) Timeline(ctx context.Context, around int64, before, after int) ([]Observation, error) {
	mid, err := s.observations(ctx, `SELECT `+obsCols+` FROM observations o WHERE o.id = ?`, around)
	if err != nil {
		return nil, err
	}
	if len(mid) == 0 {
		return nil, fmt.Errorf("%w: observation %d", ErrNotFound, around)
	}
	m := mid[0]
	before, after = min(max(before, 0), maxTimelineSide), min(max(after, 0), maxTimelineSide)
	older, err := s.observations(ctx, `SELECT `+obsCols+` FROM observations o
		WHERE o.project = ? AND (o.accepted_at, o.id) < (?, ?) ORDER BY o.accepted_at DESC, o.id DESC LIMIT ?`,
		m.Project, m.AcceptedAt, m.ID, before)
	if err != nil {
		return nil, err
	}
	newer, err := s.observations(ctx, `SELECT `+obsCols+` FROM observations o
		WHERE o.project = ? AND (o.accepted_at, o.id) > (?, ?) ORDER BY o.accepted_at, o.id LIMIT ?`,
		m.Project, m.AcceptedAt, m.ID, after)
	if err != nil {
		return nil, err
	}
	out := make([]Observation, 0, len(older)+1+len(newer))
	for i := len(older) - 1; i >= 0; i-- {
		out = append(out, older[i])
	}
	out = append(out, m)
	return append(out, newer...), nil
}

// filesOf returns the distinct paths an observation read or modified.
func filesOf(o *Observation) []string {
	seen := make(map[string]struct{}, len(o.FilesRead)+len(o.FilesModified))
	var out []string
	for _, l := range [][]string{o.FilesRead, o.FilesModified} {
		for _, p := range l {
			if p == "" {
				continue
			}
			if _, ok := seen[p]; ok {
				continue
			}
			seen[p] = struct{}{}
			out = append(out, p)
		}
	}
	return out
}
