package settings

import (
	"errors"
	"strconv"
	"strings"
)

// Context is what the SessionStart context builder reads, at every request.
type Context struct {
	Observations int // newest observations listed
	Sessions     int // newest summaries listed
	FullCount    int // newest observations shown in full
	FullField    string
	Budget       int // a token cap on what is selected

	ShowLastSummary, ShowLastMessage      bool
	ShowReadTokens, ShowWorkTokens        bool
	ShowSavingsAmount, ShowSavingsPercent bool

	Excluded []string // project globs given no context
	Types    []string // empty = every type
	Concepts []string // empty = any concept
}

// Context resolves the context settings now (re-reading the file if it
// changed). An invalid value falls back to its default and is named in the
// error, so that a typo never takes the context away.
func (s *Settings) Context() (Context, error) {
	var errs []error
	if err := s.Err(); err != nil {
		errs = append(errs, err)
	}
	get := func(key string) string {
		d, _ := Lookup(key)
		v, _ := s.Get(key)
		if err := d.Check(v); err != nil {
			errs = append(errs, err)
			return d.Default
		}
		return strings.TrimSpace(v)
	}
	num := func(key string) int { n, _ := strconv.Atoi(get(key)); return n }
	flag := func(key string) bool { b, _ := strconv.ParseBool(get(key)); return b }
	c := Context{
		Observations:       num(ContextObservations),
		Sessions:           num(ContextSessionCount),
		FullCount:          num(ContextFullCount),
		FullField:          get(ContextFullField),
		Budget:             num(ContextTokenBudget),
		ShowLastSummary:    flag(ContextShowLastSummary),
		ShowLastMessage:    flag(ContextShowLastMessage),
		ShowReadTokens:     flag(ContextShowReadTokens),
		ShowWorkTokens:     flag(ContextShowWorkTokens),
		ShowSavingsAmount:  flag(ContextShowSavingsAmount),
		ShowSavingsPercent: flag(ContextShowSavingsPercent),
		Excluded:           SplitList(get(ExcludedProjects)),
		Types:              SplitList(get(ContextObservationTypes)),
		Concepts:           SplitList(get(ContextConcepts)),
	}
	return c, errors.Join(errs...)
}

// DefaultContext is the context settings when nothing is set.
func DefaultContext() Context {
	c, _ := (&Settings{env: map[string]string{}, file: map[string]string{}}).Context()
	return c
}
