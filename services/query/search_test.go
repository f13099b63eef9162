package query_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
)

// seedHabits writes two sessions as claude-mem users search them: acme by
// Claude Code on 2026-11-20 (a prompt, three observations, a summary) and
// beta by Cursor the next day (a prompt, one observation, a summary).
// It returns acme's observation IDs and beta's.
func (r *rig) seedHabits() (acme []int64, beta int64) {
	r.t.Helper()
	n := 0
	write := func(sid, project, agent string, at time.Time, u store.Unit) store.ApplyResult {
		n++
		u.SessionID, u.Fence = sid, 1
		u.Events = []store.AppliedEvent{{EventID: fmt.Sprintf("h-%d", n), Seq: uint64(n), Kind: "tool_use", AcceptedAt: at}}
		u.Session = &store.SessionUpdate{Project: project, Agent: agent}
		for i := range u.Observations {
			u.Observations[i].SessionID, u.Observations[i].Project, u.Observations[i].AcceptedAt = sid, project, at
			u.Observations[i].SourceEventIDs = []string{u.Events[0].EventID}
		}
		if u.Summary != nil {
			u.Summary.SessionID, u.Summary.Project, u.Summary.AcceptedAt = sid, project, at
			u.Summary.SourceEventIDs = []string{u.Events[0].EventID}
		}
		res, err := r.store.Apply(context.Background(), u)
		if err != nil {
			r.t.Fatal(err)
		}
		return res
	}
	day2 := t0.Add(24 * time.Hour)
	write("a1", "acme", "claude-code", t0.Add(time.Minute), store.Unit{
		Prompts: []store.Prompt{{SessionID: "a1", Number: 1, Text: "Fix the flaky websocket reconnect test", At: t0.Add(time.Minute)}}})
	for i, o := range []store.Observation{
		{Type: store.TypeBugfix, Title: "Websocket reconnect waits for backoff", Narrative: "the websocket test raced", FilesModified: []string{"/src/acme/ws.go"}},
		{Type: store.TypeDecision, Title: "Keep retries in the client", Narrative: "retries stay client side for the websocket"},
		{Type: store.TypeChange, Title: "Logging tweak", Narrative: "quieter logs"},
	} {
		res := write("a1", "acme", "claude-code", t0.Add(time.Duration(2+i)*time.Minute), store.Unit{Observations: []store.Observation{o}})
		acme = append(acme, res.ObservationIDs[0])
	}
	write("a1", "acme", "claude-code", t0.Add(6*time.Minute), store.Unit{
		Summary: &store.Summary{Request: "Fix the flaky websocket reconnect", Completed: "reconnect waits for backoff"}})
	write("b1", "beta", "cursor", day2, store.Unit{
		Prompts: []store.Prompt{{SessionID: "b1", Number: 1, Text: "Add a websocket heartbeat to the gateway", At: day2}}})
	res := write("b1", "beta", "cursor", day2.Add(time.Minute), store.Unit{Observations: []store.Observation{
		{Type: store.TypeFeature, Title: "Gateway heartbeat every 30 s", Narrative: "websocket heartbeat added"}}})
	write("b1", "beta", "cursor", day2.Add(2*time.Minute), store.Unit{
		Summary: &store.Summary{Request: "Add a websocket heartbeat", Completed: "heartbeat every 30 s"}})
	return acme, res.ObservationIDs[0]
}

// TestSearchParametersBothStores calls /v1/search, /v1/timeline,
// /v1/observations, /v1/projects and /v1/stats with every parameter
// docs/SEARCH.md lists, claude-mem's names and Mnemo's older aliases, on
// SQLite and on PostgreSQL.
func TestSearchParametersBothStores(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "mnemo.db") },
		"postgres": func(t *testing.T) string { return testkit.StartPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) { testSearchParameters(t, newRigOn(t, dsn(t))) })
	}
}

func testSearchParameters(t *testing.T, r *rig) {
	acme, beta := r.seedHabits()
	search := func(params string) query.SearchAnswer {
		t.Helper()
		var a query.SearchAnswer
		if code := r.get("/v1/search?"+params, &a); code != 200 {
			t.Fatalf("search %s: status %d", params, code)
		}
		if a.Count != len(a.Results) {
			t.Fatalf("search %s: count %d for %d results", params, a.Count, len(a.Results))
		}
		return a
	}
	refs := func(a query.SearchAnswer) string {
		var out []string
		for _, e := range a.Results {
			out = append(out, e.Ref())
		}
		return strings.Join(out, " ")
	}
	obsRefs := func(ids ...int64) string {
		var out []string
		for _, id := range ids {
			out = append(out, fmt.Sprintf("#%d", id))
		}
		return strings.Join(out, " ")
	}
	refused := func(params, field string) {
		t.Helper()
		var e struct{ Error, Field string }
		if code := r.get(params, &e); code != 400 || e.Field != field || e.Error == "" {
			t.Fatalf("%s: %d %+v, want 400 naming %s", params, code, e, field)
		}
	}

	// query, and q as its alias.
	a := search("query=websocket&project=acme&orderBy=date_asc")
	if a.Type != "observations" || refs(a) != obsRefs(acme[0], acme[1]) || a.OrderBy != "date_asc" {
		t.Fatalf("query+project: %s (%+v)", refs(a), a)
	}
	if b := search("q=websocket&project=acme&orderBy=date_asc"); refs(b) != refs(a) {
		t.Fatalf("q alias: %s, want %s", refs(b), refs(a))
	}
	refused("/v1/search?query=websocket&q=heartbeat", "query")
	// Relevance is the default with text: the title match first.
	if a := search("query=reconnect+websocket&project=acme"); a.OrderBy != "relevance" || len(a.Results) != 1 || a.Results[0].ID != acme[0] || a.Results[0].Rank <= 0 {
		t.Fatalf("relevance: %+v", a)
	}
	// obs_type, and type= holding observation types (the older meaning).
	if a := search("obs_type=bugfix,decision&orderBy=date_asc"); refs(a) != obsRefs(acme[0], acme[1]) {
		t.Fatalf("obs_type: %s", refs(a))
	}
	if a := search("type=feature"); refs(a) != obsRefs(beta) || a.Results[0].Type != "feature" {
		t.Fatalf("type=feature: %s", refs(a))
	}
	if a := search("type=observations&obs_type=change"); refs(a) != obsRefs(acme[2]) {
		t.Fatalf("type=observations&obs_type: %s", refs(a))
	}
	refused("/v1/search?obs_type=Rant!", "obs_type")
	refused("/v1/search?type=everything", "type")
	// type=prompts and type=sessions (summaries).
	p := search("type=prompts&query=websocket&orderBy=date_desc")
	if p.Type != "prompts" || refs(p) != "Pb1/1 Pa1/1" || p.Results[0].Project != "beta" || p.Results[1].Title != "Fix the flaky websocket reconnect test" {
		t.Fatalf("type=prompts: %s %+v", refs(p), p)
	}
	if p := search("type=prompts&query=gateway+heartbeat"); len(p.Results) != 1 || p.Results[0].Kind != "prompt" || p.Results[0].Rank <= 0 {
		t.Fatalf("type=prompts ranked: %+v", p)
	}
	s := search("type=sessions&query=heartbeat")
	if s.Type != "sessions" || len(s.Results) != 1 || s.Results[0].Kind != "session" || s.Results[0].Title != "Add a websocket heartbeat" || s.Results[0].SessionID != "b1" {
		t.Fatalf("type=sessions: %+v", s)
	}
	refused("/v1/search?type=prompts&obs_type=bugfix", "obs_type")
	refused("/v1/search?type=sessions&file=/src/acme/ws.go", "file")
	// dateStart / dateEnd (a bare dateEnd includes its day) and their
	// aliases since / until (until stays exclusive).
	if a := search("dateStart=2026-11-21"); refs(a) != obsRefs(beta) {
		t.Fatalf("dateStart: %s", refs(a))
	}
	if a := search("since=2026-11-21"); refs(a) != obsRefs(beta) {
		t.Fatalf("since: %s", refs(a))
	}
	if a := search("dateEnd=2026-11-20&orderBy=date_asc"); refs(a) != obsRefs(acme...) {
		t.Fatalf("dateEnd (whole day): %s", refs(a))
	}
	if a := search("until=2026-11-20"); len(a.Results) != 0 {
		t.Fatalf("until (exclusive): %s", refs(a))
	}
	if a := search("dateStart=" + url.QueryEscape(t0.Add(3*time.Minute).Format(time.RFC3339)) + "&dateEnd=" +
		url.QueryEscape(t0.Add(4*time.Minute).Format(time.RFC3339))); refs(a) != obsRefs(acme[1]) {
		t.Fatalf("dateStart..dateEnd as times: %s", refs(a))
	}
	if a := search(fmt.Sprintf("dateStart=%d", t0.Add(24*time.Hour).UnixMilli())); refs(a) != obsRefs(beta) {
		t.Fatalf("dateStart in epoch ms: %s", refs(a))
	}
	if p := search("type=prompts&dateEnd=2026-11-20"); refs(p) != "Pa1/1" {
		t.Fatalf("prompts dateEnd: %s", refs(p))
	}
	if s := search("type=sessions&dateStart=2026-11-21"); len(s.Results) != 1 || s.Results[0].SessionID != "b1" {
		t.Fatalf("sessions dateStart: %+v", s)
	}
	refused("/v1/search?dateStart=yesterday", "dateStart")
	refused("/v1/search?dateEnd=2026-11-20&until=2026-11-21", "dateEnd")
	// orderBy.
	if a := search("query=websocket&orderBy=date_desc"); refs(a) != obsRefs(beta, acme[1], acme[0]) {
		t.Fatalf("date_desc: %s", refs(a))
	}
	if a := search("orderBy=date_asc"); refs(a) != obsRefs(acme[0], acme[1], acme[2], beta) {
		t.Fatalf("date_asc without query: %s", refs(a))
	}
	if s := search("type=sessions&orderBy=date_asc"); len(s.Results) != 2 || s.Results[0].SessionID != "a1" {
		t.Fatalf("sessions date_asc: %+v", s)
	}
	refused("/v1/search?orderBy=newest", "orderBy")
	// limit and offset.
	if a := search("orderBy=date_asc&limit=2&offset=1"); refs(a) != obsRefs(acme[1], acme[2]) || a.Limit != 2 || a.Offset != 1 {
		t.Fatalf("limit/offset: %s %+v", refs(a), a)
	}
	if p := search("type=prompts&limit=1&offset=1"); refs(p) != "Pa1/1" {
		t.Fatalf("prompts limit/offset: %s", refs(p))
	}
	refused("/v1/search?limit=0", "limit")
	refused("/v1/search?offset=-1", "offset")
	// platformSource: the session's agent; claude-mem's "claude" is Claude Code.
	if a := search("platformSource=cursor"); refs(a) != obsRefs(beta) {
		t.Fatalf("platformSource=cursor: %s", refs(a))
	}
	if a := search("platformSource=claude&orderBy=date_asc"); refs(a) != obsRefs(acme...) {
		t.Fatalf("platformSource=claude: %s", refs(a))
	}
	if p := search("type=prompts&platformSource=claude-code"); refs(p) != "Pa1/1" {
		t.Fatalf("prompts platformSource: %s", refs(p))
	}
	if s := search("type=sessions&platformSource=cursor"); len(s.Results) != 1 || s.Results[0].SessionID != "b1" {
		t.Fatalf("sessions platformSource: %+v", s)
	}
	if a := search("platformSource=codex"); len(a.Results) != 0 {
		t.Fatalf("platformSource=codex: %s", refs(a))
	}
	// file.
	if a := search("file=/src/acme/ws.go"); refs(a) != obsRefs(acme[0]) {
		t.Fatalf("file: %s", refs(a))
	}
	// project on prompts and sessions.
	if p := search("type=prompts&project=acme"); refs(p) != "Pa1/1" {
		t.Fatalf("prompts project: %s", refs(p))
	}
	if s := search("type=sessions&project=beta"); len(s.Results) != 1 || s.Results[0].Project != "beta" {
		t.Fatalf("sessions project: %+v", s)
	}

	// Timeline by anchor (around is its alias) or by query, with depth_*
	// (before/after are their aliases).
	timeline := func(params string) query.TimelineAnswer {
		t.Helper()
		var tl query.TimelineAnswer
		if code := r.get("/v1/timeline?"+params, &tl); code != 200 {
			t.Fatalf("timeline %s: %d", params, code)
		}
		if len(tl.Index) != len(tl.Observations) {
			t.Fatalf("timeline %s: index of %d for %d observations", params, len(tl.Index), len(tl.Observations))
		}
		return tl
	}
	ids := func(tl query.TimelineAnswer) string {
		var out []string
		for _, o := range tl.Observations {
			out = append(out, fmt.Sprintf("#%d", o.ID))
		}
		return strings.Join(out, " ")
	}
	if tl := timeline(fmt.Sprintf("anchor=%d&depth_before=1&depth_after=0", acme[1])); ids(tl) != obsRefs(acme[0], acme[1]) || tl.Anchor != acme[1] {
		t.Fatalf("timeline anchor: %s", ids(tl))
	}
	if tl := timeline(fmt.Sprintf("around=%d&before=0&after=1", acme[1])); ids(tl) != obsRefs(acme[1], acme[2]) || tl.Around != acme[1] {
		t.Fatalf("timeline around: %s", ids(tl))
	}
	if tl := timeline("query=retries+client&depth_before=1&depth_after=1"); tl.Anchor != acme[1] || ids(tl) != obsRefs(acme...) ||
		tl.Index[1].Title != "Keep retries in the client" {
		t.Fatalf("timeline query: %+v", tl)
	}
	if tl := timeline("query=websocket&project=beta"); tl.Anchor != beta {
		t.Fatalf("timeline query in a project: %+v", tl)
	}
	var e struct{ Error, Field string }
	if code := r.get("/v1/timeline?query=zzzqqq", &e); code != 404 || e.Field != "query" {
		t.Fatalf("timeline query without match: %d %+v", code, e)
	}
	refused(fmt.Sprintf("/v1/timeline?anchor=%d&query=websocket", acme[0]), "anchor")
	refused("/v1/timeline?anchor=1&around=2", "anchor")
	refused("/v1/timeline?query=websocket&depth_before=-1", "depth_before")

	// get_observations' optional project, orderBy and limit.
	var got struct{ Observations []store.Observation }
	q := fmt.Sprintf("/v1/observations?ids=%d,%d,%d&project=acme&orderBy=date_desc&limit=1", acme[0], acme[2], beta)
	if code := r.get(q, &got); code != 200 || len(got.Observations) != 1 || got.Observations[0].ID != acme[2] {
		t.Fatalf("observations by ids with project/orderBy/limit: %d %+v", code, got)
	}
	refused(fmt.Sprintf("/v1/observations?ids=%d&orderBy=relevance", acme[0]), "orderBy")

	// Projects and stats.
	var pr struct{ Projects []store.Project }
	if code := r.get("/v1/projects", &pr); code != 200 || len(pr.Projects) != 2 || pr.Projects[0].Name != "beta" ||
		pr.Projects[1].Observations != 3 || pr.Projects[1].Prompts != 1 || pr.Projects[1].Summaries != 1 || pr.Projects[1].Sessions != 1 ||
		!pr.Projects[0].LastActivity.Equal(t0.Add(24*time.Hour+2*time.Minute)) {
		t.Fatalf("projects: %d %+v", code, pr)
	}
	var st query.Stats
	if code := r.get("/v1/stats", &st); code != 200 || st.Observations != 4 || st.Sessions != 2 || st.Prompts != 2 || st.Summaries != 2 ||
		st.StoreBytes <= 0 || st.Version == "" || st.StartedAt.IsZero() || st.UptimeSeconds < 0 || len(st.Errors) != 0 {
		t.Fatalf("stats: %d %+v", code, st)
	}
}
