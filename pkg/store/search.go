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

// Search runs a full-text search with filters: by relevance the driver
// ranks the newest matches its own way (SearchQuery); by date, or without
// text, the matches are listed in time order.
func (s *sqlStore) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	if err := validTypes(q.Types); err != nil {
		return nil, err
	}
	plan, err := planSearch(q, true)
	if err != nil {
		return nil, err
	}
	if !storable(q.Project) || !storable(q.File) || !storable(q.Platform) {
		return []SearchHit{}, nil
	}
	var sql string
	var args []any
	if plan.text != "" && plan.order == OrderRelevance {
		var ok bool
		if sql, args, ok = s.db.searchSQL(ctx, q, plan.text, plan.limit, plan.offset); !ok {
			return []SearchHit{}, nil
		}
	} else {
		from, rank := `observations o`, `CAST(0 AS DOUBLE PRECISION)`
		f := searchFilters(q, true)
		if plan.text != "" {
			m, ok := s.db.textMatch("observations", "o", plan.text)
			if !ok {
				return []SearchHit{}, nil
			}
			from += m.from
			f.where = " AND " + m.cond + f.where
			f.args = append(append(m.fromArgs, m.condArgs...), f.args...)
		}
		sql = `SELECT ` + obsCols + `, ` + rank + ` FROM ` + from + ` WHERE 1 = 1` + f.where +
			dateOrder(plan.order, "o.accepted_at", "o.id") + ` LIMIT ? OFFSET ?`
		args = append(f.args, plan.limit, plan.offset)
	}
	return readAll(ctx, s, "search", scanSearchHit, sql, args...)
}

// dateOrder is the ORDER BY of a listing in time order, ties broken by the
// id column (or columns: the last one takes the direction).
func dateOrder(order, at, id string) string {
	if order == OrderDateAsc {
		return " ORDER BY " + at + ", " + id
	}
	return " ORDER BY " + at + " DESC, " + id + " DESC"
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
	if q.Platform != "" {
		and("o.session_id IN (SELECT id FROM sessions WHERE agent = ?)", q.Platform)
	}
	if !q.Since.IsZero() {
		and("o.accepted_at >= ?", utc(q.Since))
	}
	if !q.Until.IsZero() {
		and("o.accepted_at < ?", utc(q.Until))
	}
	if b := q.Before; b != nil {
		and("(o.accepted_at < ? OR (o.accepted_at = ? AND o.id < ?))", utc(b.At), utc(b.At), b.ID)
	}
	return f
}
