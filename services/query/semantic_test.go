package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
)

// semanticRig is a rig whose server embeds with a fake provider, with a
// small memory embedded and indexed.
type semanticRig struct {
	*rig
	fake *embedtest.Server
	emb  *embed.Client
	ids  map[string]int64
}

func newSemanticRig(t *testing.T, fake func(testing.TB, int) *embedtest.Server, model string) *semanticRig {
	t.Helper()
	srv := fake(t, 128)
	emb, err := embed.New(srv.Config(model))
	if err != nil {
		t.Fatal(err)
	}
	r := &semanticRig{rig: newRigEmbedding(t, filepath.Join(t.TempDir(), "mnemo.db"), emb), fake: srv, emb: emb, ids: map[string]int64{}}
	for _, o := range []struct{ project, typ, title, narrative string }{
		{"acme", "feature", "Check greeting", "the CLI says it on start"},
		{"acme", "change", "Update README", "install steps explained"},
		{"acme", "bugfix", "Fix flaky migration", "schema upgrade raced"},
		{"acme", "discovery", "Build cache speedup", "objects reused"},
		{"beta", "feature", "Welcome banner", "shown at first run"},
	} {
		r.ids[o.title] = r.observe("s-"+o.project, o.project, o.typ, o.title, o.narrative)
	}
	r.embedAll()
	return r
}

// embedAll embeds what is pending, as a worker would, and syncs the index.
func (r *semanticRig) embedAll() {
	r.t.Helper()
	if _, err := semantic.NewCatchup(r.store, r.emb, nil, 0).Pass(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	if err := r.rig.srv.SyncSemantic(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// replica is another query process over the rig's store and broker, its
// index synced.
func (r *semanticRig) replica() *query.Server {
	r.t.Helper()
	other, err := query.New(r.t.Context(), query.Config{}, query.Deps{Store: r.store, NC: r.nc, JS: r.js, Layout: r.layout, Redis: r.rdb, Embedder: r.emb})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(other.Close)
	if err := other.SyncSemantic(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return other
}

func (r *semanticRig) search(params string) (query.SearchAnswer, []int64) {
	r.t.Helper()
	var ans query.SearchAnswer
	if code := r.get("/v1/search?"+params, &ans); code != http.StatusOK {
		r.t.Fatalf("search %s: %d", params, code)
	}
	var ids []int64
	for _, e := range ans.Results {
		ids = append(ids, e.ID)
	}
	return ans, ids
}

// A query sharing no word with its target finds it by meaning (semantic and
// hybrid, the default) and not by its words (text), on both providers'
// wire formats.
func TestSemanticFindsAParaphrase(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		fake        func(testing.TB, int) *embedtest.Server
	}{{"openai", "fake-embed", embedtest.NewOpenAI}, {"gemini", "gemini-embedding-001", embedtest.NewGemini}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSemanticRig(t, tc.fake, tc.model)
			greeting, docs := r.ids["Check greeting"], r.ids["Update README"]
			q := url.QueryEscape("salutation message")
			if _, ids := r.search("query=" + q + "&mode=text"); slices.Contains(ids, greeting) {
				t.Fatalf("text mode found the paraphrase's target: %v", ids)
			}
			if ans, ids := r.search("query=" + q + "&mode=semantic&project=acme"); len(ids) == 0 || ids[0] != greeting || ans.Mode != "semantic" {
				t.Fatalf("semantic: %v (%s), want #%d first", ids, ans.Mode, greeting)
			}
			ans, ids := r.search("query=" + q + "&project=acme")
			if ans.Mode != "hybrid" || len(ids) == 0 || ids[0] != greeting {
				t.Fatalf("default: %v (%s), want hybrid with #%d first", ids, ans.Mode, greeting)
			}
			if _, ids := r.search("query=documentation&mode=semantic"); len(ids) == 0 || ids[0] != docs {
				t.Fatalf("documentation: %v, want #%d first", ids, docs)
			}
			// The same filters as text: project, type.
			if _, ids := r.search("query=" + q + "&mode=semantic&project=beta"); len(ids) != 1 || ids[0] != r.ids["Welcome banner"] {
				t.Fatalf("project=beta: %v, want only its banner", ids)
			}
			if _, ids := r.search("query=" + q + "&mode=hybrid&obs_type=bugfix"); slices.Contains(ids, greeting) {
				t.Fatalf("obs_type=bugfix let a feature through: %v", ids)
			}
		})
	}
}

// Hybrid fuses both rankings: a word match and a meaning match both
// appear, the one matching both ways first.
func TestHybridFusesTextAndMeaning(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	_, ids := r.search("query=" + url.QueryEscape("migration hello") + "&mode=hybrid&project=acme")
	if len(ids) < 2 || !slices.Contains(ids, r.ids["Fix flaky migration"]) || !slices.Contains(ids, r.ids["Check greeting"]) {
		t.Fatalf("hybrid %v, want both the word match #%d and the meaning match #%d", ids, r.ids["Fix flaky migration"], r.ids["Check greeting"])
	}
}

// Hybrid honours every filter of text search (project, type, file, page)
// and ranks first what both rankings found: its two halves run at once
// and only the page's rows are read.
func TestHybridFiltersAndRanksBothFirst(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	both := r.observe("s-acme", "acme", "decision", "Say hello at start", "printed once", "cmd/main.go")
	beta := r.observe("s-beta", "beta", "decision", "Say hello at start", "printed once", "cmd/main.go")
	r.embedAll()
	greeting := r.ids["Check greeting"] // found by meaning only
	_, ids := r.search("query=hello&mode=hybrid&project=acme")
	if len(ids) < 2 || ids[0] != both || !slices.Contains(ids, greeting) || slices.Contains(ids, beta) {
		t.Fatalf("project=acme: %v, want #%d (words and meaning) first, #%d (meaning) after, not beta's #%d", ids, both, greeting, beta)
	}
	if _, page := r.search("query=hello&mode=hybrid&project=acme&limit=1&offset=1"); len(page) != 1 || page[0] != ids[1] {
		t.Fatalf("offset=1&limit=1: %v, want [%d] of %v", page, ids[1], ids)
	}
	if _, got := r.search("query=hello&mode=hybrid&obs_type=decision"); len(got) != 2 || !slices.Contains(got, both) || !slices.Contains(got, beta) {
		t.Fatalf("obs_type=decision: %v, want #%d and #%d only", got, both, beta)
	}
	if _, got := r.search("query=hello&mode=hybrid&project=beta&file=cmd/main.go"); !slices.Equal(got, []int64{beta}) {
		t.Fatalf("project=beta&file=cmd/main.go: %v, want [%d]", got, beta)
	}
	if _, got := r.search("query=hello&mode=hybrid&file=nope.go"); len(got) != 0 {
		t.Fatalf("file=nope.go: %v, want nothing", got)
	}
}

// A deleted observation is never answered: at once by the replica that
// deleted it, and by any other as soon as it reads the hit back.
func TestSemanticNeverAnswersTheDeleted(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	greeting := r.ids["Check greeting"]
	if code := r.do(http.MethodDelete, fmt.Sprintf("/v1/observations/%d", greeting), "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if _, ids := r.search("query=salutation&mode=semantic"); slices.Contains(ids, greeting) {
		t.Fatalf("deleted #%d still found: %v", greeting, ids)
	}
	// Deleted behind the server's back (another replica): not answered even
	// before its index forgets it.
	banner := r.ids["Welcome banner"]
	if err := r.store.DeleteObservation(context.Background(), banner); err != nil {
		t.Fatal(err)
	}
	if _, ids := r.search("query=salutation&mode=hybrid"); slices.Contains(ids, banner) {
		t.Fatalf("observation deleted elsewhere still answered: %v", ids)
	}
}

// Without a provider, semantic and hybrid are refused with the reason and
// stats say it is off; with one, stats say how far embedding has come; a
// provider down fails semantic with 503 and hybrid falls back to text.
func TestSemanticOffAndProviderDown(t *testing.T) {
	off := newRig(t)
	off.observe("s", "acme", "feature", "Check greeting", "x")
	for _, mode := range []string{"semantic", "hybrid"} {
		var e struct {
			Error string `json:"error"`
		}
		if code := off.get("/v1/search?query=greeting&mode="+mode, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "MNEMO_EMBED_PROVIDER") {
			t.Fatalf("mode=%s without a provider: %d %q, want 400 naming MNEMO_EMBED_PROVIDER", mode, code, e.Error)
		}
	}
	var ans query.SearchAnswer
	if off.get("/v1/search?query=greeting", &ans); ans.Mode != "text" || ans.Count != 1 {
		t.Fatalf("default without a provider: %s, %d results; want text, 1", ans.Mode, ans.Count)
	}
	var st query.Stats
	off.get("/v1/stats", &st)
	if st.Semantic.On || !strings.Contains(st.Semantic.Reason, "MNEMO_EMBED_PROVIDER") {
		t.Fatalf("stats without a provider: %+v", st.Semantic)
	}

	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	r.get("/v1/stats", &st)
	if !st.Semantic.On || st.Semantic.Model != "openai:fake-embed" || st.Semantic.Embedded != 5 || st.Semantic.Pending != 0 || st.Semantic.Indexed != 5 {
		t.Fatalf("stats with a provider: %+v", st.Semantic)
	}
	r.fake.SetDown(true)
	var e struct {
		Error string `json:"error"`
	}
	if code := r.get("/v1/search?query=salutation&mode=semantic", &e); code != http.StatusServiceUnavailable || !strings.Contains(e.Error, "503") {
		t.Fatalf("semantic with the provider down: %d %q, want 503 with the reason", code, e.Error)
	}
	if _, ids := r.search("query=migration"); len(ids) != 1 || ids[0] != r.ids["Fix flaky migration"] {
		t.Fatalf("hybrid with the provider down: %v, want the text match", ids)
	}
	for _, bad := range []string{"mode=fuzzy&query=x", "mode=semantic", "mode=semantic&query=x&type=prompts&obs_type=bugfix", "mode=semantic&query=x&orderBy=date_desc"} {
		if code := r.get("/v1/search?"+bad, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// Per-prompt injection: on, UserPromptSubmit prints the memories related to
// the prompt; with the embedder stalled it prints nothing, within the
// deadline; off, it never asks.
func TestHookInjectsRelatedMemories(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	raw, err := os.ReadFile(filepath.Join(testkit.FixtureDir(t, "claude-code"), "UserPromptSubmit.json"))
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	payload["cwd"] = "/home/dev/acme"
	t.Setenv("MNEMO_URL", r.http.URL)
	t.Setenv("MNEMO_HOME", t.TempDir())
	t.Setenv("CLAUDE_PROJECT_DIR", "")
	calls := 0
	hook := func() (string, time.Duration) {
		t.Helper()
		// A new prompt each time: the hook drops a prompt repeated within 10s.
		calls++
		payload["prompt"] = fmt.Sprintf("say hello to the user with a nice salutation, take %d", calls)
		body, _ := json.Marshal(payload)
		var out, errOut bytes.Buffer
		start := time.Now()
		if err := hookcli.RunHook(context.Background(), []string{"claude-code", "UserPromptSubmit"}, bytes.NewReader(body), &out, &errOut); err != nil {
			t.Fatal(err)
		}
		return out.String(), time.Since(start)
	}

	t.Setenv("MNEMO_SEMANTIC_INJECT", "false")
	if out, _ := hook(); out != "" {
		t.Fatalf("injection off printed %q", out)
	}
	t.Setenv("MNEMO_SEMANTIC_INJECT", "true")
	t.Setenv("MNEMO_SEMANTIC_INJECT_LIMIT", "2")
	out, _ := hook()
	want := fmt.Sprintf("#%d ", r.ids["Check greeting"])
	if !strings.Contains(out, `"hookEventName":"UserPromptSubmit"`) || !strings.Contains(out, want) || !strings.Contains(out, "Check greeting") {
		t.Fatalf("injection on printed %q, want the greeting memory (%s)", out, want)
	}
	if strings.Contains(out, "Welcome banner") {
		t.Fatalf("another project's memory injected: %q", out)
	}
	if n := strings.Count(out, `\n#`); n > 2 {
		t.Fatalf("%d memories injected, limit 2: %q", n, out)
	}

	r.fake.Stall(3 * time.Second)
	out, took := hook()
	if out != "" {
		t.Fatalf("stalled embedder: printed %q, want nothing", out)
	}
	// The event POST has its own 300ms deadline; the injection adds at
	// most its 100ms.
	if limit := 300*time.Millisecond + hookcli.InjectDeadline + 500*time.Millisecond; took > limit {
		t.Fatalf("stalled embedder held the prompt %s, want under %s", took, limit)
	}
}

// A deleted observation leaves another replica's index on the notice the
// deleting replica publishes, not at that replica's reconcile poll (every
// 30 s, longer than this test waits); a purged session's observations too.
func TestSemanticReplicasFollowDeletes(t *testing.T) {
	r := newSemanticRig(t, embedtest.NewOpenAI, "fake-embed")
	ctx := context.Background()
	other := r.replica()
	indexed := func() int { return other.Stats(ctx).Semantic.Indexed }
	if n := indexed(); n != len(r.ids) {
		t.Fatalf("other replica indexed %d, want %d", n, len(r.ids))
	}
	waitIndexed := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for indexed() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: other replica still indexes %d, want %d", what, indexed(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	greeting := r.ids["Check greeting"]
	if code := r.do(http.MethodDelete, fmt.Sprintf("/v1/observations/%d", greeting), "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	waitIndexed(len(r.ids)-1, "after a delete on the first replica")
	if code := r.do(http.MethodDelete, "/v1/sessions/s-beta?purge=true", "", nil); code != http.StatusOK {
		t.Fatalf("purge: %d", code)
	}
	waitIndexed(len(r.ids)-2, "after a purge on the first replica")
}
