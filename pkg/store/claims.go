package store

import (
	"context"
	"errors"
	"slices"
)

// Claims make one record per tool use and per prompt, whatever path an event
// came by (hook, endpoint, spool replay, batch, redelivery): Apply claims a
// tool use's ID for its session and a prompt's identity inside the unit's
// transaction, under the session's cursor lock, so two writers of one
// session cannot both record the same one (docs/ARCHITECTURE.md §15).

// toolUseClaimsV9 keys tool uses by (session, tool_use_id) and prompts by
// the agent's prompt ID; a prompt without one keeps a NULL, which never
// collides.
const toolUseClaimsV9 = `
CREATE TABLE tool_uses (
	session_id  TEXT NOT NULL,
	tool_use_id TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	PRIMARY KEY (session_id, tool_use_id)
);
ALTER TABLE prompts ADD COLUMN prompt_id TEXT;
CREATE UNIQUE INDEX prompts_by_prompt_id ON prompts (session_id, prompt_id);
`

const insertToolUseSQL = `INSERT INTO tool_uses (session_id, tool_use_id, event_id) VALUES (?, ?, ?)`

// ClaimedToolUses returns, of the given tool use IDs, those a session has
// recorded already, with the event that recorded each.
func (s *sqlStore) ClaimedToolUses(ctx context.Context, sessionID string, toolUseIDs []string) (map[string]string, error) {
	return s.claimedToolUses(ctx, s.db.reads(), sessionID, toolUseIDs)
}

func (s *sqlStore) claimedToolUses(ctx context.Context, x executor, sessionID string, toolUseIDs []string) (map[string]string, error) {
	ids := storableIDs(toolUseIDs)
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	m, err := queryMap[string, string](ctx, x,
		`SELECT tool_use_id, event_id FROM tool_uses WHERE session_id = ? AND tool_use_id`+s.d.anyOf, sessionID, ids)
	if err != nil {
		return nil, s.fail("look up tool uses", err)
	}
	return m, nil
}

// claim drops from the unit what its session recorded before: the
// observations of events whose tool use an earlier event claimed, and
// prompts already stored (the same prompt ID; without one, the same text as
// the session's latest prompt). It returns the statements claiming the
// unit's new tool uses and what it skipped. The caller holds the session's
// cursor lock.
func (s *sqlStore) claim(ctx context.Context, tx executor, n *Unit, res *ApplyResult) ([]stmt, error) {
	var useIDs []string
	for _, e := range n.Events {
		if e.ToolUseID != "" && !e.Dead {
			useIDs = append(useIDs, e.ToolUseID)
		}
	}
	var b []stmt
	if len(useIDs) > 0 {
		claimed, err := s.claimedToolUses(ctx, tx, n.SessionID, useIDs)
		if err != nil {
			return nil, err
		}
		skipped := map[string]bool{}
		for _, e := range n.Events {
			if e.ToolUseID == "" || e.Dead {
				continue
			}
			if by, ok := claimed[e.ToolUseID]; ok && by != e.EventID {
				skipped[e.EventID] = true
				res.SkippedEvents = append(res.SkippedEvents, e.EventID)
				continue
			}
			claimed[e.ToolUseID] = e.EventID
			b = append(b, stmt{sql: insertToolUseSQL, args: []any{n.SessionID, e.ToolUseID, e.EventID}})
		}
		if len(skipped) > 0 {
			kept := n.Observations[:0:0]
			for _, o := range n.Observations {
				src := slices.DeleteFunc(slices.Clone(o.SourceEventIDs), func(id string) bool { return skipped[id] })
				if len(src) == 0 && len(o.SourceEventIDs) > 0 {
					continue // made only of tool uses recorded before
				}
				o.SourceEventIDs = src
				kept = append(kept, o)
			}
			n.Observations = kept
		}
	}
	if len(n.Prompts) > 0 {
		kept := n.Prompts[:0:0]
		for _, p := range n.Prompts {
			dup, err := s.promptStored(ctx, tx, p, kept)
			if err != nil {
				return nil, err
			}
			if dup {
				res.SkippedPrompts++
				continue
			}
			kept = append(kept, p)
		}
		n.Prompts = kept
	}
	return b, nil
}

// promptStored reports whether p is a prompt its session holds already,
// stored or earlier in the same unit (before): the same agent prompt ID, or,
// for a prompt without one, the same text as the latest prompt.
func (s *sqlStore) promptStored(ctx context.Context, tx executor, p Prompt, before []Prompt) (bool, error) {
	if p.PromptID != "" {
		for _, q := range before {
			if q.PromptID == p.PromptID {
				return true, nil
			}
		}
		var n int
		err := scanOne(ctx, tx, `SELECT number FROM prompts WHERE session_id = ? AND prompt_id = ?`, []any{p.SessionID, p.PromptID}, &n)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, errNoRows):
			return false, nil
		default:
			return false, s.fail("look up prompt", err)
		}
	}
	if p.Private || p.Text == "" {
		return false, nil
	}
	if len(before) > 0 {
		return before[len(before)-1].Text == p.Text, nil
	}
	var last string
	err := scanOne(ctx, tx, `SELECT text FROM prompts WHERE session_id = ? ORDER BY number DESC LIMIT 1`, []any{p.SessionID}, &last)
	switch {
	case err == nil:
		return last == p.Text, nil
	case errors.Is(err, errNoRows):
		return false, nil
	default:
		return false, s.fail("read latest prompt", err)
	}
}
