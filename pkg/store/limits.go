package store

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

// clamp bounds a limit: def when ≤ 0, at most hi.
func clamp(v, def, hi int) int {
	if v <= 0 {
		return def
	}
	return min(v, hi)
}

// offsetOf bounds a list's offset to [0, maxSearchOffset].
func offsetOf(v int) int {
	return min(max(v, 0), maxSearchOffset)
}
