package query

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// What a search looks in (claude-mem's type=): observations, sessions (their
// summaries) or prompts. docs/SEARCH.md documents every parameter.
const (
	SearchObservations = "observations"
	SearchSessions     = "sessions"
	SearchPrompts      = "prompts"
)

// Kinds of IndexEntry.
const (
	KindObservation = "observation"
	KindSession     = "session"
	KindPrompt      = "prompt"
)

// IndexEntry is one compact search result (~50 tokens): enough to choose
// what to fetch with get_observations. An observation has its ID and type;
// a session's summary its summary ID and the session's request as title; a
// prompt its session and number.
type IndexEntry struct {
	Kind         string    `json:"kind"`
	ID           int64     `json:"id,omitempty"`
	Type         string    `json:"type,omitempty"`
	Title        string    `json:"title"`
	Subtitle     string    `json:"subtitle,omitempty"`
	Project      string    `json:"project"`
	SessionID    string    `json:"session_id"`
	PromptNumber int       `json:"prompt_number,omitempty"`
	AcceptedAt   time.Time `json:"accepted_at"`
	Rank         float64   `json:"rank,omitempty"`
}

// indexTitleLen bounds a title in the index, so an entry stays compact.
const indexTitleLen = 100

func index(o store.Observation, rank float64) IndexEntry {
	return IndexEntry{Kind: KindObservation, ID: o.ID, Type: o.Type, Title: firstLine(o.Title, indexTitleLen), Subtitle: firstLine(o.Subtitle, indexTitleLen),
		Project: o.Project, SessionID: o.SessionID, PromptNumber: o.PromptNumber, AcceptedAt: o.AcceptedAt, Rank: rank}
}

func summaryIndex(h store.SummaryHit) IndexEntry {
	m := h.Summary
	title := m.Request
	if strings.TrimSpace(title) == "" {
		title = m.Completed
	}
	return IndexEntry{Kind: KindSession, ID: m.ID, Type: KindSession, Title: firstLine(title, indexTitleLen), Project: m.Project,
		SessionID: m.SessionID, PromptNumber: m.PromptNumber, AcceptedAt: m.AcceptedAt, Rank: h.Rank}
}

func promptIndex(h store.PromptHit) IndexEntry {
	return IndexEntry{Kind: KindPrompt, Type: KindPrompt, Title: firstLine(h.Prompt.Text, indexTitleLen), Project: h.Project,
		SessionID: h.Prompt.SessionID, PromptNumber: h.Prompt.Number, AcceptedAt: h.Prompt.At, Rank: h.Rank}
}

// Line is the entry as one line of the compact index MCP and the CLI show:
// reference, time (in loc), type and title, e.g.
// "#42 2026-11-20 09:03 decision Keep token refresh in middleware".
// An observation's reference is #ID (what get_observations and timeline
// take), a session summary's S<ID>, a prompt's P<session>/<number>.
func (e IndexEntry) Line(loc *time.Location) string {
	return fmt.Sprintf("%s %s %s %s", e.Ref(), e.AcceptedAt.In(loc).Format("2006-01-02 15:04"), e.Type, flat(e.Title))
}

// Ref is the entry's short reference in the compact index.
func (e IndexEntry) Ref() string {
	switch e.Kind {
	case KindSession:
		return fmt.Sprintf("S%d", e.ID)
	case KindPrompt:
		return fmt.Sprintf("P%s/%d", e.SessionID, e.PromptNumber)
	default:
		return fmt.Sprintf("#%d", e.ID)
	}
}

// flat puts s on one line, runs of white space made one space.
func flat(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SearchAnswer is GET /v1/search's answer.
type SearchAnswer struct {
	Type    string       `json:"type"` // observations, sessions or prompts
	Mode    string       `json:"mode"` // text, semantic or hybrid (§14)
	Results []IndexEntry `json:"results"`
	Count   int          `json:"count"`
	Limit   int          `json:"limit"`
	Offset  int          `json:"offset"`
	OrderBy string       `json:"order_by"`
}

// alias reads a parameter that also has an older name; giving both with
// different values is refused. It returns the name the caller used.
func (p *params) alias(name, old string) string {
	nv, ov := p.v.Get(name), p.v.Get(old)
	switch {
	case nv != "" && ov != "" && nv != ov:
		p.fail(name, "given twice, as %s=%q and %s=%q: use %s", name, nv, old, ov, name)
	case nv == "" && ov != "":
		return old
	}
	return name
}

// searchQuery reads /v1/search's parameters (claude-mem's names, Mnemo's
// older names as aliases): what to search and the store query.
func (s *Server) searchQuery(p *params) (string, store.SearchQuery) {
	q := store.SearchQuery{
		Text:    p.str(p.alias("query", "q"), store.MaxShortLen),
		Project: p.project("project", false),
		File:    p.str("file", store.MaxShortLen),
		Limit:   p.integer("limit", 20, 1, s.cfg.MaxPage), Offset: p.integer("offset", 0, 0, 100000),
		OrderBy:  p.str("orderBy", 32),
		Platform: PlatformAgent(p.str("platformSource", store.MaxShortLen)),
	}
	switch q.OrderBy {
	case "", store.OrderRelevance, store.OrderDateDesc, store.OrderDateAsc:
	default:
		p.fail("orderBy", "%q is not one of %s", q.OrderBy, strings.Join(store.SearchOrders, ", "))
	}
	q.Since = p.time(p.alias("dateStart", "since"), false)
	if end := p.alias("dateEnd", "until"); end == "dateEnd" {
		q.Until = p.time(end, true)
	} else {
		q.Until = p.time(end, false)
	}
	what := SearchObservations
	var types []string
	for _, t := range settings.SplitList(p.v.Get("type")) {
		switch t {
		case SearchObservations, SearchSessions, SearchPrompts:
			if what != SearchObservations || len(types) > 0 {
				p.fail("type", "%q: give one of observations, sessions, prompts, or observation types", p.v.Get("type"))
			}
			what = t
		default:
			// An observation type: Mnemo's older type= meaning, kept.
			// Only the known types here: a misspelt kind must not become
			// a type that matches nothing; obs_type takes any type.
			if !slices.Contains(event.ObservationTypes, t) {
				p.fail("type", "%q is not observations, sessions, prompts or one of %s (obs_type takes any type: %s)",
					t, strings.Join(event.ObservationTypes, ", "), event.ObservationTypeShape)
			}
			types = append(types, t)
		}
	}
	for _, t := range settings.SplitList(p.v.Get("obs_type")) {
		if err := event.CheckObservationType(t); err != nil {
			p.fail("obs_type", "%s", err)
		}
		types = append(types, t)
	}
	if what != SearchObservations && len(types) > 0 {
		p.fail("obs_type", "applies to type=observations only, not type=%s", what)
	}
	if what != SearchObservations && q.File != "" {
		p.fail("file", "applies to type=observations only, not type=%s", what)
	}
	q.Types = types
	return what, q
}

// PlatformAgent maps claude-mem's platformSource names onto the agent names
// Mnemo records sessions under: "claude" is Claude Code's.
func PlatformAgent(p string) string {
	if p == "claude" {
		return "claude-code"
	}
	return p
}

// textSearch is a full-text search of what (observations, sessions'
// summaries or prompts).
func (s *Server) textSearch(ctx context.Context, what string, q store.SearchQuery) ([]IndexEntry, error) {
	out := []IndexEntry{}
	switch what {
	case SearchSessions:
		hits, err := s.d.Store.SearchSummaries(ctx, q)
		for _, h := range hits {
			out = append(out, summaryIndex(h))
		}
		return out, err
	case SearchPrompts:
		hits, err := s.d.Store.SearchPrompts(ctx, q)
		for _, h := range hits {
			out = append(out, promptIndex(h))
		}
		return out, err
	default:
		hits, err := s.d.Store.Search(ctx, q)
		for _, h := range hits {
			out = append(out, index(h.Observation, h.Rank))
		}
		return out, err
	}
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	p := params{v: r.URL.Query()}
	what, q := s.searchQuery(&p)
	mode := s.searchMode(&p, what, q)
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	var out []IndexEntry
	if mode != ModeText {
		var ok bool
		if out, ok = s.searchByMeaning(w, r, what, q, mode); !ok {
			return
		}
	} else {
		var err error
		if out, err = s.textSearch(r.Context(), what, q); err != nil {
			s.answer(w, err)
			return
		}
	}
	order := q.OrderBy
	if order == "" {
		order = store.OrderRelevance
		if strings.TrimSpace(q.Text) == "" {
			order = store.OrderDateDesc
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, SearchAnswer{Type: what, Mode: mode, Results: out, Count: len(out), Limit: q.Limit, Offset: q.Offset, OrderBy: order})
}

// TimelineAnswer is GET /v1/timeline's answer: the anchor and the
// observations around it in time order, in full and as the compact index.
type TimelineAnswer struct {
	Anchor       int64               `json:"anchor"`
	Around       int64               `json:"around"` // the anchor, under its older name
	Query        string              `json:"query,omitempty"`
	Observations []store.Observation `json:"observations"`
	Index        []IndexEntry        `json:"index"`
}

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request) {
	p := params{v: r.URL.Query()}
	anchorName := p.alias("anchor", "around")
	anchor := p.ids(anchorName, 1)
	text := p.str("query", store.MaxShortLen)
	project := p.project("project", false)
	before := p.integer(p.alias("depth_before", "before"), 3, 0, s.cfg.MaxPage)
	after := p.integer(p.alias("depth_after", "after"), 3, 0, s.cfg.MaxPage)
	if p.err == nil {
		switch {
		case len(anchor) == 1 && text != "":
			p.fail(anchorName, "give anchor or query, not both")
		case len(anchor) != 1 && text == "":
			p.fail("anchor", "is required: the observation ID to center on (or query= to center on its best match)")
		}
	}
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	ans := TimelineAnswer{Query: text}
	if text != "" {
		hits, err := s.d.Store.Search(r.Context(), store.SearchQuery{Text: text, Project: project, Limit: 1})
		if err != nil {
			s.answer(w, err)
			return
		}
		if len(hits) == 0 {
			httpapi.WriteError(w, http.StatusNotFound, fmt.Sprintf("no observation matches %q", text), "query")
			return
		}
		ans.Anchor = hits[0].Observation.ID
	} else {
		ans.Anchor = anchor[0]
	}
	ans.Around = ans.Anchor
	obs, err := s.d.Store.Timeline(r.Context(), ans.Anchor, before, after)
	if err != nil {
		s.answer(w, err)
		return
	}
	ans.Observations, ans.Index = obs, make([]IndexEntry, len(obs))
	for i, o := range obs {
		ans.Index[i] = index(o, 0)
	}
	httpapi.WriteJSON(w, http.StatusOK, ans)
}

func (s *Server) handleProjects(w http.ResponseWriter, r *http.Request) {
	list, err := s.d.Store.Projects(r.Context())
	if err != nil {
		s.answer(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"projects": list})
}
