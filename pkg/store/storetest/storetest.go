// Package storetest is the conformance suite every memory store passes: the
// exactly-once write path (fences, idempotence, cursors, concurrency) and the
// read path (search, context budget, timeline, lists, counts). The SQLite and
// PostgreSQL stores run the same suite, so they cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// NewDSN returns the DSN of a fresh, empty store for one test (a SQLite path
// in a temp dir, or a new PostgreSQL database).
type NewDSN func(t *testing.T) string

// Run runs every conformance test against the stores newDSN opens.
func Run(t *testing.T, newDSN NewDSN) {
	tests := []struct {
		name string
		fn   func(t *testing.T, dsn string)
	}{
		{"MigrationsFromEmptyAndRerun", testMigrations},
		{"ApplyWritesEverything", testApplyWritesEverything},
		{"IdempotentReapply", testIdempotentReapply},
		{"RepublishedEventsAdvanceCursor", testRepublishedAdvance},
		{"StaleFenceRejected", testStaleFence},
		{"ClaimedFenceRefusesOlderWriters", testClaimFence},
		{"CursorBackwardsRejected", testCursorBackwards},
		{"PartialDuplicateRejected", testPartialDuplicate},
		{"ConcurrentAppliersSameFence", testConcurrentSameFence},
		{"ConcurrentAppliersDifferentFences", testConcurrentFences},
		{"SearchRankingAndFilters", testSearch},
		{"SearchWindowAndProjectScope", testSearchWindow},
		{"SearchOrderAndPlatform", testSearchOrderAndPlatform},
		{"SearchPromptsAndSummaries", testSearchPromptsAndSummaries},
		{"ProjectsAndSize", testProjectsAndSize},
		{"ListPagesNewestFirst", testListPages},
		{"ContextWithinBudget", testContextBudget},
		{"ContextTypesConceptsAndCosts", testContextSelection},
		{"TimelineAndGetByIDs", testTimeline},
		{"SessionsPromptsAndCounts", testSessionsAndCounts},
		{"DeadLetters", testDeadLetters},
		{"ReplaceObservations", testReplace},
		{"DeleteSession", testDeleteSession},
		{"BadInputTypedErrors", testBadInput},
		{"PartitionFloorsOnlyRise", testPartitionFloors},
		{"ImportByStableKeys", testImport},
		{"ImportStripsPrivate", testImportStripsPrivate},
		{"VectorsOnePerObservationAndModel", testVectors},
		{"VectorsOfSummariesAndPrompts", testKindVectors},
		{"ToolUseClaimedOnce", testToolUseClaimedOnce},
		{"ToolUseClaimRace", testToolUseClaimRace},
		{"PromptStoredOnce", testPromptStoredOnce},
		{"OpenObservationTypes", testOpenObservationTypes},
		{"ContextAlsoIncludesOtherProjects", testContextAlso},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newDSN(t))
		})
	}
}

// begin is how a test starts: a context, the store at dsn, and a fresh
// event sequence.
func begin(t *testing.T, dsn string) (context.Context, store.Store, *seq) {
	t.Helper()
	return context.Background(), Open(t, dsn), &seq{}
}

// Open opens the store at dsn for a test, bounded to 30 s, and closes it
// when the test ends.
func Open(t testing.TB, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

var base = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// seq hands out stream sequences and event IDs for one test.
type seq struct {
	mu sync.Mutex
	n  uint64
}

func (s *seq) next() (uint64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.n, fmt.Sprintf("ev-%06d", s.n)
}

func ev(s *seq, kind string) store.AppliedEvent {
	n, id := s.next()
	return store.AppliedEvent{EventID: id, Seq: n, Kind: kind, AcceptedAt: base.Add(time.Duration(n) * time.Second)}
}

func obs(sid, project, typ, title, narrative string, files ...string) store.Observation {
	return store.Observation{
		SessionID: sid, Project: project, Type: typ, Title: title, Narrative: narrative,
		Facts: []string{"fact about " + title}, Concepts: []string{"how-it-works"},
		FilesRead: files, FilesModified: nil, PromptNumber: 1,
	}
}

// toolUnit is one tool_use event making one observation.
func toolUnit(s *seq, sid string, fence int64, o store.Observation) store.Unit {
	e := ev(s, "tool_use")
	o.SourceEventIDs = []string{e.EventID}
	o.AcceptedAt = e.AcceptedAt
	return store.Unit{SessionID: sid, Fence: fence, Events: []store.AppliedEvent{e},
		Session:      &store.SessionUpdate{Project: o.Project, Agent: "claude-code", Cwd: "/src/" + o.Project},
		Observations: []store.Observation{o}}
}

func mustApply(t *testing.T, st store.Store, u store.Unit) store.ApplyResult {
	t.Helper()
	res, err := st.Apply(context.Background(), u)
	if err != nil {
		t.Fatalf("apply %s: %v", u.Events[0].EventID, err)
	}
	return res
}

func testMigrations(t *testing.T, dsn string) {
	ctx := context.Background()
	s := &seq{}
	st := Open(t, dsn)
	res := mustApply(t, st, toolUnit(s, "m1", 1, obs("m1", "acme", store.TypeDiscovery, "schema survives", "kept across reopen")))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Re-running the migrations on a migrated store changes nothing.
	again := Open(t, dsn)
	got, err := again.Observations(ctx, res.ObservationIDs)
	if err != nil || len(got) != 1 || got[0].Title != "schema survives" {
		t.Fatalf("after reopen: %v %+v", err, got)
	}
	if c, _ := again.Cursor(ctx, "m1"); c.LastSeq != 1 || c.Fence != 1 {
		t.Fatalf("cursor after reopen %+v", c)
	}
	third := Open(t, dsn)
	if _, err := third.Cursor(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
}

func testApplyWritesEverything(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	start := ev(s, "session_start")
	prompt := ev(s, "user_prompt")
	mustApply(t, st, store.Unit{SessionID: "a1", Fence: 1, Events: []store.AppliedEvent{start, prompt},
		Session: &store.SessionUpdate{Project: "acme", Agent: "claude-code", Cwd: "/src/acme"},
		Prompts: []store.Prompt{{SessionID: "a1", Number: 1, Text: "fix login", At: prompt.AcceptedAt}}})
	u := toolUnit(s, "a1", 1, obs("a1", "acme", store.TypeBugfix, "Fixed token refresh", "the refresh raced", "/src/acme/auth.go"))
	u.Usage = []store.LLMUsage{{Provider: "fake", Model: "m", InputTokens: 120, OutputTokens: 30, CostUSD: 0.0125},
		{Provider: "fake", Model: "m", InputTokens: 1, CostUSD: 0.0000375}}
	u.Conversation = &store.Conversation{SessionID: "a1", Provider: "fake", State: []byte(`{"turns":1}`), UpdatedAt: base}
	res := mustApply(t, st, u)
	if res.Duplicate || len(res.ObservationIDs) != 1 || res.LastSeq != 3 {
		t.Fatalf("result %+v", res)
	}
	stop := ev(s, "stop")
	sres := mustApply(t, st, store.Unit{SessionID: "a1", Fence: 1, Events: []store.AppliedEvent{stop},
		Summary: &store.Summary{SessionID: "a1", Project: "acme", Request: "fix login", Completed: "token refresh fixed",
			SourceEventIDs: []string{stop.EventID}, AcceptedAt: stop.AcceptedAt}})
	if sres.SummaryID == 0 {
		t.Fatal("no summary ID")
	}
	sess, err := st.Session(ctx, "a1")
	if err != nil || sess.Project != "acme" || sess.PromptCount != 1 {
		t.Fatalf("session %+v %v", sess, err)
	}
	o, err := st.SessionObservations(ctx, "a1")
	if err != nil || len(o) != 1 || o[0].Type != store.TypeBugfix || fmt.Sprint(o[0].FilesRead) != "[/src/acme/auth.go]" ||
		fmt.Sprint(o[0].SourceEventIDs) != fmt.Sprint(u.Observations[0].SourceEventIDs) || !o[0].AcceptedAt.Equal(u.Events[0].AcceptedAt) {
		t.Fatalf("observations %+v %v", o, err)
	}
	sums, err := st.SessionSummaries(ctx, "a1")
	if err != nil || len(sums) != 1 || sums[0].Completed != "token refresh fixed" {
		t.Fatalf("summaries %+v %v", sums, err)
	}
	conv, err := st.Conversation(ctx, "a1")
	if err != nil || string(conv.State) != `{"turns":1}` {
		t.Fatalf("conversation %+v %v", conv, err)
	}
	c, err := st.Counts(ctx, "acme", base.Add(-time.Hour))
	if err != nil || c.InputTokens != 121 || c.OutputTokens != 30 || math.Abs(c.CostUSD-0.0125375) > 1e-12 {
		t.Fatalf("usage counts %+v %v", c, err)
	}
	if c, err := st.Counts(ctx, "acme", time.Now().Add(time.Hour)); err != nil || c.CostUSD != 0 || c.InputTokens != 0 {
		t.Fatalf("usage counts after every call %+v %v", c, err)
	}
}

func testIdempotentReapply(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	u := toolUnit(s, "i1", 1, obs("i1", "acme", store.TypeChange, "once", "only once"))
	mustApply(t, st, u)
	for i := 0; i < 3; i++ {
		res := mustApply(t, st, u)
		if !res.Duplicate {
			t.Fatalf("re-apply %d not reported as duplicate", i)
		}
	}
	o, _ := st.SessionObservations(ctx, "i1")
	if len(o) != 1 {
		t.Fatalf("%d observations after re-applies, want 1", len(o))
	}
	seqs, err := st.AppliedSeqs(ctx, []string{u.Events[0].EventID, "never-applied"})
	if err != nil || len(seqs) != 1 || seqs[u.Events[0].EventID] != 1 {
		t.Fatalf("applied seqs %v %v", seqs, err)
	}
}

func testRepublishedAdvance(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	u := toolUnit(s, "r1", 1, obs("r1", "acme", store.TypeChange, "first", "n"))
	mustApply(t, st, u)
	// The same event comes back under a new sequence (re-published after
	// the dedupe window): duplicate, nothing written, cursor moves on.
	again := u
	again.Events = []store.AppliedEvent{u.Events[0]}
	again.Events[0].Seq = 7
	res := mustApply(t, st, again)
	if !res.Duplicate {
		t.Fatal("re-published event not reported duplicate")
	}
	if c, _ := st.Cursor(ctx, "r1"); c.LastSeq != 7 {
		t.Fatalf("cursor %d after a re-published event at 7, want 7", c.LastSeq)
	}
	if o, _ := st.SessionObservations(ctx, "r1"); len(o) != 1 {
		t.Fatalf("%d observations, want 1", len(o))
	}
	s.n = 7
	mustApply(t, st, toolUnit(s, "r1", 1, obs("r1", "acme", store.TypeChange, "next", "n")))
}

func testStaleFence(t *testing.T, dsn string) {
	st := Open(t, dsn)
	s := &seq{}
	mustApply(t, st, toolUnit(s, "f1", 5, obs("f1", "acme", store.TypeChange, "fenced", "n")))
	_, err := st.Apply(context.Background(), toolUnit(s, "f1", 4, obs("f1", "acme", store.TypeChange, "stale", "n")))
	if !errors.Is(err, store.ErrStaleFence) {
		t.Fatalf("older fence: %v, want ErrStaleFence", err)
	}
	mustApply(t, st, toolUnit(s, "f1", 6, obs("f1", "acme", store.TypeChange, "newer", "n")))
	if c, _ := st.Cursor(context.Background(), "f1"); c.Fence != 6 {
		t.Fatalf("fence %d, want 6", c.Fence)
	}
}

// A claimed fence refuses every writer with an older or equal one, even one
// that never wrote: two holders handed the same fence cannot both write.
func testClaimFence(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	if err := st.ClaimFence(ctx, "cf", 5); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := st.Apply(ctx, toolUnit(s, "cf", 4, obs("cf", "acme", store.TypeChange, "old holder", "n"))); !errors.Is(err, store.ErrStaleFence) {
		t.Fatalf("write under an older fence after a claim: %v, want ErrStaleFence", err)
	}
	if err := st.ClaimFence(ctx, "cf", 5); !errors.Is(err, store.ErrStaleFence) {
		t.Fatalf("second claim of the same fence: %v, want ErrStaleFence", err)
	}
	if err := st.ClaimFence(ctx, "cf", 6); err != nil {
		t.Fatalf("newer claim: %v", err)
	}
	if _, err := st.Apply(ctx, toolUnit(s, "cf", 5, obs("cf", "acme", store.TypeChange, "superseded", "n"))); !errors.Is(err, store.ErrStaleFence) {
		t.Fatalf("write under a superseded fence: %v, want ErrStaleFence", err)
	}
	mustApply(t, st, toolUnit(s, "cf", 6, obs("cf", "acme", store.TypeChange, "current", "n")))
	if c, _ := st.Cursor(ctx, "cf"); c.Fence != 6 || c.LastSeq != s.n {
		t.Fatalf("cursor %+v", c)
	}
}

func testCursorBackwards(t *testing.T, dsn string) {
	st := Open(t, dsn)
	s := &seq{n: 10}
	mustApply(t, st, toolUnit(s, "b1", 1, obs("b1", "acme", store.TypeChange, "at 11", "n")))
	s.n = 4
	_, err := st.Apply(context.Background(), toolUnit(s, "b1", 1, obs("b1", "acme", store.TypeChange, "at 5", "n")))
	if !errors.Is(err, store.ErrCursorBackwards) {
		t.Fatalf("older sequence: %v, want ErrCursorBackwards", err)
	}
}

func testPartialDuplicate(t *testing.T, dsn string) {
	st := Open(t, dsn)
	s := &seq{}
	first := toolUnit(s, "p1", 1, obs("p1", "acme", store.TypeChange, "one", "n"))
	mustApply(t, st, first)
	second := ev(s, "tool_use")
	u := store.Unit{SessionID: "p1", Fence: 1, Events: []store.AppliedEvent{first.Events[0], second}}
	if _, err := st.Apply(context.Background(), u); !errors.Is(err, store.ErrPartialDuplicate) {
		t.Fatalf("half-applied unit: %v, want ErrPartialDuplicate", err)
	}
}

// Many writers race to apply the same unit with the same fence: exactly one
// writes, the others see a duplicate (or a typed refusal), never two rows.
func testConcurrentSameFence(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	for round := 0; round < 5; round++ {
		u := toolUnit(s, "c1", 1, obs("c1", "acme", store.TypeChange, fmt.Sprintf("round %d", round), "n"))
		res, errs := applyAtOnce(ctx, st, slices.Repeat([]store.Unit{u}, 6)...)
		wrote, dups := 0, 0
		for i, err := range errs {
			switch {
			case err == nil && !res[i].Duplicate:
				wrote++
			case err == nil:
				dups++
			case errors.Is(err, store.ErrCursorBackwards), errors.Is(err, store.ErrPartialDuplicate):
				dups++
			default:
				t.Errorf("concurrent apply: %v", err)
			}
		}
		if wrote != 1 {
			t.Fatalf("round %d: %d writers wrote (dups %d), want exactly 1", round, wrote, dups)
		}
	}
	if o, _ := st.SessionObservations(ctx, "c1"); len(o) != 5 {
		t.Fatalf("%d observations, want 5", len(o))
	}
}

// applyAtOnce applies units concurrently, one writer each, and returns each
// unit's result and error in the units' order.
func applyAtOnce(ctx context.Context, st store.Store, units ...store.Unit) ([]store.ApplyResult, []error) {
	res := make([]store.ApplyResult, len(units))
	errs := make([]error, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = st.Apply(ctx, u)
		}()
	}
	wg.Wait()
	return res, errs
}

// Writers with different fences race on one session: once a newer fence has
// written, an older one never writes again.
func testConcurrentFences(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	var wg sync.WaitGroup
	var mu sync.Mutex
	type write struct {
		fence int64
		seq   uint64
	}
	var writes []write
	for f := int64(1); f <= 6; f++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				u := toolUnit(s, "c2", f, obs("c2", "acme", store.TypeChange, fmt.Sprintf("f%d-%d", f, i), "n"))
				_, err := st.Apply(ctx, u)
				switch {
				case err == nil:
					mu.Lock()
					writes = append(writes, write{f, u.Events[0].Seq})
					mu.Unlock()
				case errors.Is(err, store.ErrStaleFence), errors.Is(err, store.ErrCursorBackwards):
				default:
					t.Errorf("apply: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	// In sequence order, the fences of successful writes never decrease.
	sortWrites := func(ws []write) {
		for i := 1; i < len(ws); i++ {
			for j := i; j > 0 && ws[j].seq < ws[j-1].seq; j-- {
				ws[j], ws[j-1] = ws[j-1], ws[j]
			}
		}
	}
	sortWrites(writes)
	for i := 1; i < len(writes); i++ {
		if writes[i].fence < writes[i-1].fence {
			t.Fatalf("fence %d wrote at seq %d after fence %d: a stale writer got through", writes[i].fence, writes[i].seq, writes[i-1].fence)
		}
	}
	o, _ := st.SessionObservations(ctx, "c2")
	if len(o) != len(writes) || len(writes) == 0 {
		t.Fatalf("%d observations for %d successful writes", len(o), len(writes))
	}
}

func seedSearch(t *testing.T, st store.Store) {
	s := &seq{}
	add := func(sid, project, typ, title, narrative string, files ...string) {
		mustApply(t, st, toolUnit(s, sid, 1, obs(sid, project, typ, title, narrative, files...)))
	}
	add("s1", "acme", store.TypeBugfix, "Token refresh race fixed", "The OAuth token refresh raced with logout; refresh now holds the session mutex.", "/src/acme/auth/token.go")
	add("s1", "acme", store.TypeDiscovery, "Database pool settings", "The pool allows 20 connections; token cache lives in Redis.", "/src/acme/db/pool.go")
	add("s2", "acme", store.TypeFeature, "Webhook retries", "Webhooks retry with exponential backoff.", "/src/acme/hooks/retry.go")
	add("s3", "other", store.TypeBugfix, "Token parsing bug", "Token parsing failed on padded base64.", "/src/other/token.go")
	add("s2", "acme", store.TypeDecision, "Keep token refresh in middleware", "Decided that token refresh stays in the auth middleware; token token token.", "/src/acme/auth/middleware.go")
}

func testSearch(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	seedSearch(t, st)
	hits, err := st.Search(ctx, store.SearchQuery{Text: "token refresh", Project: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 {
		t.Fatalf("'token refresh' in acme: %d hits, want 2: %+v", len(hits), titles(hits))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Rank > hits[i-1].Rank {
			t.Fatalf("hits not ranked best first: %v", titles(hits))
		}
	}
	for _, h := range hits {
		if h.Observation.Project != "acme" {
			t.Fatalf("project filter leaked %q", h.Observation.Project)
		}
	}
	if h, _ := st.Search(ctx, store.SearchQuery{Text: "token", Types: []string{store.TypeBugfix}}); len(h) != 2 {
		t.Fatalf("type filter: %v, want the two bugfixes", titles(h))
	}
	if h, _ := st.Search(ctx, store.SearchQuery{File: "/src/acme/db/pool.go"}); len(h) != 1 || h[0].Observation.Title != "Database pool settings" {
		t.Fatalf("file filter: %v", titles(h))
	}
	all, _ := st.Search(ctx, store.SearchQuery{Project: "acme", Limit: 100})
	if len(all) != 4 {
		t.Fatalf("filters only: %d, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Observation.AcceptedAt.After(all[i-1].Observation.AcceptedAt) {
			t.Fatal("filter-only search not newest first")
		}
	}
	page1, _ := st.Search(ctx, store.SearchQuery{Project: "acme", Limit: 2})
	page2, _ := st.Search(ctx, store.SearchQuery{Project: "acme", Limit: 2, Offset: 2})
	if len(page1) != 2 || len(page2) != 2 || page1[0].Observation.ID == page2[0].Observation.ID {
		t.Fatalf("paging: %v / %v", titles(page1), titles(page2))
	}
	// Since is inclusive, Until exclusive: events 3 and 4.
	ranged, _ := st.Search(ctx, store.SearchQuery{Since: base.Add(3 * time.Second), Until: base.Add(5 * time.Second), Limit: 100})
	if len(ranged) != 2 {
		t.Fatalf("date range: %v, want 2", titles(ranged))
	}
	for _, q := range []string{`"unclosed`, `token AND (`, `*`, `-`, `NEAR(`, `'; DROP TABLE observations; --`} {
		if _, err := st.Search(ctx, store.SearchQuery{Text: q}); err != nil {
			t.Fatalf("search %q: %v (user text must never break the query)", q, err)
		}
	}
	if h, _ := st.Search(ctx, store.SearchQuery{Text: "zzzqqq"}); len(h) != 0 {
		t.Fatalf("nonsense matched %v", titles(h))
	}
}

// testSearchWindow pins what SearchQuery promises about its window: a
// search ranks the newest SearchWindow matches of the text and its filters,
// widened to reach a deep page, and a project filter is exact (no prefix or
// tokenizer collisions between projects).
func testSearchWindow(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	// The strongest match is the oldest: a decision with the word in its
	// title; then SearchWindow weak matches (the word once, in the narrative).
	mustApply(t, st, toolUnit(s, "w0", 1, obs("w0", "win", store.TypeDecision, "needle needle needle", "needle")))
	for done := 0; done < store.SearchWindow; {
		u := store.Unit{SessionID: "w1", Fence: 1, Session: &store.SessionUpdate{Project: "win"}}
		for i := 0; i < 250 && done < store.SearchWindow; i, done = i+1, done+1 {
			e := ev(s, "tool_use")
			o := obs("w1", "win", store.TypeChange, fmt.Sprintf("change %d", done), "a needle in the narrative of a long haystack text")
			o.SourceEventIDs, o.AcceptedAt = []string{e.EventID}, e.AcceptedAt
			u.Events, u.Observations = append(u.Events, e), append(u.Observations, o)
		}
		mustApply(t, st, u)
	}
	if err := st.Optimize(ctx); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	search := searcher(t, "observations", st.Search)
	top := search(store.SearchQuery{Text: "needle", Project: "win", Limit: 5})
	if len(top) != 5 {
		t.Fatalf("%d hits, want 5", len(top))
	}
	for _, h := range top {
		if h.Observation.Type == store.TypeDecision {
			t.Fatalf("the oldest match ranked although %d newer ones match: %v", store.SearchWindow, titles(top))
		}
	}
	// A filter narrows the window itself: the old decision is then the
	// only match, and found.
	if h := search(store.SearchQuery{Text: "needle", Types: []string{store.TypeDecision}}); len(h) != 1 || h[0].Observation.Type != store.TypeDecision {
		t.Fatalf("type-filtered search: %v, want the old decision", titles(h))
	}
	// A page past the window widens it: all SearchWindow+1 matches rank.
	deep := search(store.SearchQuery{Text: "needle", Project: "win", Limit: 100, Offset: store.SearchWindow - 50})
	if len(deep) != 51 {
		t.Fatalf("deep page: %d hits, want 51 (the window must reach offset+limit)", len(deep))
	}
	// Exact project scope: a project whose name extends another's, and
	// names the tokenizer would split or fold alike.
	for _, p := range []string{"acme", "acme-web", "Acme", "ácme", "acme web"} {
		mustApply(t, st, toolUnit(s, "p-"+p, 1, obs("p-"+p, p, store.TypeDiscovery, "scoped finding", "scoped to "+p)))
	}
	for _, p := range []string{"acme", "acme-web", "Acme", "ácme", "acme web"} {
		h := search(store.SearchQuery{Text: "scoped finding", Project: p})
		if len(h) != 1 || h[0].Observation.Project != p {
			var got []string
			for _, x := range h {
				got = append(got, x.Observation.Project)
			}
			t.Fatalf("project %q: hits in %q, want exactly its own", p, got)
		}
	}
	if h := search(store.SearchQuery{Text: "scoped finding"}); len(h) != 5 {
		t.Fatalf("unscoped: %d hits, want 5", len(h))
	}
}

func titles(hits []store.SearchHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Observation.Title)
	}
	return out
}

func testContextBudget(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	for i := 0; i < 40; i++ {
		mustApply(t, st, toolUnit(s, fmt.Sprintf("ctx-%d", i%4), 1,
			obs(fmt.Sprintf("ctx-%d", i%4), "acme", store.TypeChange, fmt.Sprintf("change %02d", i), strings.Repeat("narrative ", 40))))
	}
	for _, budget := range []int{200, 1000, 5000} {
		c, err := st.RecentContext(ctx, store.ContextQuery{Project: "acme", Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		if c.Tokens > budget {
			t.Fatalf("budget %d: selected %d tokens", budget, c.Tokens)
		}
		sum := 0
		for i := range c.Observations {
			sum += store.ObservationTokens(&c.Observations[i])
			if i > 0 && c.Observations[i].AcceptedAt.After(c.Observations[i-1].AcceptedAt) {
				t.Fatalf("budget %d: context not newest first", budget)
			}
		}
		if sum > budget {
			t.Fatalf("budget %d: observations alone are %d tokens", budget, sum)
		}
		if budget >= 1000 && (len(c.Observations) == 0 || c.Observations[0].Title != "change 39") {
			t.Fatalf("budget %d: newest observation missing: %d selected", budget, len(c.Observations))
		}
	}
	if c, _ := st.RecentContext(ctx, store.ContextQuery{Project: "nobody", Budget: 1000}); len(c.Observations) != 0 {
		t.Fatal("context leaked across projects")
	}
}

// The context selects by type and concept in the store (so the count is of
// matching observations), and keeps each observation's discovery tokens and
// each summary's last assistant message.
func testContextSelection(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	kinds := []struct {
		typ      string
		concepts []string
	}{
		{store.TypeBugfix, []string{"gotcha"}}, {store.TypeDecision, []string{"trade-off", "pattern"}},
		{store.TypeChange, []string{"what-changed"}}, {store.TypeBugfix, []string{"problem-solution"}},
	}
	for i := 0; i < 12; i++ {
		k := kinds[i%len(kinds)]
		o := obs("sel", "sel", k.typ, fmt.Sprintf("item %02d", i), "n")
		o.Concepts, o.DiscoveryTokens = k.concepts, int64(100*(i+1))
		mustApply(t, st, toolUnit(s, "sel", 1, o))
	}
	e := ev(s, "stop")
	mustApply(t, st, store.Unit{SessionID: "sel", Fence: 1, Events: []store.AppliedEvent{e},
		Summary: &store.Summary{SessionID: "sel", Project: "sel", Completed: "done", AcceptedAt: e.AcceptedAt,
			SourceEventIDs: []string{e.EventID}, LastAssistantMessage: "All tests pass now."}})
	get := func(q store.ContextQuery) []store.Observation {
		t.Helper()
		q.Project, q.Budget = "sel", 100000
		c, err := st.RecentContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return c.Observations
	}
	all := get(store.ContextQuery{MaxObservations: 3})
	if len(all) != 3 || all[0].Title != "item 11" || all[0].DiscoveryTokens != 1200 {
		t.Fatalf("newest 3: %+v", all)
	}
	bugs := get(store.ContextQuery{MaxObservations: 4, Types: []string{store.TypeBugfix}})
	if len(bugs) != 4 || bugs[0].Title != "item 11" || bugs[3].Title != "item 04" {
		t.Fatalf("bugfixes only: %d, first %q", len(bugs), bugs[0].Title)
	}
	for _, o := range bugs {
		if o.Type != store.TypeBugfix {
			t.Fatalf("type filter let through %s", o.Type)
		}
	}
	sel := get(store.ContextQuery{MaxObservations: 10, Concepts: []string{"pattern", "gotcha"}})
	if len(sel) != 6 {
		t.Fatalf("concepts pattern|gotcha: %d observations, want 6", len(sel))
	}
	both := get(store.ContextQuery{MaxObservations: 10, Types: []string{store.TypeBugfix, store.TypeChange}, Concepts: []string{"gotcha", "what-changed"}})
	if len(both) != 6 {
		t.Fatalf("types and concepts: %d observations, want 6", len(both))
	}
	if none := get(store.ContextQuery{Concepts: []string{"nothing-has-this"}}); len(none) != 0 {
		t.Fatalf("an unknown concept selected %d", len(none))
	}
	sums, err := st.SessionSummaries(ctx, "sel")
	if err != nil || len(sums) != 1 || sums[0].LastAssistantMessage != "All tests pass now." {
		t.Fatalf("summary's last message: %+v %v", sums, err)
	}
}

func testTimeline(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	var ids []int64
	for i := 0; i < 9; i++ {
		project := "acme"
		if i%3 == 2 {
			project = "other"
		}
		res := mustApply(t, st, toolUnit(s, "t-"+project, 1, obs("t-"+project, project, store.TypeChange, fmt.Sprintf("%s %d", project, i), "n")))
		if project == "acme" {
			ids = append(ids, res.ObservationIDs[0])
		}
	}
	mid := ids[2]
	tl, err := st.Timeline(ctx, mid, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 5 {
		t.Fatalf("timeline: %d, want 5", len(tl))
	}
	for i, o := range tl {
		if o.Project != "acme" || o.ID != ids[i] {
			t.Fatalf("timeline[%d] = %d (%s), want %d of acme", i, o.ID, o.Project, ids[i])
		}
	}
	if _, err := st.Timeline(ctx, 999999, 2, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("timeline around a missing ID: %v, want ErrNotFound", err)
	}
	got, err := st.Observations(ctx, []int64{ids[3], ids[0], 999999})
	if err != nil || len(got) != 2 {
		t.Fatalf("get by IDs: %d, %v", len(got), err)
	}
}

func testSessionsAndCounts(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	for i := 0; i < 3; i++ {
		sid := fmt.Sprintf("sess-%d", i)
		e := ev(s, "user_prompt")
		mustApply(t, st, store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{e},
			Session: &store.SessionUpdate{Project: "acme", Agent: "claude-code"},
			Prompts: []store.Prompt{{SessionID: sid, Number: 1, Text: "prompt", At: e.AcceptedAt}}})
		mustApply(t, st, toolUnit(s, sid, 1, obs(sid, "acme", store.TypeChange, "x", "n")))
	}
	list, err := st.Sessions(ctx, store.SessionFilter{Project: "acme", Limit: 2})
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions page: %d %v", len(list), err)
	}
	ps, err := st.Prompts(ctx, "sess-1")
	if err != nil || len(ps) != 1 || ps[0].Number != 1 {
		t.Fatalf("prompts %+v %v", ps, err)
	}
	c, err := st.Counts(ctx, "acme", time.Time{})
	if err != nil || c.Sessions != 3 || c.Observations != 3 || c.Prompts != 3 {
		t.Fatalf("counts %+v %v", c, err)
	}
	if _, err := st.Session(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing session: %v, want ErrNotFound", err)
	}
}

func testDeadLetters(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	d := store.DeadLetter{EventID: "dead-1", SessionID: "d1", Seq: 4, Reason: "max deliveries", Deliveries: 5, Payload: []byte(`{"x":1}`), At: base}
	id, err := st.AddDeadLetter(ctx, d)
	if err != nil || id == 0 {
		t.Fatal(err)
	}
	again, err := st.AddDeadLetter(ctx, d)
	if err != nil || again != id {
		t.Fatalf("re-adding the same dead letter: id %d (%v), want %d", again, err, id)
	}
	dl, err := st.DeadLettered(ctx, []string{"dead-1", "alive"})
	if err != nil || len(dl) != 1 || dl["dead-1"] != id {
		t.Fatalf("DeadLettered %v %v", dl, err)
	}
	if err := st.MarkReplayed(ctx, id, "new-1"); err != nil {
		t.Fatal(err)
	}
	got, err := st.DeadLetter(ctx, id)
	if err != nil || got.ReplayedAs != "new-1" || got.Reason != "max deliveries" || string(got.Payload) != `{"x":1}` {
		t.Fatalf("dead letter %+v %v", got, err)
	}
	list, err := st.DeadLetters(ctx, 10, 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %d %v", len(list), err)
	}
	if _, err := st.DeadLetter(ctx, 424242); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing dead letter: %v", err)
	}
}

func testReplace(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	mustApply(t, st, toolUnit(s, "rc", 1, obs("rc", "acme", store.TypeChange, "old one", "n")))
	mustApply(t, st, toolUnit(s, "rc", 1, obs("rc", "acme", store.TypeChange, "old two", "n")))
	u := toolUnit(s, "rc", 1, obs("rc", "acme", store.TypeRefactor, "recompressed", "n"))
	u.ReplaceObservations = true
	mustApply(t, st, u)
	o, _ := st.SessionObservations(ctx, "rc")
	if len(o) != 1 || o[0].Title != "recompressed" {
		t.Fatalf("after replace: %d observations", len(o))
	}
}

func testDeleteSession(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	u := toolUnit(s, "del", 1, obs("del", "acme", store.TypeChange, "to purge", "n"))
	mustApply(t, st, u)
	if err := st.DeleteSession(ctx, "del", true); err != nil {
		t.Fatal(err)
	}
	if o, _ := st.SessionObservations(ctx, "del"); len(o) != 0 {
		t.Fatal("purge kept observations")
	}
	// A redelivered event must not bring the memory back.
	if res := mustApply(t, st, u); !res.Duplicate {
		t.Fatal("re-apply after purge wrote again")
	}
	// The session row stays, aborted, so that the redelivery above is known.
	if sess, err := st.Session(ctx, "del"); err != nil || sess.Status != store.StatusAborted {
		t.Fatalf("session after delete: %+v, %v; want it kept as aborted", sess, err)
	}
}

func testBadInput(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	good := func() store.Unit {
		return toolUnit(s, "bad", 1, obs("bad", "acme", store.TypeChange, "ok", "n"))
	}
	cases := map[string]func(u *store.Unit){
		"empty session":     func(u *store.Unit) { u.SessionID = "" },
		"long session":      func(u *store.Unit) { u.SessionID = strings.Repeat("s", store.MaxIDLen+1) },
		"no events":         func(u *store.Unit) { u.Events = nil },
		"empty event id":    func(u *store.Unit) { u.Events[0].EventID = "" },
		"zero seq":          func(u *store.Unit) { u.Events[0].Seq = 0 },
		"invalid type":      func(u *store.Unit) { u.Observations[0].Type = "Rant!" },
		"long title":        func(u *store.Unit) { u.Observations[0].Title = strings.Repeat("t", store.MaxShortLen+1) },
		"long narrative":    func(u *store.Unit) { u.Observations[0].Narrative = strings.Repeat("n", store.MaxTextLen+1) },
		"too many facts":    func(u *store.Unit) { u.Observations[0].Facts = make([]string, store.MaxListLen+1) },
		"negative fence":    func(u *store.Unit) { u.Fence = -1 },
		"descending events": func(u *store.Unit) { u.Events = append(u.Events, store.AppliedEvent{EventID: "x2", Seq: 1}) },
		"negative cost":     func(u *store.Unit) { u.Usage = []store.LLMUsage{{Provider: "p", CostUSD: -0.01}} },
		"NaN cost":          func(u *store.Unit) { u.Usage = []store.LLMUsage{{Provider: "p", CostUSD: math.NaN()}} },
	}
	for name, mutate := range cases {
		u := good()
		mutate(&u)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: panic %v", name, r)
				}
			}()
			_, err := st.Apply(ctx, u)
			var ie *store.InvalidError
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &ie) || ie.Field == "" {
				t.Errorf("%s: %v, want an *InvalidError naming the field", name, err)
			}
		}()
	}
	if o, _ := st.SessionObservations(ctx, "bad"); len(o) != 0 {
		t.Fatalf("bad input wrote %d observations", len(o))
	}
	// Text that cannot be stored as is (NUL, invalid UTF-8, as an LLM may
	// produce) is cleaned, not refused: the memory is kept.
	u := good()
	u.Observations[0].Title = "a\x00b\xffc"
	res := mustApply(t, st, u)
	got, err := st.Observations(ctx, res.ObservationIDs)
	if err != nil || len(got) != 1 || strings.ContainsRune(got[0].Title, 0) || !utf8.ValidString(got[0].Title) || !strings.HasPrefix(got[0].Title, "a") {
		t.Errorf("uncleaned title stored: %q (%v)", titleOf(got), err)
	}
	if _, err := st.AddMemory(ctx, store.Observation{Project: "", Type: store.TypeChange, Title: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("memory without project: %v, want ErrInvalid", err)
	}
}

func titleOf(o []store.Observation) string {
	if len(o) == 0 {
		return ""
	}
	return o[0].Title
}

func testPartitionFloors(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	if f, err := st.PartitionFloors(ctx, "MNEMO_EVENTS@1"); err != nil || len(f) != 0 {
		t.Fatalf("empty store: %v %v", f, err)
	}
	if err := st.SavePartitionFloors(ctx, "MNEMO_EVENTS@1", map[int]uint64{0: 10, 5: 7}); err != nil {
		t.Fatal(err)
	}
	// A lower floor (a stale reading) never lowers the recorded one.
	if err := st.SavePartitionFloors(ctx, "MNEMO_EVENTS@1", map[int]uint64{0: 4, 5: 9, 63: 1}); err != nil {
		t.Fatal(err)
	}
	// Another incarnation of the stream has floors of its own.
	if err := st.SavePartitionFloors(ctx, "MNEMO_EVENTS@2", map[int]uint64{0: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := st.PartitionFloors(ctx, "MNEMO_EVENTS@1")
	if err != nil || len(f) != 3 || f[0] != 10 || f[5] != 9 || f[63] != 1 {
		t.Fatalf("floors %v (%v), want 0:10 5:9 63:1", f, err)
	}
	if f, _ := st.PartitionFloors(ctx, "MNEMO_EVENTS@2"); len(f) != 1 || f[0] != 2 {
		t.Fatalf("second stream's floors %v", f)
	}
	for _, bad := range []func() error{
		func() error { return st.SavePartitionFloors(ctx, "", map[int]uint64{0: 1}) },
		func() error { return st.SavePartitionFloors(ctx, "s", map[int]uint64{-1: 1}) },
		func() error { return st.SavePartitionFloors(ctx, "s", map[int]uint64{0: 1 << 63}) },
	} {
		if err := bad(); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad floors: %v, want ErrInvalid", err)
		}
	}
}

// ObservedFrom returns the source event IDs of a session's observations in
// their stored order: what a test compares with the events it published to
// see each applied exactly once and in accept order.
func ObservedFrom(t testing.TB, st store.Store, sid string) []string {
	t.Helper()
	obs, err := st.SessionObservations(context.Background(), sid)
	if err != nil {
		t.Fatalf("observations of %s: %v", sid, err)
	}
	var ids []string
	for _, o := range obs {
		ids = append(ids, o.SourceEventIDs...)
	}
	return ids
}
