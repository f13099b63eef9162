package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// seedText writes two sessions of two agents in two projects: each with a
// prompt, an observation and a summary, at known times (events 1..6 of s).
func seedText(t *testing.T, st store.Store) (s *seq) {
	s = &seq{}
	write := func(sid, project, agent, prompt, title, request string) {
		e1, e2, e3 := ev(s, "user_prompt"), ev(s, "tool_use"), ev(s, "stop")
		o := obs(sid, project, store.TypeDiscovery, title, "narrative of "+title)
		o.SourceEventIDs, o.AcceptedAt = []string{e2.EventID}, e2.AcceptedAt
		mustApply(t, st, store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{e1, e2, e3},
			Session:      &store.SessionUpdate{Project: project, Agent: agent, Cwd: "/src/" + project},
			Prompts:      []store.Prompt{{SessionID: sid, Number: 1, Text: prompt, At: e1.AcceptedAt}},
			Observations: []store.Observation{o},
			Summary: &store.Summary{SessionID: sid, Project: project, Request: request, Learned: "learned while " + request,
				Completed: "done", PromptNumber: 1, AcceptedAt: e3.AcceptedAt, SourceEventIDs: []string{e3.EventID}}})
	}
	write("t1", "acme", "claude-code", "Please fix the flaky websocket reconnect test", "Websocket reconnect waits for backoff", "Fix the flaky websocket reconnect")
	write("t2", "beta", "cursor", "Add a websocket heartbeat to the gateway", "Gateway heartbeat every 30 s", "Add a websocket heartbeat")
	return s
}

// testSearchOrderAndPlatform checks orderBy (relevance, date_desc,
// date_asc, with and without text), the platform filter (the session's
// agent) and that a bad order is a typed ErrInvalid.
func testSearchOrderAndPlatform(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	seedText(t, st)
	s := &seq{n: 100}
	// A third observation in acme, newest, weakly matching.
	mustApply(t, st, toolUnit(s, "t3", 1, obs("t3", "acme", store.TypeChange, "Logging tweak", "touches websocket logs once")))

	order := func(q store.SearchQuery) []string {
		t.Helper()
		hits, err := st.Search(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		return titles(hits)
	}
	asc := order(store.SearchQuery{Text: "websocket", OrderBy: store.OrderDateAsc})
	desc := order(store.SearchQuery{Text: "websocket", OrderBy: store.OrderDateDesc})
	want := []string{"Websocket reconnect waits for backoff", "Logging tweak"}
	if len(asc) != 2 || asc[0] != want[0] || asc[1] != want[1] {
		t.Fatalf("date_asc: %v, want %v", asc, want)
	}
	if len(desc) != 2 || desc[0] != want[1] || desc[1] != want[0] {
		t.Fatalf("date_desc: %v, want the reverse of %v", desc, want)
	}
	if rel := order(store.SearchQuery{Text: "websocket reconnect OR websocket", OrderBy: store.OrderRelevance}); len(rel) != 2 || rel[0] != want[0] {
		t.Fatalf("relevance: %v, want the title match first", rel)
	}
	if all := order(store.SearchQuery{OrderBy: store.OrderDateAsc, Limit: 10}); len(all) != 3 || all[0] != want[0] || all[2] != "Logging tweak" {
		t.Fatalf("filters only, date_asc: %v", all)
	}
	if p := order(store.SearchQuery{Platform: "cursor"}); len(p) != 1 || p[0] != "Gateway heartbeat every 30 s" {
		t.Fatalf("platform cursor: %v", p)
	}
	if p := order(store.SearchQuery{Text: "websocket OR heartbeat", Platform: "claude-code"}); len(p) != 2 {
		t.Fatalf("platform claude-code with text: %v, want acme's two", p)
	}
	if p := order(store.SearchQuery{Platform: "codex"}); len(p) != 0 {
		t.Fatalf("unknown platform matched %v", p)
	}
	_, err := st.Search(ctx, store.SearchQuery{Text: "x", OrderBy: "newest"})
	var ie *store.InvalidError
	if !errors.As(err, &ie) || ie.Field != "order_by" {
		t.Fatalf("bad order: %v, want an InvalidError on order_by", err)
	}
}

// testSearchPromptsAndSummaries checks that prompts and summaries are in
// the full-text index with the filters observations have, that a
// re-written prompt is found by its new text only, and that a purged
// session's rows leave the index.
func testSearchPromptsAndSummaries(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	s := seedText(t, st)
	prompts := searcher(t, "prompts", st.SearchPrompts)
	sums := searcher(t, "summaries", st.SearchSummaries)
	if h := prompts(store.SearchQuery{Text: "flaky reconnect"}); len(h) != 1 || h[0].Prompt.SessionID != "t1" ||
		h[0].Project != "acme" || h[0].Platform != "claude-code" || h[0].Rank <= 0 {
		t.Fatalf("prompt search: %+v", h)
	}
	if h := prompts(store.SearchQuery{Text: "websocket"}); len(h) != 2 || h[0].Rank < h[1].Rank {
		t.Fatalf("prompt search 'websocket': %+v, want both, ranked", h)
	}
	if h := prompts(store.SearchQuery{Text: "websocket", Project: "beta"}); len(h) != 1 || h[0].Prompt.SessionID != "t2" {
		t.Fatalf("prompt project filter: %+v", h)
	}
	if h := prompts(store.SearchQuery{Text: "websocket", Platform: "cursor"}); len(h) != 1 || h[0].Prompt.SessionID != "t2" {
		t.Fatalf("prompt platform filter: %+v", h)
	}
	// t1's prompt is event 1, t2's event 4.
	if h := prompts(store.SearchQuery{Since: base.Add(2 * time.Second)}); len(h) != 1 || h[0].Prompt.SessionID != "t2" {
		t.Fatalf("prompt since: %+v", h)
	}
	if h := prompts(store.SearchQuery{Until: base.Add(2 * time.Second)}); len(h) != 1 || h[0].Prompt.SessionID != "t1" {
		t.Fatalf("prompt until: %+v", h)
	}
	if h := prompts(store.SearchQuery{OrderBy: store.OrderDateAsc}); len(h) != 2 || h[0].Prompt.SessionID != "t1" {
		t.Fatalf("prompt date_asc: %+v", h)
	}
	if h := prompts(store.SearchQuery{}); len(h) != 2 || h[0].Prompt.SessionID != "t2" {
		t.Fatalf("prompt newest first: %+v", h)
	}
	if h := prompts(store.SearchQuery{Limit: 1, Offset: 1}); len(h) != 1 || h[0].Prompt.SessionID != "t1" {
		t.Fatalf("prompt paging: %+v", h)
	}

	if h := sums(store.SearchQuery{Text: "heartbeat"}); len(h) != 1 || h[0].Summary.SessionID != "t2" || h[0].Rank <= 0 {
		t.Fatalf("summary search: %+v", h)
	}
	if h := sums(store.SearchQuery{Text: "learned"}); len(h) != 2 {
		t.Fatalf("summary search in learned: %+v, want both", h)
	}
	if h := sums(store.SearchQuery{Text: "websocket", Project: "acme"}); len(h) != 1 || h[0].Summary.SessionID != "t1" {
		t.Fatalf("summary project filter: %+v", h)
	}
	if h := sums(store.SearchQuery{Platform: "cursor"}); len(h) != 1 || h[0].Summary.SessionID != "t2" {
		t.Fatalf("summary platform filter: %+v", h)
	}
	if h := sums(store.SearchQuery{Since: base.Add(4 * time.Second), OrderBy: store.OrderDateAsc}); len(h) != 1 || h[0].Summary.SessionID != "t2" {
		t.Fatalf("summary since: %+v", h)
	}
	if h := sums(store.SearchQuery{OrderBy: store.OrderDateAsc}); len(h) != 2 || h[0].Summary.SessionID != "t1" {
		t.Fatalf("summary date_asc: %+v", h)
	}

	var ie *store.InvalidError
	if _, err := st.SearchPrompts(ctx, store.SearchQuery{Types: []string{store.TypeBugfix}}); !errors.As(err, &ie) {
		t.Fatalf("prompts with types: %v, want InvalidError", err)
	}
	if _, err := st.SearchSummaries(ctx, store.SearchQuery{File: "/x"}); !errors.As(err, &ie) {
		t.Fatalf("summaries with file: %v, want InvalidError", err)
	}
	for _, q := range []string{`"unclosed`, `*`, `NEAR(`, `'; DROP TABLE prompts; --`} {
		if _, err := st.SearchPrompts(ctx, store.SearchQuery{Text: q}); err != nil {
			t.Fatalf("prompt search %q: %v", q, err)
		}
		if _, err := st.SearchSummaries(ctx, store.SearchQuery{Text: q}); err != nil {
			t.Fatalf("summary search %q: %v", q, err)
		}
	}

	// A prompt re-written (same number) is found by its new text only.
	e := ev(s, "user_prompt")
	mustApply(t, st, store.Unit{SessionID: "t1", Fence: 1, Events: []store.AppliedEvent{e},
		Prompts: []store.Prompt{{SessionID: "t1", Number: 1, Text: "Rename the config loader", At: e.AcceptedAt}}})
	if h := prompts(store.SearchQuery{Text: "flaky"}); len(h) != 0 {
		t.Fatalf("old prompt text still found: %+v", h)
	}
	if h := prompts(store.SearchQuery{Text: "config loader"}); len(h) != 1 {
		t.Fatalf("new prompt text not found: %+v", h)
	}
	// A purged session leaves the index.
	if err := st.DeleteSession(ctx, "t2", true); err != nil {
		t.Fatal(err)
	}
	if h := prompts(store.SearchQuery{Text: "heartbeat"}); len(h) != 0 {
		t.Fatalf("purged prompt found: %+v", h)
	}
	if h := sums(store.SearchQuery{Text: "heartbeat"}); len(h) != 0 {
		t.Fatalf("purged summary found: %+v", h)
	}
}

// testProjectsAndSize checks the project list (counts, last activity, most
// recent first) and that the store reports a size.
func testProjectsAndSize(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	if p, err := st.Projects(ctx); err != nil || len(p) != 0 {
		t.Fatalf("empty store projects: %v %+v", err, p)
	}
	s := seedText(t, st)
	mustApply(t, st, toolUnit(s, "t1", 1, obs("t1", "acme", store.TypeChange, "Later work", "after beta")))
	if _, err := st.AddMemory(ctx, store.Observation{Project: "notes", Type: store.TypeDecision, Title: "Manual", Narrative: "by hand"}); err != nil {
		t.Fatal(err)
	}
	list, err := st.Projects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("projects %+v, want acme, beta and notes", list)
	}
	by := map[string]store.Project{}
	for _, p := range list {
		by[p.Name] = p
	}
	if a := by["acme"]; a.Sessions != 1 || a.Observations != 2 || a.Prompts != 1 || a.Summaries != 1 ||
		!a.LastActivity.Equal(base.Add(7*time.Second)) {
		t.Fatalf("acme %+v", a)
	}
	if b := by["beta"]; b.Sessions != 1 || b.Observations != 1 || b.Prompts != 1 || b.Summaries != 1 ||
		!b.LastActivity.Equal(base.Add(6*time.Second)) {
		t.Fatalf("beta %+v", b)
	}
	if n := by["notes"]; n.Observations != 1 || n.Sessions != 0 {
		t.Fatalf("notes %+v", n)
	}
	// The manual memory is the newest (stamped now), then acme, then beta.
	if list[0].Name != "notes" || list[1].Name != "acme" || list[2].Name != "beta" {
		t.Fatalf("order %v, want most recently active first", list)
	}
	if n, err := st.Size(ctx); err != nil || n <= 0 {
		t.Fatalf("size %d %v", n, err)
	}
}

// searcher binds one of the store's searches to t: it returns q's hits and
// fails the test on an error.
func searcher[H any](t *testing.T, what string, search func(context.Context, store.SearchQuery) ([]H, error)) func(store.SearchQuery) []H {
	return func(q store.SearchQuery) []H {
		t.Helper()
		h, err := search(context.Background(), q)
		if err != nil {
			t.Fatalf("search %s %+v: %v", what, q, err)
		}
		return h
	}
}

// pageAll lists q's hits page by page, as the viewer scrolls: each page of
// q.Limit hits starts Before the position of the last hit of the page before,
// until a page is empty or pages were read. between, when not nil, runs
// after each page is read.
func pageAll[H any](t *testing.T, search func(store.SearchQuery) []H, q store.SearchQuery,
	pages int, pos func(H) store.Position, between func(page int)) []H {
	t.Helper()
	var all []H
	for page := 0; page < pages; page++ {
		hits := search(q)
		if len(hits) == 0 {
			break
		}
		if between != nil {
			between(page)
		}
		all = append(all, hits...)
		p := pos(hits[len(hits)-1])
		q.Before = &p
	}
	return all
}

// testListPages pages observations, prompts and summaries newest first with
// Before (the viewer's infinite scroll): rows sharing a time are neither
// repeated nor skipped, a row written between two pages does not shift the
// next one, and Before with text is a typed ErrInvalid.
func testListPages(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	// Three units; each writes, all at its one event's time, three
	// observations, two prompts (of two sessions) and a summary.
	for u := 0; u < 3; u++ {
		for _, sid := range []string{"la", "lb"} {
			e := ev(s, "tool_use")
			var os []store.Observation
			for i := 0; i < 3; i++ {
				o := obs(sid, "acme", store.TypeChange, fmt.Sprintf("%s u%d o%d", sid, u, i), "n")
				o.AcceptedAt, o.SourceEventIDs = e.AcceptedAt, []string{e.EventID}
				os = append(os, o)
			}
			mustApply(t, st, store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{e},
				Session:      &store.SessionUpdate{Project: "acme", Agent: "claude-code"},
				Prompts:      []store.Prompt{{SessionID: sid, Number: u + 1, Text: fmt.Sprintf("prompt %s %d", sid, u), At: base}},
				Observations: os,
				Summary: &store.Summary{SessionID: sid, Project: "acme", Request: fmt.Sprintf("req %s %d", sid, u),
					AcceptedAt: base, SourceEventIDs: []string{e.EventID}}})
		}
	}
	whole, err := st.Search(ctx, store.SearchQuery{Project: "acme", Limit: 100})
	if err != nil || len(whole) != 18 {
		t.Fatalf("whole listing: %d, %v", len(whole), err)
	}
	paged := titles(pageAll(t, searcher(t, "observations", st.Search), store.SearchQuery{Project: "acme", Limit: 4}, 20,
		func(h store.SearchHit) store.Position {
			return store.Position{At: h.Observation.AcceptedAt, ID: h.Observation.ID}
		},
		func(page int) {
			if page == 0 { // a newer row arriving between pages must not shift the next
				mustApply(t, st, toolUnit(s, "lc", 1, obs("lc", "acme", store.TypeChange, "late arrival", "n")))
			}
		}))
	if got, want := strings.Join(paged, "|"), strings.Join(titles(whole), "|"); got != want {
		t.Fatalf("observations paged by 4:\n%s\nwant the whole listing:\n%s", got, want)
	}

	allPrompts, err := st.SearchPrompts(ctx, store.SearchQuery{Limit: 100})
	if err != nil || len(allPrompts) != 6 {
		t.Fatalf("prompts: %d, %v", len(allPrompts), err)
	}
	var pk []string
	for _, h := range pageAll(t, searcher(t, "prompts", st.SearchPrompts), store.SearchQuery{Limit: 4}, 10, func(h store.PromptHit) store.Position {
		return store.Position{At: h.Prompt.At, SessionID: h.Prompt.SessionID, Number: h.Prompt.Number}
	}, nil) {
		pk = append(pk, h.Prompt.Text)
	}
	var want []string
	for _, h := range allPrompts {
		want = append(want, h.Prompt.Text)
	}
	if strings.Join(pk, "|") != strings.Join(want, "|") {
		t.Fatalf("prompts paged by 4: %v, want %v", pk, want)
	}

	allSums, err := st.SearchSummaries(ctx, store.SearchQuery{Limit: 100})
	if err != nil || len(allSums) == 0 {
		t.Fatalf("summaries: %d, %v", len(allSums), err)
	}
	var sk []int64
	for _, h := range pageAll(t, searcher(t, "summaries", st.SearchSummaries), store.SearchQuery{Limit: 1}, 10, func(h store.SummaryHit) store.Position {
		return store.Position{At: h.Summary.AcceptedAt, ID: h.Summary.ID}
	}, nil) {
		sk = append(sk, h.Summary.ID)
	}
	if len(sk) != len(allSums) || sk[0] != allSums[0].Summary.ID || sk[len(sk)-1] != allSums[len(allSums)-1].Summary.ID {
		t.Fatalf("summaries paged by 1: %v, want %d in the listing's order", sk, len(allSums))
	}

	_, err = st.Search(ctx, store.SearchQuery{Text: "acme", Before: &store.Position{At: base, ID: 1}})
	var ie *store.InvalidError
	if !errors.As(err, &ie) || ie.Field != "before" {
		t.Fatalf("before with text: %v, want an InvalidError on before", err)
	}
}
