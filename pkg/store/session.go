package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// mergeSession computes a session row after a unit: cur is the stored row
// (nil when none), upd the unit's update (nil when the unit has none),
// maxPrompt the highest prompt number the unit writes, first and last the
// accept times of the unit's first and last events. It is the only merge of
// session fields: Apply returns its result (ApplyResult.Session).
func mergeSession(id string, cur *Session, upd *SessionUpdate, project string, maxPrompt int, first, last time.Time) Session {
	var s Session
	if cur != nil {
		s = *cur
	} else {
		s = Session{ID: id, Project: project, Status: StatusActive, StartedAt: first, LastEventAt: last}
		if upd != nil {
			if !upd.StartedAt.IsZero() {
				s.StartedAt = upd.StartedAt
			}
			if !upd.LastEventAt.IsZero() {
				s.LastEventAt = upd.LastEventAt
			}
		}
	}
	if upd != nil {
		if upd.Project != "" {
			s.Project = upd.Project
		}
		if upd.Agent != "" {
			s.Agent = upd.Agent
		}
		if upd.Cwd != "" {
			s.Cwd = upd.Cwd
		}
		if upd.Status != "" {
			s.Status = upd.Status
			if upd.Status == StatusActive {
				s.EndedAt = nil // a resumed session has not ended
			}
		}
		if upd.EndedAt != nil {
			e := *upd.EndedAt
			s.EndedAt = &e
		}
		if upd.LastEventAt.After(s.LastEventAt) {
			s.LastEventAt = upd.LastEventAt
		}
	}
	s.PromptCount = max(s.PromptCount, maxPrompt)
	return s
}

// sessionRow reads one session, ErrNotFound when there is none; lock is
// dialect.forUpdate inside a write transaction, or "".
func (s *sqlStore) sessionRow(ctx context.Context, x executor, id, lock string) (*Session, error) {
	if !storable(id) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	l, err := queryAll(ctx, x, scanSession, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`+lock, id)
	switch {
	case err != nil:
		return nil, s.fail("read session", err)
	case len(l) == 0:
		return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	return &l[0], nil
}

// Session returns one session, ErrNotFound when there is none.
func (s *sqlStore) Session(ctx context.Context, id string) (Session, error) {
	x, err := s.sessionRow(ctx, s.db.reads(), id, "")
	if err != nil {
		return Session{}, err
	}
	return *x, nil
}

// Sessions lists sessions, most recently active first.
func (s *sqlStore) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	if !storable(f.Project) || !storable(f.Status) {
		return []Session{}, nil
	}
	var where []string
	var args []any
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	q := `SELECT ` + sessionCols + ` FROM sessions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY last_event_at DESC, id LIMIT ? OFFSET ?`
	args = append(args, clamp(f.Limit, defaultSessionLimit, maxSessionLimit), offsetOf(f.Offset))
	return readAll(ctx, s, "list sessions", scanSession, q, args...)
}

// Prompts returns a session's prompts by number.
func (s *sqlStore) Prompts(ctx context.Context, sessionID string) ([]Prompt, error) {
	if !storable(sessionID) {
		return []Prompt{}, nil
	}
	return readAll(ctx, s, "list prompts", scanPrompt,
		`SELECT `+promptCols+` FROM prompts WHERE session_id = ? ORDER BY number`, sessionID)
}

// DeleteSession marks a session aborted; purge also deletes its prompts,
// observations, summaries and conversation.
func (s *sqlStore) DeleteSession(ctx context.Context, id string, purge bool) error {
	if !storable(id) {
		return fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	now := utc(time.Now())
	return s.db.write(ctx, func(ctx context.Context, tx executor) error {
		found, err := tx.exec(ctx, `UPDATE sessions SET status = 'aborted', ended_at = coalesce(ended_at, ?) WHERE id = ?`, now, id)
		if err != nil {
			return s.fail("abort session", err)
		}
		if purge {
			for _, table := range []string{"prompts", "observations", "summaries", "conversations"} {
				n, err := tx.exec(ctx, `DELETE FROM `+table+` WHERE session_id = ?`, id)
				if err != nil {
					return s.fail("purge session", err)
				}
				found += n
			}
		}
		if found == 0 {
			return fmt.Errorf("%w: session %s", ErrNotFound, id)
		}
		return nil
	})
}

// Conversation returns a session's LLM conversation state, ErrNotFound when
// none is stored.
func (s *sqlStore) Conversation(ctx context.Context, sessionID string) (Conversation, error) {
	var c Conversation
	err := errNoRows
	if storable(sessionID) {
		err = scanOne(ctx, s.db.reads(), `SELECT session_id, provider, state, updated_at FROM conversations WHERE session_id = ?`,
			[]any{sessionID}, &c.SessionID, &c.Provider, &c.State, &c.UpdatedAt)
	}
	switch {
	case errors.Is(err, errNoRows):
		return Conversation{}, fmt.Errorf("%w: conversation of %q", ErrNotFound, sessionID)
	case err != nil:
		return Conversation{}, s.fail("read conversation", err)
	}
	if c.State == nil {
		c.State = []byte{}
	}
	return c, nil
}
