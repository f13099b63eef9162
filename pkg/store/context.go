package store

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"
)

// RecentContext selects the newest observations, then summaries, of a
// project within the token budget. An empty project means all projects.
func (s *sqlStore) RecentContext(ctx context.Context, q ContextQuery) (Context, error) {
	if !storable(q.Project) {
		return selectContext(nil, nil, 0), nil
	}
	budget, nObs, nSums := contextLimits(q)
	obsWhere, where, args := ` WHERE 1 = 1`, "", []any{}
	if projects := contextProjects(q); len(projects) > 1 {
		obsWhere, where, args = ` WHERE o.project`+s.d.anyOf, ` WHERE project`+s.d.anyOf, []any{projects}
	} else if q.Project != "" {
		obsWhere, where, args = ` WHERE o.project = ?`, ` WHERE project = ?`, []any{q.Project}
	}
	obsArgs := append([]any{}, args...)
	if len(q.Types) > 0 {
		obsWhere += ` AND o.type` + s.d.anyOf
		obsArgs = append(obsArgs, q.Types)
	}
	if len(q.Concepts) > 0 {
		obsWhere += ` AND ` + fmt.Sprintf(s.d.jsonHasAny, "o.concepts")
		obsArgs = append(obsArgs, q.Concepts)
	}
	obs, err := s.observations(ctx, `SELECT `+obsCols+` FROM observations o`+obsWhere+
		` ORDER BY o.accepted_at DESC, o.id DESC LIMIT ?`, append(obsArgs, nObs)...)
	if err != nil {
		return Context{}, err
	}
	sums, err := s.summaries(ctx, `SELECT `+summaryCols+` FROM summaries`+where+
		` ORDER BY accepted_at DESC, id DESC LIMIT ?`, append(args, nSums)...)
	if err != nil {
		return Context{}, err
	}
	return selectContext(obs, sums, budget), nil
}

// contextProjects is the project and the others whose memory its context
// includes (ContextQuery.Also), each once; nil for all projects.
func contextProjects(q ContextQuery) []string {
	if q.Project == "" {
		return nil
	}
	out := []string{q.Project}
	for _, p := range q.Also {
		if p != "" && storable(p) && !slices.Contains(out, p) && len(out) < maxContextAlso+1 {
			out = append(out, p)
		}
	}
	return out
}

// maxContextAlso bounds ContextQuery.Also.
const maxContextAlso = 8

// tokensOf estimates the tokens of some text at 4 characters a token.
func tokensOf(parts ...string) int {
	n := 0
	for _, p := range parts {
		n += utf8.RuneCountInString(p)
	}
	return (n + 3) / 4
}

// ObservationTokens estimates the context tokens of an observation: its
// title, subtitle, narrative and facts, at 4 characters a token.
func ObservationTokens(o *Observation) int {
	n := tokensOf(o.Title, o.Subtitle, o.Narrative)
	for _, f := range o.Facts {
		n += tokensOf(f)
	}
	return n
}

// SummaryTokens estimates the context tokens of a summary: all its text
// fields, at 4 characters a token.
func SummaryTokens(s *Summary) int {
	return tokensOf(s.Request, s.Investigated, s.Learned, s.Completed, s.NextSteps, s.Notes)
}

// contextLimits applies the defaults of a ContextQuery.
func contextLimits(q ContextQuery) (budget, nObs, nSums int) {
	budget = q.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	return budget, clamp(q.MaxObservations, defaultContextObservations, maxContextObservations),
		clamp(q.MaxSummaries, defaultContextSummaries, maxContextSummaries)
}

// selectContext keeps the newest observations, then the newest summaries,
// while they fit in the budget. Both lists come newest first; each stops at
// the first item that no longer fits, so what is kept is the most recent
// past without gaps.
func selectContext(obs []Observation, sums []Summary, budget int) Context {
	c := Context{}
	c.Observations = whileFits(obs, ObservationTokens, &c.Tokens, budget)
	c.Summaries = whileFits(sums, SummaryTokens, &c.Tokens, budget)
	return c
}

// whileFits is the head of items whose tokens, added to *used, stay within
// budget (never nil); *used grows by theirs.
func whileFits[T any](items []T, tokens func(*T) int, used *int, budget int) []T {
	kept := []T{}
	for i := range items {
		t := tokens(&items[i])
		if *used+t > budget {
			break
		}
		*used += t
		kept = append(kept, items[i])
	}
	return kept
}
