package store

import (
	"context"
	"strings"
)

// SearchWindow is how many of the newest matches a full-text search ranks;
// see SearchQuery.
const SearchWindow = 2000

// searchWindow is the number of newest matches a query ranks: SearchWindow,
// or more when its page reaches further.
func searchWindow(limit, offset int) int { return max(SearchWindow, limit+offset) }

// Search runs a full-text search with filters (the driver ranks the text
// its own way); empty text lists the filtered observations newest first.
func (s *sqlStore) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	if err := validTypes(q.Types); err != nil {
		return nil, err
	}
	if len(q.Text) > MaxShortLen {
		return nil, invalid("text", "is %d bytes, more than %d", len(q.Text), MaxShortLen)
	}
	if !storable(q.Project) || !storable(q.File) {
		return []SearchHit{}, nil
	}
	limit, offset := clamp(q.Limit, defaultSearchLimit, maxSearchLimit), offsetOf(q.Offset)
	sql, args, ok := s.db.searchSQL(q, strings.TrimSpace(clean(q.Text)), limit, offset)
	if !ok {
		return []SearchHit{}, nil
	}
	out, err := queryAll(ctx, s.db.reads(), scanSearchHit, sql, args...)
	if err != nil {
		return nil, s.fail("search", err)
	}
	return out, nil
}

// searchFilter is a search's filters as one condition on observations o.
type searchFilter struct {
	where string // " AND …" for each filter, or ""
	args  []any
}

// searchFilters are q's filters; withProject false leaves out the project,
// for a driver that narrows by project inside its text index.
func searchFilters(q SearchQuery, withProject bool) searchFilter {
	var f searchFilter
	and := func(cond string, args ...any) {
		f.where += " AND " + cond
		f.args = append(f.args, args...)
	}
	if withProject && q.Project != "" {
		and("o.project = ?", q.Project)
	}
	if len(q.Types) > 0 {
		types := make([]any, len(q.Types))
		for i, t := range q.Types {
			types[i] = t
		}
		and("o.type IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ")+")", types...)
	}
	if q.File != "" {
		if q.Project != "" {
			and("o.id IN (SELECT observation_id FROM observation_files WHERE path = ? AND project = ?)", q.File, q.Project)
		} else {
			and("o.id IN (SELECT observation_id FROM observation_files WHERE path = ?)", q.File)
		}
	}
	if !q.Since.IsZero() {
		and("o.accepted_at >= ?", utc(q.Since))
	}
	if !q.Until.IsZero() {
		and("o.accepted_at < ?", utc(q.Until))
	}
	return f
}

// listSQL lists the observations f selects, newest first, ranked 0.
func listSQL(f searchFilter, limit, offset int) (string, []any) {
	return `SELECT ` + obsCols + `, CAST(0 AS DOUBLE PRECISION) FROM observations o WHERE 1 = 1` + f.where +
		` ORDER BY o.accepted_at DESC, o.id DESC LIMIT ? OFFSET ?`, append(f.args, limit, offset)
}
