package store

import (
	"cmp"
	"slices"
	"time"
	"unicode/utf8"
)

// SearchWindow is how many of the newest matches a full-text search ranks;
// see SearchQuery.
const SearchWindow = 2000

// searchWindow is the number of newest matches a query ranks: SearchWindow,
// or more when its page reaches further.
func searchWindow(limit, offset int) int { return max(SearchWindow, limit+offset) }

// Defaults and bounds of the read side.
const (
	// DefaultBudget is the token budget of RecentContext when the query
	// gives none.
	DefaultBudget = 8000

	defaultContextObservations = 50
	maxContextObservations     = 500
	defaultContextSummaries    = 10
	maxContextSummaries        = 100
	defaultSearchLimit         = 20
	maxSearchLimit             = 100
	defaultSessionLimit        = 50
	maxSessionLimit            = 500
	defaultFileLimit           = 20
	maxFileLimit               = 100
	defaultDeadLetterLimit     = 50
	maxDeadLetterLimit         = 500
	maxTimelineSide            = 100
)

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
	c := Context{Observations: []Observation{}, Summaries: []Summary{}}
	for i := range obs {
		t := ObservationTokens(&obs[i])
		if c.Tokens+t > budget {
			break
		}
		c.Tokens += t
		c.Observations = append(c.Observations, obs[i])
	}
	for i := range sums {
		t := SummaryTokens(&sums[i])
		if c.Tokens+t > budget {
			break
		}
		c.Tokens += t
		c.Summaries = append(c.Summaries, sums[i])
	}
	return c
}

// mergeSession computes a session row after a unit: cur is the stored row
// (nil when none), upd the unit's update (nil when the unit has none),
// maxPrompt the highest prompt number the unit writes, first and last the
// accept times of the unit's first and last events.
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

// timeline joins the older observations (newest first, as queried), the
// middle one and the newer ones (oldest first) into accept order.
func timeline(older []Observation, mid Observation, newer []Observation) []Observation {
	out := make([]Observation, 0, len(older)+1+len(newer))
	for i := len(older) - 1; i >= 0; i-- {
		out = append(out, older[i])
	}
	out = append(out, mid)
	return append(out, newer...)
}

func sortByID(obs []Observation) {
	slices.SortFunc(obs, func(a, b Observation) int { return cmp.Compare(a.ID, b.ID) })
}
