package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// paramError is a bad query parameter: always a 400 naming it.
type paramError struct{ field, reason string }

func (e *paramError) Error() string { return e.field + ": " + e.reason }

// params reads and checks query parameters, keeping the first problem.
type params struct {
	v   url.Values
	err *paramError
}

func (p *params) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = &paramError{field, fmt.Sprintf(format, args...)}
	}
}

func (p *params) str(name string, max int) string {
	v := strings.TrimSpace(p.v.Get(name))
	if len(v) > max {
		p.fail(name, "is %d bytes, limit is %d", len(v), max)
		return ""
	}
	return v
}

func (p *params) integer(name string, def, min, max int) int {
	raw := p.v.Get(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		p.fail(name, "%q is not a whole number", raw)
		return def
	}
	if n < min || n > max {
		p.fail(name, "must be %d..%d (is %d)", min, max, n)
		return def
	}
	return n
}

// time reads a time: RFC 3339, YYYY-MM-DD or epoch milliseconds. With
// wholeDay, a bare date means the end of that day (an inclusive dateEnd).
func (p *params) time(name string, wholeDay bool) time.Time {
	raw := p.v.Get(name)
	if raw == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t
	}
	if t, err := time.Parse("2006-01-02", raw); err == nil {
		if wholeDay {
			t = t.AddDate(0, 0, 1)
		}
		return t
	}
	if ms, err := strconv.ParseInt(raw, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms)
	}
	p.fail(name, "%q is not a time (RFC 3339, YYYY-MM-DD or epoch milliseconds)", raw)
	return time.Time{}
}

func (p *params) ids(name string, max int) []int64 {
	raw := p.v.Get(name)
	var out []int64
	for _, f := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 {
			p.fail(name, "%q is not an observation ID", f)
			return nil
		}
		out = append(out, n)
	}
	if len(out) > max {
		p.fail(name, "%d IDs, limit is %d", len(out), max)
		return nil
	}
	return out
}

func (p *params) project(name string, required bool) string {
	v := p.str(name, store.MaxShortLen)
	if v == "" && required {
		p.fail(name, "is required")
	}
	return v
}

// answer writes the error of a store call: ErrNotFound → 404, ErrInvalid →
// 400 with the field, anything else → 500 with a reason and a log line.
func (s *Server) answer(w http.ResponseWriter, err error) {
	var ie *store.InvalidError
	switch {
	case errors.Is(err, store.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "not found", "")
	case errors.As(err, &ie):
		httpapi.WriteError(w, http.StatusBadRequest, ie.Error(), ie.Field)
	case errors.Is(err, store.ErrInvalid):
		httpapi.WriteError(w, http.StatusBadRequest, err.Error(), "")
	default:
		s.log.Error("store read failed", "err", err)
		httpapi.WriteError(w, http.StatusInternalServerError, "the memory store failed: "+err.Error(), "")
	}
}

// zone reads an IANA time zone name (the hook sends the user's); absent is
// the server's own zone.
func (p *params) zone(name string) *time.Location {
	raw := strings.TrimSpace(p.v.Get(name))
	if raw == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(raw)
	if err != nil || len(raw) > 128 {
		p.fail(name, "%q is not a time zone: want an IANA name like Europe/Paris", raw)
		return time.Local
	}
	return loc
}

func badParam(w http.ResponseWriter, e *paramError) {
	httpapi.WriteError(w, http.StatusBadRequest, e.Error(), e.field)
}

func (s *Server) handleObservations(w http.ResponseWriter, r *http.Request) {
	p := params{v: r.URL.Query()}
	ids := p.ids("ids", s.cfg.MaxPage)
	file := p.str("file", store.MaxShortLen)
	project := p.project("project", false)
	since := p.time("since", false)
	limit := p.integer("limit", 20, 1, s.cfg.MaxPage)
	order := p.str("orderBy", 32)
	switch order {
	case "", store.OrderDateAsc, store.OrderDateDesc:
	default:
		p.fail("orderBy", "%q is not date_asc or date_desc", order)
	}
	if p.err == nil && len(ids) == 0 && file == "" {
		p.fail("ids", "give ids=1,2,3 or file=<path> (with project=)")
	}
	if p.err == nil && file != "" && project == "" {
		p.fail("project", "is required with file=")
	}
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	var (
		obs []store.Observation
		err error
	)
	if len(ids) > 0 {
		obs, err = s.d.Store.Observations(r.Context(), ids)
		obs = pickObservations(obs, project, order, p.v.Get("limit") != "", limit)
	} else {
		obs, err = s.d.Store.ObservationsByFile(r.Context(), project, file, since, limit)
	}
	if err != nil {
		s.answer(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"observations": obs})
}

// pickObservations applies get_observations' optional project, orderBy and
// limit to observations fetched by ID (which come in ID order).
func pickObservations(obs []store.Observation, project, order string, limited bool, limit int) []store.Observation {
	out := obs[:0]
	for _, o := range obs {
		if project == "" || o.Project == project {
			out = append(out, o)
		}
	}
	if order != "" {
		sort.SliceStable(out, func(i, j int) bool {
			if order == store.OrderDateAsc {
				return out[i].AcceptedAt.Before(out[j].AcceptedAt)
			}
			return out[i].AcceptedAt.After(out[j].AcceptedAt)
		})
	}
	if limited && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *Server) handleDeleteObservation(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpapi.WriteError(w, http.StatusBadRequest, "not an observation ID", "id")
		return
	}
	if err := s.d.Store.DeleteObservation(r.Context(), id); err != nil {
		s.answer(w, err)
		return
	}
	if s.sem != nil {
		s.sem.s.Forget(store.KindObservation, id)
	}
	s.announce(bus.MemoryChange{Deleted: []int64{id}})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	p := params{v: r.URL.Query()}
	f := store.SessionFilter{Project: p.project("project", false), Status: p.str("status", 32),
		Limit: p.integer("limit", 20, 1, s.cfg.MaxPage), Offset: p.integer("offset", 0, 0, 100000)}
	switch f.Status {
	case "", store.StatusActive, store.StatusCompleted, store.StatusAborted:
	default:
		p.fail("status", "%q is not active, completed or aborted", f.Status)
	}
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	list, err := s.d.Store.Sessions(r.Context(), f)
	if err != nil {
		s.answer(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"sessions": list, "limit": f.Limit, "offset": f.Offset})
}

// SessionDetail is GET /v1/sessions/{id}: the session with its prompts,
// observations and summaries, each in order.
type SessionDetail struct {
	Session      store.Session       `json:"session"`
	Prompts      []PromptEntry       `json:"prompts"`
	Observations []store.Observation `json:"observations"`
	Summaries    []store.Summary     `json:"summaries"`
}

// PromptEntry is one prompt of a session.
type PromptEntry struct {
	Number  int       `json:"number"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
	Private bool      `json:"private,omitempty"`
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !event.ValidSessionID(id) {
		httpapi.WriteError(w, http.StatusBadRequest, "not a session ID: 1-128 characters of [A-Za-z0-9_-]", "id")
		return
	}
	ctx := r.Context()
	sess, err := s.d.Store.Session(ctx, id)
	if err != nil {
		s.answer(w, err)
		return
	}
	d := SessionDetail{Session: sess, Prompts: []PromptEntry{}}
	prompts, err := s.d.Store.Prompts(ctx, id)
	if err == nil {
		for _, p := range prompts {
			d.Prompts = append(d.Prompts, PromptEntry{Number: p.Number, Text: p.Text, At: p.At, Private: p.Private})
		}
		d.Observations, err = s.d.Store.SessionObservations(ctx, id)
	}
	if err == nil {
		d.Summaries, err = s.d.Store.SessionSummaries(ctx, id)
	}
	if err != nil {
		s.answer(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
}

// handleDeleteSession aborts a session's processing on every worker (NATS)
// and marks it aborted; ?purge=true also deletes its memory.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !event.ValidSessionID(id) {
		httpapi.WriteError(w, http.StatusBadRequest, "not a session ID: 1-128 characters of [A-Za-z0-9_-]", "id")
		return
	}
	purge := false
	if v := r.URL.Query().Get("purge"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "purge must be true or false", "purge")
			return
		}
		purge = b
	}
	if err := s.d.NC.Publish(bus.AbortSubject(id), nil); err != nil {
		httpapi.WriteError(w, http.StatusServiceUnavailable, "could not tell the workers: "+err.Error(), "")
		return
	}
	if err := s.d.Store.DeleteSession(r.Context(), id, purge); err != nil {
		s.answer(w, err)
		return
	}
	if purge {
		s.announce(bus.MemoryChange{Reconcile: true})
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"session_id": id, "aborted": true, "purged": purge})
}

// MaxMemoryBody bounds the body of POST /v1/memories; its text is bounded
// by store.MaxTextLen, its title and project by store.MaxShortLen. Each is
// answered with a 413 that names the field and says the limit.
const MaxMemoryBody = 512 << 10

// MemoryRequest is POST /v1/memories: a memory saved by hand (MCP save_memory).
type MemoryRequest struct {
	Text    string `json:"text"`
	Title   string `json:"title"`
	Project string `json:"project"`
	Type    string `json:"type"`
}

func (s *Server) handleMemory(w http.ResponseWriter, r *http.Request) {
	if !httpapi.JSONContent(r) {
		httpapi.WriteError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", "Content-Type")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMemoryBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		httpapi.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than the limit of %d bytes", mbe.Limit), "body")
		return
	case err != nil:
		httpapi.WriteError(w, http.StatusBadRequest, "reading the body: "+err.Error(), "body")
		return
	}
	var m MemoryRequest
	if err := json.Unmarshal(body, &m); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "malformed JSON: "+err.Error(), "body")
		return
	}
	for _, f := range []struct {
		name  string
		v     string
		limit int
	}{{"text", m.Text, store.MaxTextLen}, {"title", m.Title, store.MaxShortLen}, {"project", m.Project, store.MaxShortLen}} {
		if len(f.v) > f.limit {
			httpapi.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is %d bytes, limit is %d", f.name, len(f.v), f.limit), f.name)
			return
		}
	}
	m.Text, _ = event.StripTags(m.Text)
	m.Title, _ = event.StripTags(m.Title)
	switch {
	case strings.TrimSpace(m.Text) == "":
		httpapi.WriteError(w, http.StatusUnprocessableEntity, "text is required", "text")
		return
	case strings.TrimSpace(m.Project) == "":
		httpapi.WriteError(w, http.StatusUnprocessableEntity, "project is required", "project")
		return
	}
	if m.Type == "" {
		m.Type = store.TypeDiscovery
	}
	if err := event.CheckObservationType(m.Type); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, err.Error(), "type")
		return
	}
	if m.Title == "" {
		m.Title = firstLine(m.Text, 80)
	}
	id, err := s.d.Store.AddMemory(r.Context(), store.Observation{
		Project: m.Project, Type: m.Type, Title: m.Title, Narrative: m.Text, Concepts: []string{"manual"},
	})
	if err != nil {
		s.answer(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, map[string]any{"id": id})
}

func firstLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > max {
		cut := max
		for cut > 0 && (s[cut]&0xC0) == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// worktreeParent is the memory a worktree project's context includes besides
// its own: its parent's ("acme" for "acme/feature", the name hook.GitProject
// gives a linked worktree), unless the parent is excluded
// (docs/ARCHITECTURE.md §18).
func worktreeParent(project string, excluded []string) []string {
	parent, _, ok := strings.Cut(project, "/")
	if !ok || parent == "" || hook.Excluded(hook.ParseExcluded(strings.Join(excluded, ",")), parent, "") != "" {
		return nil
	}
	return []string{parent}
}

func (s *Server) handleContext(w http.ResponseWriter, r *http.Request) {
	p := params{v: r.URL.Query()}
	project := p.project("project", true)
	cs, serr := s.settings.Context()
	if serr != nil {
		s.log.Warn("context settings: using defaults for what is invalid", "settings", s.settings.Path(), "err", serr)
	}
	budget := p.integer("budget", min(cs.Budget, s.cfg.MaxBudget), 100, s.cfg.MaxBudget)
	loc := p.zone("tz")
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	if g := hook.Excluded(hook.ParseExcluded(strings.Join(cs.Excluded, ",")), project, ""); g != "" {
		// An excluded project gets no context at all, as in claude-mem.
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"context": "", "observations": 0, "tokens": 0, "excluded": g})
		return
	}
	c, err := s.d.Store.RecentContext(r.Context(), store.ContextQuery{
		Project: project, Budget: budget,
		MaxObservations: max(cs.Observations, 1), MaxSummaries: max(cs.Sessions, 1),
		Types: cs.Types, Concepts: cs.Concepts, Also: worktreeParent(project, cs.Excluded),
	})
	if err != nil {
		s.answer(w, err)
		return
	}
	// "Previously": the agent's last message at the latest stop.
	last := ""
	for _, m := range c.Summaries {
		if strings.TrimSpace(m.LastAssistantMessage) != "" {
			last = m.LastAssistantMessage
			break
		}
	}
	// The counts select (a count of 0 shows none); the budget only caps.
	c.Observations = c.Observations[:min(len(c.Observations), cs.Observations)]
	c.Summaries = c.Summaries[:min(len(c.Summaries), cs.Sessions)]
	c.Tokens = 0
	for i := range c.Observations {
		c.Tokens += store.ObservationTokens(&c.Observations[i])
	}
	for i := range c.Summaries {
		c.Tokens += store.SummaryTokens(&c.Summaries[i])
	}
	text := FormatContext(ContextView{Project: project, Observations: c.Observations, Summaries: c.Summaries,
		Settings: cs, Now: time.Now().In(loc), LastMessage: last})
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"context": text, "observations": len(c.Observations), "tokens": c.Tokens})
}
