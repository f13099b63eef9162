package store

import (
	"context"
	"errors"
)

// errNoRows: a statement expected to return a row returned none.
var errNoRows = errors.New("store: no rows")

// collect reads every row with scan and closes rows, in the shape of
// pgx.CollectRows; an empty result is an empty, non-nil slice.
func collect[T any](rs rows, scan func(rows) (T, error)) ([]T, error) {
	defer func() { _ = rs.Close() }()
	out := []T{}
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// queryAll runs q on x and collects its rows with scan.
func queryAll[T any](ctx context.Context, x executor, scan func(rows) (T, error), q string, args ...any) ([]T, error) {
	rs, err := x.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rs, scan)
}

// readAll runs q on the read pool and collects its rows with scan; a failure
// says what was being read.
func readAll[T any](ctx context.Context, s *sqlStore, what string, scan func(rows) (T, error), q string, args ...any) ([]T, error) {
	out, err := queryAll(ctx, s.db.reads(), scan, q, args...)
	if err != nil {
		return nil, s.fail(what, err)
	}
	return out, nil
}

// queryMap runs q, whose rows are (key, value) pairs, into a map.
func queryMap[K comparable, V any](ctx context.Context, x executor, q string, args ...any) (map[K]V, error) {
	type pair struct {
		k K
		v V
	}
	l, err := queryAll(ctx, x, func(r rows) (p pair, err error) {
		err = r.Scan(&p.k, &p.v)
		return p, err
	}, q, args...)
	if err != nil {
		return nil, err
	}
	out := make(map[K]V, len(l))
	for _, p := range l {
		out[p.k] = p.v
	}
	return out, nil
}

// scanOne scans the first row q returns into dest: errNoRows when none.
func scanOne(ctx context.Context, x executor, q string, args []any, dest ...any) error {
	rs, err := x.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rs.Close() }()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return err
		}
		return errNoRows
	}
	if err := rs.Scan(dest...); err != nil {
		return err
	}
	return rs.Close()
}

// Column lists and their scanners, one for each row type both databases
// hold alike.

const sessionCols = `id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count`

func scanSession(r rows) (Session, error) {
	var x Session
	err := r.Scan(&x.ID, &x.Project, &x.Agent, &x.Cwd, &x.Status, &x.StartedAt, &x.EndedAt, &x.LastEventAt, &x.PromptCount)
	return x, err
}

const promptCols = `session_id, number, text, at, private`

func scanPrompt(r rows) (Prompt, error) {
	var p Prompt
	err := r.Scan(&p.SessionID, &p.Number, &p.Text, &p.At, &p.Private)
	return p, err
}

const obsCols = `o.id, o.session_id, o.project, o.type, o.title, o.subtitle, o.narrative, o.facts, o.concepts,
	o.files_read, o.files_modified, o.prompt_number, o.accepted_at, o.source_event_ids, o.created_at, o.discovery_tokens`

// scanObservation scans obsCols followed by extra destinations.
func scanObservation(r rows, extra ...any) (Observation, error) {
	var o Observation
	err := r.Scan(append([]any{&o.ID, &o.SessionID, &o.Project, &o.Type, &o.Title, &o.Subtitle, &o.Narrative,
		&o.Facts, &o.Concepts, &o.FilesRead, &o.FilesModified, &o.PromptNumber, &o.AcceptedAt, &o.SourceEventIDs,
		&o.CreatedAt, &o.DiscoveryTokens}, extra...)...)
	return o, err
}

func scanObservationRow(r rows) (Observation, error) { return scanObservation(r) }

func scanSearchHit(r rows) (SearchHit, error) {
	var h SearchHit
	var err error
	h.Observation, err = scanObservation(r, &h.Rank)
	return h, err
}

const summaryCols = `id, session_id, project, request, investigated, learned, completed, next_steps, notes,
	prompt_number, accepted_at, source_event_ids, created_at, last_assistant_message`

// scanSummary scans summaryCols followed by extra destinations.
func scanSummary(r rows, extra ...any) (Summary, error) {
	var m Summary
	err := r.Scan(append([]any{&m.ID, &m.SessionID, &m.Project, &m.Request, &m.Investigated, &m.Learned, &m.Completed,
		&m.NextSteps, &m.Notes, &m.PromptNumber, &m.AcceptedAt, &m.SourceEventIDs, &m.CreatedAt, &m.LastAssistantMessage}, extra...)...)
	return m, err
}

func scanSummaryRow(r rows) (Summary, error) { return scanSummary(r) }

const deadLetterCols = `id, event_id, session_id, seq, reason, deliveries, payload, at, replayed_as`

func scanDeadLetter(r rows) (DeadLetter, error) {
	var d DeadLetter
	err := r.Scan(&d.ID, &d.EventID, &d.SessionID, &d.Seq, &d.Reason, &d.Deliveries, &d.Payload, &d.At, &d.ReplayedAs)
	return d, err
}
