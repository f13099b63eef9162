package query_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

// promptUnit is one user prompt of a session, as the worker applies it.
func (r *semanticRig) promptUnit(sid, project, text string) store.Unit {
	r.seq++
	id := fmt.Sprintf("ev-%d", r.seq)
	at := t0.Add(time.Duration(r.seq) * time.Minute)
	return store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{{EventID: id, Seq: r.seq, Kind: "user_prompt", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: project, Agent: "claude-code"},
		Prompts: []store.Prompt{{SessionID: sid, Number: 1, Text: text, At: at}}}
}

// Sessions' summaries and prompts are found by meaning as observations
// are: a query sharing no word with them finds them in semantic and hybrid
// mode and not in text mode, within the filters; a redelivered prompt makes
// no second vector; a purged session's summary and prompt are answered by
// no replica and leave every replica's index.
func TestSemanticSummariesAndPrompts(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	ctx := context.Background()
	r.summarize("s-acme", "acme", "Make the sluggish login quick", "token refresh cached")
	r.summarize("s-beta", "beta", "Rename the config loader", "renamed")
	redelivered := r.promptUnit("s-acme", "acme", "Please write the readme")
	for _, u := range []store.Unit{redelivered, r.promptUnit("s-beta", "beta", "Rename the config loader")} {
		if _, err := r.store.Apply(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	r.embedAll()
	sums, _ := r.store.SessionSummaries(ctx, "s-acme")

	found := func(params string, want func(query.IndexEntry) bool) (query.SearchAnswer, bool) {
		t.Helper()
		ans, _ := r.search(params)
		return ans, len(ans.Results) > 0 && want(ans.Results[0])
	}
	isSummary := func(e query.IndexEntry) bool { return e.Kind == query.KindSession && e.ID == sums[0].ID }
	isPrompt := func(e query.IndexEntry) bool {
		return e.Kind == query.KindPrompt && e.SessionID == "s-acme" && e.PromptNumber == 1
	}
	for _, tc := range []struct {
		what, text string
		want       func(query.IndexEntry) bool
	}{{"sessions", "performance of authentication", isSummary}, {"prompts", "documentation guide", isPrompt}} {
		q := "type=" + tc.what + "&query=" + url.QueryEscape(tc.text)
		if ans, ok := found(q+"&mode=text", tc.want); ok || ans.Mode != "text" {
			t.Fatalf("%s: text mode found a paraphrase's target: %+v", tc.what, ans.Results)
		}
		for _, mode := range []string{"semantic", "hybrid"} {
			if ans, ok := found(q+"&mode="+mode+"&project=acme", tc.want); !ok || ans.Mode != mode {
				t.Fatalf("%s, mode=%s: %+v (%s), want acme's first", tc.what, mode, ans.Results, ans.Mode)
			}
		}
		if ans, ok := found(q+"&project=acme", tc.want); !ok || ans.Mode != "hybrid" {
			t.Fatalf("%s by default: %+v (%s), want hybrid finding acme's", tc.what, ans.Results, ans.Mode)
		}
		if ans, ok := found(q+"&mode=semantic&project=beta", tc.want); ok {
			t.Fatalf("%s, project=beta: acme's answered: %+v", tc.what, ans.Results)
		}
		if ans, ok := found(q+"&mode=hybrid&platformSource=cursor", tc.want); ok {
			t.Fatalf("%s, platformSource=cursor: a claude-code session's answered: %+v", tc.what, ans.Results)
		}
		if ans, ok := found(q+"&mode=semantic&dateStart=2030-01-01", tc.want); ok {
			t.Fatalf("%s, dateStart=2030-01-01: an older one answered: %+v", tc.what, ans.Results)
		}
	}
	// Text mode is as before: words still find them.
	if _, ok := found("type=prompts&mode=text&query=readme", isPrompt); !ok {
		t.Fatal("text mode no longer finds a prompt by its words")
	}

	// A redelivered prompt is no second vector.
	if res, err := r.store.Apply(ctx, redelivered); err != nil || !res.Duplicate {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	r.embedAll()
	var st query.Stats
	r.get("/v1/stats", &st)
	for k, want := range map[store.Kind]query.KindStats{store.KindObservation: {Indexed: 5, Embedded: 5}, store.KindSummary: {Indexed: 2, Embedded: 2},
		store.KindPrompt: {Indexed: 2, Embedded: 2}} {
		if got := st.Semantic.ByKind[k]; got != want {
			t.Fatalf("stats of %s %+v, want %+v", k, got, want)
		}
	}

	// A purge answers neither on this replica nor another, and leaves the
	// other's index on the notice.
	other := r.replica()
	if code := r.do(http.MethodDelete, "/v1/sessions/s-acme?purge=true", "", nil); code != http.StatusOK {
		t.Fatalf("purge: %d", code)
	}
	if ans, ok := found("type=sessions&mode=semantic&query="+url.QueryEscape("performance of authentication"), isSummary); ok {
		t.Fatalf("a purged summary is answered: %+v", ans.Results)
	}
	if ans, ok := found("type=prompts&mode=hybrid&query="+url.QueryEscape("documentation guide"), isPrompt); ok {
		t.Fatalf("a purged prompt is answered: %+v", ans.Results)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		by := other.Stats(ctx).Semantic.ByKind
		if by[store.KindSummary].Indexed == 1 && by[store.KindPrompt].Indexed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other replica's indexes after the purge: %+v, want one summary and one prompt", by)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
