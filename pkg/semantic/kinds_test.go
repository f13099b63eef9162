package semantic_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// sessionUnit is a session of project with one prompt, one observation and
// one summary, as the worker applies it.
func sessionUnit(sid, project, prompt, title, request, learned string) store.Unit {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	return store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{
		{EventID: sid + "-1", Seq: 1, Kind: "user_prompt", AcceptedAt: at},
		{EventID: sid + "-2", Seq: 2, Kind: "stop", AcceptedAt: at.Add(time.Second)}},
		Session:      &store.SessionUpdate{Project: project, Agent: "claude-code"},
		Prompts:      []store.Prompt{{SessionID: sid, Number: 1, Text: prompt, At: at}},
		Observations: []store.Observation{{SessionID: sid, Project: project, Type: store.TypeDiscovery, Title: title, AcceptedAt: at}},
		Summary: &store.Summary{SessionID: sid, Project: project, Request: request, Learned: learned, PromptNumber: 1,
			AcceptedAt: at.Add(time.Second)},
	}
}

// Summaries and prompts are embedded, batched, caught up after an outage,
// indexed apart from observations (the first of each kind has ID 1), found
// by a paraphrase, never twice through a redelivery, gone once purged, and
// reindexed under a new model with every kind's old vectors dropped.
func TestSummariesAndPromptsEmbeddedAndSearched(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testKinds(t, openStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := store.Open(context.Background(), testkit.StartPostgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		testKinds(t, st)
	})
}

func testKinds(t *testing.T, st store.Store) {
	ctx := context.Background()
	srv := embedtest.NewOpenAI(t, 128)
	c1 := client(t, srv, "m1")
	u := sessionUnit("s1", "acme", "Please write the readme", "Check greeting", "Make the sluggish login quick", "token refresh was slow")
	if _, err := st.Apply(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, sessionUnit("s2", "other", "Where is the handbook", "Rotate signing keys", "Speed up signin", "")); err != nil {
		t.Fatal(err)
	}
	cu := semantic.NewCatchup(st, c1, nil, time.Hour)
	srv.SetDown(true)
	if n, err := cu.Pass(ctx); err == nil || n != 0 {
		t.Fatalf("pass during an outage: %d %v, want an error and nothing embedded", n, err)
	}
	srv.SetDown(false)
	calls := srv.Calls()
	if n, err := cu.Pass(ctx); err != nil || n != 6 || srv.Calls()-calls != 3 {
		t.Fatalf("pass after the outage embedded %d (%v) in %d calls, want 6 in one call per kind", n, err, srv.Calls()-calls)
	}
	for _, k := range store.Kinds {
		if c, _ := st.CountVectors(ctx, k, c1.Key(), ""); c != (store.VectorCounts{Embedded: 2}) {
			t.Fatalf("%s counts %+v, want both embedded", k, c)
		}
	}
	// A redelivered unit writes nothing and leaves nothing to embed.
	if res, err := st.Apply(ctx, u); err != nil || !res.Duplicate {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	if n, err := cu.Pass(ctx); err != nil || n != 0 {
		t.Fatalf("pass after a redelivery embedded %d (%v)", n, err)
	}

	s := semantic.NewSearcher(st, c1, nil)
	s.KeepEvery = 0
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range store.Kinds {
		if n := s.Index(k).Len(); n != 2 {
			t.Fatalf("%s index holds %d, want its 2", k, n)
		}
	}
	nearest := func(s *semantic.Searcher, k store.Kind, text, project string) []semantic.Hit {
		t.Helper()
		hits, err := s.Nearest(ctx, k, text, project, 5)
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	sums, _ := st.ToEmbed(ctx, store.EmbedQuery{Kind: store.KindSummary, Model: c1.Key(), All: true})
	prompts, _ := st.ToEmbed(ctx, store.EmbedQuery{Kind: store.KindPrompt, Model: c1.Key(), All: true})
	if hits := nearest(s, store.KindSummary, "performance of authentication", "acme"); len(hits) != 1 || hits[0].ID != sums[0].ID {
		t.Fatalf("summaries nearest a paraphrase in acme: %+v, want S%d", hits, sums[0].ID)
	}
	if hits := nearest(s, store.KindPrompt, "documentation guide", ""); len(hits) != 2 || hits[0].Score <= 0 || hits[1].Score <= 0 {
		t.Fatalf("prompts nearest a paraphrase: %+v, want both", hits)
	}
	if hits := nearest(s, store.KindPrompt, "documentation guide", "other"); len(hits) != 1 || hits[0].ID != prompts[1].ID {
		t.Fatalf("other's prompts nearest a paraphrase: %+v, want P%d", hits, prompts[1].ID)
	}
	if hits := nearest(s, store.KindObservation, "documentation guide", ""); len(hits) > 0 && hits[0].Score > 0 {
		t.Fatalf("observations nearest the prompts' paraphrase: %+v, want nothing related", hits)
	}

	// A purged session's summary and prompt are no longer found.
	if err := st.DeleteSession(ctx, "s1", true); err != nil {
		t.Fatal(err)
	}
	s.Notice(true)
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if hits := nearest(s, store.KindSummary, "performance of authentication", ""); len(hits) != 1 || hits[0].ID != sums[1].ID {
		t.Fatalf("summaries after s1's purge: %+v, want S%d alone", hits, sums[1].ID)
	}
	if hits := nearest(s, store.KindPrompt, "documentation guide", ""); len(hits) != 1 || hits[0].ID != prompts[1].ID {
		t.Fatalf("prompts after s1's purge: %+v, want P%d alone", hits, prompts[1].ID)
	}

	// A model change: reindex leaves no m1 vector of any kind.
	c2 := client(t, srv, "m2")
	if n, err := semantic.Reindex(ctx, st, c2, "", nil); err != nil || n != 3 {
		t.Fatalf("reindex: %d %v, want s2's observation, summary and prompt", n, err)
	}
	for _, k := range store.Kinds {
		if ids, _ := st.VectorIDs(ctx, k, c1.Key()); len(ids) != 0 {
			t.Fatalf("%s vectors of the old model after reindex: %v", k, ids)
		}
		if c, _ := st.CountVectors(ctx, k, c2.Key(), ""); c != (store.VectorCounts{Embedded: 1}) {
			t.Fatalf("%s counts under the new model %+v", k, c)
		}
	}
	s2 := semantic.NewSearcher(st, c2, nil)
	if err := s2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if hits := nearest(s2, store.KindSummary, "fast credentials", ""); len(hits) != 1 || hits[0].ID != sums[1].ID || hits[0].Score <= 0 {
		t.Fatalf("summaries under the new model: %+v, want S%d", hits, sums[1].ID)
	}
}
