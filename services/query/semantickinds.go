package query

import (
	"context"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// A semantic or hybrid search of sessions' summaries or of prompts: the
// same ranking as observations' (semanticSearch), over each kind's own
// index and full-text search, with the filters those kinds take (project,
// dates, platform).

// memoryHit is a summary or prompt as a search reads it: its vector's ID,
// its entry, and what the filters look at.
type memoryHit struct {
	id      int64
	entry   IndexEntry
	agent   string // "" when not read with it (a summary)
	project string
	at      time.Time
}

// memoryText is the full-text search of what (sessions or prompts).
func (s *Server) memoryText(ctx context.Context, what string, q store.SearchQuery) ([]memoryHit, error) {
	if what == SearchPrompts {
		hits, err := s.d.Store.SearchPrompts(ctx, q)
		return memoryHits(hits, nil), err
	}
	hits, err := s.d.Store.SearchSummaries(ctx, q)
	return memoryHits(nil, hits), err
}

// memoryRows reads the summaries or prompts of ids.
func (s *Server) memoryRows(ctx context.Context, what string, ids []int64) ([]memoryHit, error) {
	if what == SearchPrompts {
		hits, err := s.d.Store.PromptsByID(ctx, ids)
		return memoryHits(hits, nil), err
	}
	sums, err := s.d.Store.Summaries(ctx, ids)
	hits := make([]store.SummaryHit, len(sums))
	for i, m := range sums {
		hits[i].Summary = m
	}
	return memoryHits(nil, hits), err
}

// memoryHits are prompts' and summaries' hits as a search reads them.
func memoryHits(prompts []store.PromptHit, sums []store.SummaryHit) []memoryHit {
	out := make([]memoryHit, 0, len(prompts)+len(sums))
	for _, h := range prompts {
		out = append(out, memoryHit{id: h.ID, entry: promptIndex(h), agent: h.Platform, project: h.Project, at: h.Prompt.At})
	}
	for _, h := range sums {
		out = append(out, memoryHit{id: h.Summary.ID, entry: summaryIndex(h), project: h.Summary.Project, at: h.Summary.AcceptedAt})
	}
	return out
}

// semanticSearchOf ranks sessions' summaries or prompts (what) by meaning
// (semantic) or by the reciprocal rank fusion of meaning and full text
// (hybrid); every hit is read from the store, so nothing deleted is
// answered.
func (s *Server) semanticSearchOf(ctx context.Context, what string, q store.SearchQuery, hybrid bool) ([]IndexEntry, error) {
	kind := store.KindSummary
	if what == SearchPrompts {
		kind = store.KindPrompt
	}
	need := q.Offset + q.Limit
	k := need
	if !q.Since.IsZero() || !q.Until.IsZero() || q.Platform != "" {
		k = need*semanticDepth + 50
	}
	ranked, byID, err := rankByMeaning(ctx, s, kind, q, k, hybrid,
		func(tq store.SearchQuery) ([]memoryHit, error) { return s.memoryText(ctx, what, tq) },
		func(h memoryHit) int64 { return h.id })
	if err != nil {
		return nil, err
	}
	agents := map[string]string{}
	return pageFused(ranked, byID, func(ids []int64) ([]memoryHit, error) { return s.memoryRows(ctx, what, ids) },
		func(h memoryHit) int64 { return h.id }, func(h memoryHit) bool {
			switch {
			case q.Project != "" && h.project != q.Project,
				!q.Since.IsZero() && h.at.Before(q.Since), !q.Until.IsZero() && !h.at.Before(q.Until):
				return false
			case q.Platform == "":
				return true
			case what == SearchSessions:
				return s.sessionAgent(ctx, h.entry.SessionID, agents) == q.Platform
			default:
				return h.agent == q.Platform
			}
		}, func(h memoryHit, score float64) IndexEntry {
			h.entry.Rank = score
			return h.entry
		}, q.Offset, q.Limit)
}
