package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Apply writes one unit atomically (docs/ARCHITECTURE.md §2, §8): under the
// session's cursor, the fence check, the duplicate check and the cursor
// check, then the content, the applied events and the new cursor, in one
// transaction. The result carries the session's row as merged.
func (s *sqlStore) Apply(ctx context.Context, u Unit) (ApplyResult, error) {
	now := utc(time.Now())
	n, err := normalizeUnit(u, now)
	if err != nil {
		return ApplyResult{}, err
	}
	var res ApplyResult
	err = s.db.write(ctx, func(ctx context.Context, tx executor) error {
		res, err = s.applyUnit(ctx, tx, &n, now)
		return err
	})
	if err != nil {
		return ApplyResult{}, err
	}
	return res, nil
}

// Statements of Apply.
const (
	createCursorSQL = `INSERT INTO session_cursors (session_id, last_seq, fence, updated_at) VALUES (?, 0, 0, ?)
		ON CONFLICT (session_id) DO NOTHING`
	readCursorSQL   = `SELECT last_seq, fence FROM session_cursors WHERE session_id = ?`
	writeCursorSQL  = `UPDATE session_cursors SET last_seq = ?, fence = ?, updated_at = ? WHERE session_id = ?`
	writeSessionSQL = `INSERT INTO sessions (id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET project = excluded.project, agent = excluded.agent,
			cwd = excluded.cwd, status = excluded.status, started_at = excluded.started_at,
			ended_at = excluded.ended_at, last_event_at = excluded.last_event_at,
			prompt_count = excluded.prompt_count`
	writePromptSQL = `INSERT INTO prompts (session_id, number, text, at, private, prompt_id) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id, number) DO UPDATE SET text = excluded.text, private = excluded.private,
			prompt_id = excluded.prompt_id`
	dropStalePromptVectorSQL = `DELETE FROM prompt_vectors WHERE prompt_id IN
		(SELECT id FROM prompts WHERE session_id = ? AND number = ? AND text <> ?)`
	insertSummarySQL = `INSERT INTO summaries (session_id, project, request, investigated, learned, completed,
		next_steps, notes, prompt_number, accepted_at, source_event_ids, created_at, last_assistant_message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertUsageSQL = `INSERT INTO llm_usage (session_id, project, provider, model, input_tokens, output_tokens, at, cost_usd)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	writeConversationSQL = `INSERT INTO conversations (session_id, provider, state, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET provider = excluded.provider, state = excluded.state,
			updated_at = excluded.updated_at`
	insertAppliedEventSQL = `INSERT INTO applied_events (event_id, session_id, seq, kind, accepted_at, dead, applied_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// applyUnit is Apply inside its transaction; n is normalized.
func (s *sqlStore) applyUnit(ctx context.Context, tx executor, n *Unit, now time.Time) (ApplyResult, error) {
	// The first writer of a session creates its cursor row; reading it
	// for update then makes concurrent writers of one session take turns
	// (PostgreSQL; SQLite has one writer).
	if _, err := tx.exec(ctx, createCursorSQL, n.SessionID, now); err != nil {
		return ApplyResult{}, s.fail("create cursor", err)
	}
	var lastSeq uint64
	var fence int64
	if err := scanOne(ctx, tx, readCursorSQL+s.d.forUpdate, []any{n.SessionID}, &lastSeq, &fence); err != nil {
		return ApplyResult{}, s.fail("lock cursor", err)
	}
	if n.Fence < fence {
		return ApplyResult{}, fmt.Errorf("%w: session %s: unit fence %d, stored fence %d", ErrStaleFence, n.SessionID, n.Fence, fence)
	}
	eventIDs := make([]string, len(n.Events))
	for i, e := range n.Events {
		eventIDs[i] = e.EventID
	}
	known, err := s.appliedSeqs(ctx, tx, eventIDs)
	if err != nil {
		return ApplyResult{}, err
	}
	last := n.Events[len(n.Events)-1].Seq
	if len(known) == len(eventIDs) {
		// Every event is applied already. When they come back under newer
		// sequences (re-published after the dedupe window), the cursor
		// moves past them so the session goes on; nothing else is written.
		if last <= lastSeq {
			return ApplyResult{Duplicate: true, LastSeq: lastSeq}, nil
		}
		if _, err := tx.exec(ctx, writeCursorSQL, int64(last), n.Fence, now, n.SessionID); err != nil {
			return ApplyResult{}, s.fail("advance cursor past duplicates", err)
		}
		return ApplyResult{Duplicate: true, LastSeq: last}, nil
	}
	if len(known) > 0 {
		return ApplyResult{}, fmt.Errorf("%w: session %s: %d of %d events", ErrPartialDuplicate, n.SessionID, len(known), len(eventIDs))
	}
	if n.Events[0].Seq <= lastSeq {
		return ApplyResult{}, fmt.Errorf("%w: session %s: seq %d at or below cursor %d", ErrCursorBackwards, n.SessionID, n.Events[0].Seq, lastSeq)
	}

	cur, err := s.sessionRow(ctx, tx, n.SessionID, s.d.forUpdate)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ApplyResult{}, err
	}
	res := ApplyResult{LastSeq: last, Session: cur}
	claims, err := s.claim(ctx, tx, n, &res)
	if err != nil {
		return ApplyResult{}, err
	}
	project := unitProject(n)
	if cur != nil {
		project = cur.Project
	}
	var b []stmt
	if n.Session != nil || len(n.Prompts) > 0 || (cur == nil && hasContent(n)) {
		m := mergeSession(n.SessionID, cur, n.Session, unitProject(n), maxPromptNumber(n.Prompts),
			n.Events[0].AcceptedAt, n.Events[len(n.Events)-1].AcceptedAt)
		b = append(b, stmt{sql: writeSessionSQL, args: []any{m.ID, m.Project, m.Agent, m.Cwd, m.Status,
			m.StartedAt, m.EndedAt, m.LastEventAt, m.PromptCount}})
		project, res.Session = m.Project, &m
	}
	if n.ReplaceObservations {
		b = append(b, stmt{sql: `DELETE FROM observations WHERE session_id = ?`, args: []any{n.SessionID}},
			stmt{sql: `DELETE FROM summaries WHERE session_id = ?`, args: []any{n.SessionID}})
	}
	for _, p := range n.Prompts {
		// A prompt re-written with other text loses its vector: the
		// catch-up embedder embeds the new text.
		b = append(b, stmt{sql: dropStalePromptVectorSQL, args: []any{p.SessionID, p.Number, p.Text}})
		b = append(b, stmt{sql: writePromptSQL, args: []any{p.SessionID, p.Number, p.Text, p.At, p.Private, nullIfEmpty(p.PromptID)}})
	}
	b = append(b, claims...)
	if len(n.Observations) > 0 {
		res.ObservationIDs = make([]int64, len(n.Observations))
	}
	for i := range n.Observations {
		o := &n.Observations[i]
		if o.Project == "" {
			o.Project = project
		}
		b = s.insertObservation(b, o, &res.ObservationIDs[i])
	}
	if m := n.Summary; m != nil {
		if m.Project == "" {
			m.Project = project
		}
		b = append(b, stmt{sql: insertSummarySQL, args: []any{m.SessionID, m.Project, m.Request, m.Investigated,
			m.Learned, m.Completed, m.NextSteps, m.Notes, m.PromptNumber, m.AcceptedAt, m.SourceEventIDs, m.CreatedAt,
			m.LastAssistantMessage},
			id: &res.SummaryID})
	}
	for _, x := range n.Usage {
		if x.Project == "" {
			x.Project = project
		}
		b = append(b, stmt{sql: insertUsageSQL, args: []any{x.SessionID, x.Project, x.Provider, x.Model,
			x.InputTokens, x.OutputTokens, x.At, x.CostUSD}})
	}
	for i := range n.DeadLetters {
		b = append(b, insertDeadLetter(&n.DeadLetters[i]))
	}
	if c := n.Conversation; c != nil {
		b = append(b, stmt{sql: writeConversationSQL, args: []any{c.SessionID, c.Provider, c.State, c.UpdatedAt}})
	}
	for _, e := range n.Events {
		b = append(b, stmt{sql: insertAppliedEventSQL, args: []any{e.EventID, n.SessionID, int64(e.Seq), e.Kind,
			e.AcceptedAt, e.Dead, now}})
	}
	b = append(b, stmt{sql: writeCursorSQL, args: []any{int64(last), n.Fence, now, n.SessionID}})
	if err := tx.send(ctx, b); err != nil {
		return ApplyResult{}, s.fail("write unit", err)
	}
	return res, nil
}

// AppliedSeqs returns which of the event IDs are applied, with their seqs.
func (s *sqlStore) AppliedSeqs(ctx context.Context, eventIDs []string) (map[string]uint64, error) {
	return s.appliedSeqs(ctx, s.db.reads(), eventIDs)
}

func (s *sqlStore) appliedSeqs(ctx context.Context, x executor, eventIDs []string) (map[string]uint64, error) {
	ids := storableIDs(eventIDs)
	if len(ids) == 0 {
		return map[string]uint64{}, nil
	}
	m, err := queryMap[string, uint64](ctx, x, `SELECT event_id, seq FROM applied_events WHERE event_id`+s.d.anyOf, ids)
	if err != nil {
		return nil, s.fail("look up applied events", err)
	}
	return m, nil
}

// unitProject is the project a unit's content names, for a session the unit
// creates without saying its project.
func unitProject(u *Unit) string {
	if u.Session != nil && u.Session.Project != "" {
		return u.Session.Project
	}
	for _, o := range u.Observations {
		if o.Project != "" {
			return o.Project
		}
	}
	if u.Summary != nil && u.Summary.Project != "" {
		return u.Summary.Project
	}
	for _, x := range u.Usage {
		if x.Project != "" {
			return x.Project
		}
	}
	return ""
}

// hasContent reports whether a unit writes memory (not only bookkeeping).
func hasContent(u *Unit) bool {
	return u.Session != nil || len(u.Prompts) > 0 || len(u.Observations) > 0 || u.Summary != nil
}

func maxPromptNumber(ps []Prompt) int {
	n := 0
	for _, p := range ps {
		n = max(n, p.Number)
	}
	return n
}

// nullIfEmpty is NULL for "": a key column where absent values never collide.
func nullIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}
