package store

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Search orders (claude-mem's orderBy).
const (
	OrderRelevance = "relevance"
	OrderDateDesc  = "date_desc"
	OrderDateAsc   = "date_asc"
)

// SearchOrders lists the valid SearchQuery.OrderBy values.
var SearchOrders = []string{OrderRelevance, OrderDateDesc, OrderDateAsc}

// PromptHit is one prompt found by SearchPrompts, with its session's
// project and agent.
type PromptHit struct {
	// ID is the prompt's row ID, what its vector is kept by.
	ID       int64   `json:"id"`
	Prompt   Prompt  `json:"prompt"`
	Project  string  `json:"project"`
	Platform string  `json:"platform"`
	Rank     float64 `json:"rank"` // higher is better; 0 without text
}

// SummaryHit is one session summary found by SearchSummaries.
type SummaryHit struct {
	Summary Summary `json:"summary"`
	Rank    float64 `json:"rank"`
}

// Project is one project's memory at a glance (GET /v1/projects).
type Project struct {
	Name         string    `json:"name"`
	Sessions     int64     `json:"sessions"`
	Observations int64     `json:"observations"`
	Prompts      int64     `json:"prompts"`
	Summaries    int64     `json:"summaries"`
	LastActivity time.Time `json:"last_activity"`
}

// searchPlan is a SearchQuery checked once for every store and table: the
// order it resolves to and its bounds.
type searchPlan struct {
	text          string // trimmed; "" = filters only
	order         string
	limit, offset int
}

// planSearch checks q; forObservations allows the observation-only filters.
func planSearch(q SearchQuery, forObservations bool) (searchPlan, error) {
	if len(q.Text) > MaxShortLen {
		return searchPlan{}, invalid("text", "is %d bytes, more than %d", len(q.Text), MaxShortLen)
	}
	if len(q.Platform) > MaxShortLen {
		return searchPlan{}, invalid("platform", "is %d bytes, more than %d", len(q.Platform), MaxShortLen)
	}
	if !forObservations {
		if len(q.Types) > 0 {
			return searchPlan{}, invalid("types", "only observations have types")
		}
		if q.File != "" {
			return searchPlan{}, invalid("file", "only observations have files")
		}
	}
	p := searchPlan{text: strings.TrimSpace(clean(q.Text)), order: q.OrderBy,
		limit: clamp(q.Limit, defaultSearchLimit, maxSearchLimit), offset: offsetOf(q.Offset)}
	switch p.order {
	case "":
		p.order = OrderRelevance
	case OrderRelevance, OrderDateDesc, OrderDateAsc:
	default:
		return searchPlan{}, invalid("order_by", "%q is not one of %s", q.OrderBy, strings.Join(SearchOrders, ", "))
	}
	if p.text == "" && p.order == OrderRelevance {
		p.order = OrderDateDesc // nothing to rank: newest first
	}
	if q.Before != nil && (p.text != "" || p.order != OrderDateDesc) {
		return searchPlan{}, invalid("before", "pages a listing without text, newest first")
	}
	return p, nil
}

// projectRow is one figure of one project, as each store's Projects query
// returns them: kind is sessions, observations, prompts or summaries.
type projectRow struct {
	project string
	kind    string
	count   int64
	last    time.Time
}

// mergeProjects folds projectRows into Projects, most recently active
// first, then by name; rows without a project name are left out.
func mergeProjects(rows []projectRow) []Project {
	by := map[string]*Project{}
	for _, r := range rows {
		if r.project == "" {
			continue
		}
		p := by[r.project]
		if p == nil {
			p = &Project{Name: r.project}
			by[r.project] = p
		}
		switch r.kind {
		case "sessions":
			p.Sessions = r.count
		case "observations":
			p.Observations = r.count
		case "prompts":
			p.Prompts = r.count
		case "summaries":
			p.Summaries = r.count
		}
		if r.last.After(p.LastActivity) {
			p.LastActivity = r.last.UTC()
		}
	}
	out := make([]Project, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastActivity.Equal(out[j].LastActivity) {
			return out[i].LastActivity.After(out[j].LastActivity)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// projectsQuery is the query both stores run for Projects: one row per
// project and kind, with the newest time of each.
const projectsQuery = `
SELECT project, 'sessions', count(*), max(last_event_at) FROM sessions GROUP BY project
UNION ALL SELECT project, 'observations', count(*), max(accepted_at) FROM observations GROUP BY project
UNION ALL SELECT project, 'summaries', count(*), max(accepted_at) FROM summaries GROUP BY project
UNION ALL SELECT s.project, 'prompts', count(*), max(p.at) FROM prompts p JOIN sessions s ON s.id = p.session_id GROUP BY s.project`

// SearchPrompts searches user prompts (their sessions' project and agent).
func (s *sqlStore) SearchPrompts(ctx context.Context, q SearchQuery) ([]PromptHit, error) {
	plan, err := planSearch(q, false)
	if err != nil {
		return nil, err
	}
	if !storable(q.Project) || !storable(q.Platform) {
		return []PromptHit{}, nil
	}
	from, rank, where, args, ok := s.textQuery("prompts", "p", `prompts p LEFT JOIN sessions s ON s.id = p.session_id`, plan)
	if !ok {
		return []PromptHit{}, nil
	}
	where, args = textFilters(q, "s.project", "p.at", "s.agent = ?", where, args)
	if b := q.Before; b != nil {
		// The listing's order is at DESC, session_id, number DESC (dateOrder).
		where += " AND (p.at < ? OR (p.at = ? AND (p.session_id > ? OR (p.session_id = ? AND p.number < ?))))"
		args = append(args, utc(b.At), utc(b.At), b.SessionID, b.SessionID, b.Number)
	}
	sql := `SELECT ` + promptHitCols + `, ` + rank +
		` AS score FROM ` + from + ` WHERE 1 = 1` + where + textOrder(plan.order, "p.at", "p.session_id, p.number") + ` LIMIT ? OFFSET ?`
	out, err := queryAll(ctx, s.db.reads(), scanPromptHit, sql, append(args, plan.limit, plan.offset)...)
	if err != nil {
		return nil, s.fail("search prompts", err)
	}
	return out, nil
}

// promptHitCols are a PromptHit's columns (prompts p LEFT JOIN sessions s),
// scanned with its rank by scanPromptHit.
const promptHitCols = `p.id, p.session_id, p.number, p.text, p.at, p.private, coalesce(s.project, ''), coalesce(s.agent, '')`

func scanPromptHit(r rows) (h PromptHit, err error) {
	err = r.Scan(&h.ID, &h.Prompt.SessionID, &h.Prompt.Number, &h.Prompt.Text, &h.Prompt.At, &h.Prompt.Private, &h.Project, &h.Platform, &h.Rank)
	return h, err
}

// PromptsByID returns the prompts with the given IDs, rank 0, in ID order.
func (s *sqlStore) PromptsByID(ctx context.Context, ids []int64) ([]PromptHit, error) {
	if len(ids) == 0 {
		return []PromptHit{}, nil
	}
	out, err := queryAll(ctx, s.db.reads(), scanPromptHit, `SELECT `+promptHitCols+`, 0.0 FROM prompts p
		LEFT JOIN sessions s ON s.id = p.session_id WHERE p.id`+s.d.anyOf+` ORDER BY p.id`, ids)
	if err != nil {
		return nil, s.fail("prompts by id", err)
	}
	return out, nil
}

// Summaries returns the summaries with the given IDs in ID order.
func (s *sqlStore) Summaries(ctx context.Context, ids []int64) ([]Summary, error) {
	if len(ids) == 0 {
		return []Summary{}, nil
	}
	return s.summaries(ctx, `SELECT `+summaryCols+` FROM summaries WHERE id`+s.d.anyOf+` ORDER BY id`, ids)
}

// SearchSummaries searches session summaries.
func (s *sqlStore) SearchSummaries(ctx context.Context, q SearchQuery) ([]SummaryHit, error) {
	plan, err := planSearch(q, false)
	if err != nil {
		return nil, err
	}
	if !storable(q.Project) || !storable(q.Platform) {
		return []SummaryHit{}, nil
	}
	from, rank, where, args, ok := s.textQuery("summaries", "m", `summaries m`, plan)
	if !ok {
		return []SummaryHit{}, nil
	}
	where, args = textFilters(q, "m.project", "m.accepted_at", "m.session_id IN (SELECT id FROM sessions WHERE agent = ?)", where, args)
	if b := q.Before; b != nil {
		where += " AND (m.accepted_at < ? OR (m.accepted_at = ? AND m.id < ?))"
		args = append(args, utc(b.At), utc(b.At), b.ID)
	}
	cols := "m." + strings.ReplaceAll(summaryCols, ", ", ", m.")
	sql := `SELECT ` + cols + `, ` + rank + ` AS score FROM ` + from + ` WHERE 1 = 1` + where +
		textOrder(plan.order, "m.accepted_at", "m.id") + ` LIMIT ? OFFSET ?`
	out, err := queryAll(ctx, s.db.reads(), func(r rows) (h SummaryHit, err error) {
		h.Summary, err = scanSummary(r, &h.Rank)
		return h, err
	}, sql, append(args, plan.limit, plan.offset)...)
	if err != nil {
		return nil, s.fail("search summaries", err)
	}
	return out, nil
}

// textQuery starts a prompt or summary search of table (as alias, in the
// FROM items base): its FROM, rank expression, WHERE (" AND …") and their
// arguments; ok false when the text can match nothing. By date, or without
// text, rank is 0.
func (s *sqlStore) textQuery(table, alias, base string, plan searchPlan) (from, rank, where string, args []any, ok bool) {
	from, rank = base, `CAST(0 AS DOUBLE PRECISION)`
	if plan.text == "" {
		return from, rank, "", nil, true
	}
	m, ok := s.db.textMatch(table, alias, plan.text)
	if !ok {
		return "", "", "", nil, false
	}
	if plan.order == OrderRelevance {
		rank = m.rank
	}
	return from + m.from, rank, " AND " + m.cond, append(m.fromArgs, m.condArgs...), true
}

// textFilters adds the project, platform and time filters of a prompt or
// summary search: project and at name the row's project and time columns,
// platform is the condition on the agent.
func textFilters(q SearchQuery, project, at, platform, where string, args []any) (string, []any) {
	and := func(cond string, arg any) {
		where += " AND " + cond
		args = append(args, arg)
	}
	if q.Project != "" {
		and(project+" = ?", q.Project)
	}
	if q.Platform != "" {
		and(platform, q.Platform)
	}
	if !q.Since.IsZero() {
		and(at+" >= ?", utc(q.Since))
	}
	if !q.Until.IsZero() {
		and(at+" < ?", utc(q.Until))
	}
	return where, args
}

// textOrder is the ORDER BY of a prompt or summary search.
func textOrder(order, at, id string) string {
	if order == OrderRelevance {
		return " ORDER BY score DESC, " + at + " DESC"
	}
	return dateOrder(order, at, id)
}

// Projects lists the projects with their counts and last activity.
func (s *sqlStore) Projects(ctx context.Context) ([]Project, error) {
	list, err := queryAll(ctx, s.db.reads(), func(r rows) (p projectRow, err error) {
		err = r.Scan(&p.project, &p.kind, &p.count, &p.last)
		return p, err
	}, projectsQuery)
	if err != nil {
		return nil, s.fail("projects", err)
	}
	return mergeProjects(list), nil
}

// Size is the bytes the store occupies.
func (s *sqlStore) Size(ctx context.Context) (int64, error) {
	n, err := s.db.size(ctx)
	if err != nil {
		return 0, s.fail("size", err)
	}
	return n, nil
}
