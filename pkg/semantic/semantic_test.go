package semantic_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func client(t *testing.T, srv *embedtest.Server, model string) *embed.Client {
	t.Helper()
	c, err := embed.New(srv.Config(model))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func remember(t *testing.T, st store.Store, project, title, narrative string) int64 {
	t.Helper()
	id, err := st.AddMemory(context.Background(), store.Observation{Project: project, Type: store.TypeDiscovery, Title: title, Narrative: narrative})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var corpus = []struct{ title, narrative string }{
	{"Check greeting", "the CLI prints hi on start"},
	{"Fix flaky migration", "sqlite schema upgrade raced"},
	{"Speed up build cache", "go build reuses objects"},
	{"Rotate signing keys", "keys rotate weekly"},
}

// An outage loses nothing: observations are stored while the provider is
// down, stay pending, and are embedded once it is back; a pass with
// nothing pending calls no provider.
func TestCatchupAfterOutage(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := embedtest.NewOpenAI(t, 64)
	c := client(t, srv, "m1")
	cu := semantic.NewCatchup(st, c, nil, time.Hour)
	srv.SetDown(true)
	for _, o := range corpus {
		remember(t, st, "acme", o.title, o.narrative)
	}
	if n, err := cu.Pass(ctx); err == nil || n != 0 {
		t.Fatalf("pass during the outage: %d, %v; want an error and nothing embedded", n, err)
	}
	if got, _ := st.CountVectors(ctx, store.KindObservation, c.Key(), ""); got.Pending != int64(len(corpus)) {
		t.Fatalf("during the outage %+v, want all %d pending", got, len(corpus))
	}
	srv.SetDown(false)
	if n, err := cu.Pass(ctx); err != nil || n != len(corpus) {
		t.Fatalf("pass after the outage: %d, %v; want %d", n, err, len(corpus))
	}
	if got, _ := st.CountVectors(ctx, store.KindObservation, c.Key(), ""); got != (store.VectorCounts{Embedded: int64(len(corpus))}) {
		t.Fatalf("after the outage %+v, want all embedded", got)
	}
	calls := srv.Calls()
	if n, err := cu.Pass(ctx); err != nil || n != 0 || srv.Calls() != calls {
		t.Fatalf("idle pass embedded %d (%v) in %d calls, want none", n, err, srv.Calls()-calls)
	}
	// A new observation is found above the watermark.
	remember(t, st, "acme", "Later note", "x")
	if n, err := cu.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("pass after a new observation: %d, %v", n, err)
	}
}

// Run embeds on a nudge without waiting for its poll.
func TestCatchupRunsOnNudge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := openStore(t)
	srv := embedtest.NewGemini(t, 32)
	c := client(t, srv, "gemini-embedding-001")
	cu := semantic.NewCatchup(st, c, nil, time.Hour)
	done := make(chan struct{})
	go func() { cu.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // the first pass, over an empty store
	remember(t, st, "acme", "Check greeting", "")
	cu.Nudge()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := st.CountVectors(ctx, store.KindObservation, c.Key(), "")
		if got.Embedded == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not embedded 5s after a nudge: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A query sharing no word with its target finds it; a deleted observation
// stops being found; a model change with reindex leaves only the new
// model's vectors.
func TestSearcherParaphraseDeleteAndReindex(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := embedtest.NewOpenAI(t, 128)
	c1 := client(t, srv, "m1")
	ids := map[string]int64{}
	for _, o := range corpus {
		ids[o.title] = remember(t, st, "acme", o.title, o.narrative)
	}
	remember(t, st, "other", "Welcome banner", "salutation shown")
	if _, err := semantic.NewCatchup(st, c1, nil, 0).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	s := semantic.NewSearcher(st, c1, nil)
	s.KeepEvery = 0
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Nearest(ctx, store.KindObservation, "hello salutation message", "acme", 3)
	if err != nil || len(hits) == 0 || hits[0].ID != ids["Check greeting"] {
		t.Fatalf("nearest to a paraphrase: %+v %v, want #%d first", hits, err, ids["Check greeting"])
	}
	for _, h := range hits {
		if h.ID > ids["Rotate signing keys"] {
			t.Fatalf("a project filter let another project's #%d through", h.ID)
		}
	}
	if err := st.DeleteObservation(ctx, ids["Check greeting"]); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	hits, _ = s.Nearest(ctx, store.KindObservation, "hello salutation message", "", 10)
	for _, h := range hits {
		if h.ID == ids["Check greeting"] {
			t.Fatal("a deleted observation is still found after a sync")
		}
	}

	// Model change: reindex under m2.
	c2 := client(t, srv, "m2")
	var progress []int64
	n, err := semantic.Reindex(ctx, st, c2, "", func(done, total int64) { progress = append(progress, done, total) })
	if err != nil || n != 4 || len(progress) == 0 || progress[len(progress)-2] != 4 || progress[len(progress)-1] != 4 {
		t.Fatalf("reindex: %d %v, progress %v", n, err, progress)
	}
	if old, _ := st.VectorIDs(ctx, store.KindObservation, c1.Key()); len(old) != 0 {
		t.Fatalf("old model's vectors after reindex: %v", old)
	}
	s2 := semantic.NewSearcher(st, c2, nil)
	if err := s2.Sync(ctx); err != nil || s2.Index(store.KindObservation).Len() != 4 {
		t.Fatalf("new model's index holds %d (%v), want 4", s2.Index(store.KindObservation).Len(), err)
	}
	hits, _ = s2.Nearest(ctx, store.KindObservation, "persistence upgrade broken", "acme", 1)
	if len(hits) != 1 || hits[0].ID != ids["Fix flaky migration"] {
		t.Fatalf("after reindex, nearest %+v, want #%d", hits, ids["Fix flaky migration"])
	}
	// The old searcher, at its next keep, holds nothing: its model's
	// vectors are gone.
	if err := s.Sync(ctx); err != nil || s.Index(store.KindObservation).Len() != 0 {
		t.Fatalf("old model's index holds %d after reindex (%v)", s.Index(store.KindObservation).Len(), err)
	}
}

func randomUnit(r *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return embed.Normalize(v)
}

// exact is the float32 top-k by brute force: the truth the index's
// quantized scan is measured against.
func exact(vs [][]float32, q []float32, k int) []int64 {
	type sc struct {
		id int64
		s  float32
	}
	all := make([]sc, len(vs))
	for i, v := range vs {
		all[i] = sc{int64(i + 1), embed.Dot(q, v)}
	}
	slices.SortFunc(all, func(a, b sc) int {
		if a.s > b.s {
			return -1
		}
		if a.s < b.s {
			return 1
		}
		return 0
	})
	out := make([]int64, k)
	for i := range out {
		out[i] = all[i].id
	}
	return out
}

// randomIndex is an index of n random unit vectors, IDs 1..n, spread over
// projects p0, p1… (entry i in project i%projects), and the vectors.
func randomIndex(tb testing.TB, r *rand.Rand, n, dims, projects int) (*semantic.Index, [][]float32) {
	tb.Helper()
	ix := semantic.NewIndex()
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = randomUnit(r, dims)
		if err := ix.Put(int64(i+1), fmt.Sprint("p", i%projects), 0, vs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return ix, vs
}

func recallAt10(t testing.TB, ix *semantic.Index, vs [][]float32, r *rand.Rand, queries int) float64 {
	found := 0
	for range queries {
		q := randomUnit(r, len(vs[0]))
		truth := exact(vs, q, 10)
		for _, h := range ix.Search(q, "", 10) {
			if slices.Contains(truth, h.ID) {
				found++
			}
		}
	}
	return float64(found) / float64(10*queries)
}

func TestIndexRecallAndUpkeep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// 40k: each of two CPUs scans 20k, past shortlistFrom, so the sign
	// shortlist is measured too.
	const n, dims = 40000, 96
	ix, vs := randomIndex(t, r, n, dims, 1)
	if rec := recallAt10(t, ix, vs, r, 50); rec < 0.95 {
		t.Fatalf("recall@10 %.3f against exact float32, want ≥ 0.95", rec)
	}
	if err := ix.Put(1, "p", 0, make([]float32, dims+1)); err == nil {
		t.Fatal("a vector of other dimensions was taken")
	}
	// A vector's own query finds it first, until it is removed; Keep drops
	// what is not listed.
	if h := ix.Search(vs[41], "", 1); len(h) != 1 || h[0].ID != 42 || h[0].Score < 0.98 {
		t.Fatalf("self search %+v", h)
	}
	ix.Remove(42)
	if h := ix.Search(vs[41], "", 1); h[0].ID == 42 || ix.Len() != n-1 {
		t.Fatalf("removed vector still found (%+v, len %d)", h, ix.Len())
	}
	if h := ix.Search(vs[n-1], "", 1); h[0].ID != n {
		t.Fatalf("the moved last vector is lost: %+v", h)
	}
	if gone := ix.Keep([]int64{7, 9, 42}); gone != n-3 || ix.Len() != 2 {
		t.Fatalf("keep dropped %d, holds %d; want %d and 2", gone, ix.Len(), n-3)
	}
	if h := ix.Search(vs[8], "nope", 5); len(h) != 0 {
		t.Fatalf("an unknown project matched %+v", h)
	}
}

// A search over every project shortlists them together: 20 projects of
// 2000 vectors each, each part too small to shortlist alone, still find
// the exact neighbours.
func TestIndexRecallAcrossProjects(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ix, vs := randomIndex(t, r, 40000, 96, 20)
	if rec := recallAt10(t, ix, vs, r, 50); rec < 0.95 {
		t.Fatalf("recall@10 %.3f over 20 projects against exact float32, want ≥ 0.95", rec)
	}
}

func TestFuse(t *testing.T) {
	got := semantic.Fuse([]int64{1, 2, 3}, []int64{3, 4, 1})
	var ids []int64
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	// 1: 1/61+1/63, 3: 1/63+1/61 (tie, 1 first: first seen), 2: 1/62, 4: 1/62.
	if !slices.Equal(ids, []int64{1, 3, 2, 4}) {
		t.Fatalf("fused %v, want [1 3 2 4]", ids)
	}
}

// A project's search reads only that project's slab, finds its vectors
// among many others, and follows a vector moved to another project.
func TestIndexProjects(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const dims = 64
	ix := semantic.NewIndex()
	vs := map[int64][]float32{}
	for i := range int64(12000) {
		project := "big"
		if i%100 == 0 {
			project = "small"
		}
		vs[i+1] = randomUnit(r, dims)
		if err := ix.Put(i+1, project, 0, vs[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	hits := ix.Search(vs[101], "small", 200)
	if len(hits) != 120 || hits[0].ID != 101 {
		t.Fatalf("small project: %d hits, first %+v; want its 120, 101 first", len(hits), hits[0])
	}
	for _, h := range hits {
		if (h.ID-1)%100 != 0 {
			t.Fatalf("hit %d is not of the project searched", h.ID)
		}
	}
	if h := ix.Search(vs[102], "", 1); len(h) != 1 || h[0].ID != 102 {
		t.Fatalf("unfiltered self search %+v", h)
	}
	if err := ix.Put(102, "small", 0, vs[102]); err != nil {
		t.Fatal(err)
	}
	if h := ix.Search(vs[102], "small", 1); h[0].ID != 102 || ix.Len() != 12000 {
		t.Fatalf("moved vector: %+v, len %d", h, ix.Len())
	}
	if h := ix.Search(vs[102], "big", 1); h[0].ID == 102 {
		t.Fatal("moved vector still found in its old project")
	}
}

// A notice syncs a running searcher at once, though its poll is an hour
// away: new vectors are read, and with reconcile the deleted are dropped.
func TestSearcherFollowsNotices(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := openStore(t)
	srv := embedtest.NewOpenAI(t, 64)
	c := client(t, srv, "m1")
	s := semantic.NewSearcher(st, c, nil)
	s.KeepEvery = time.Hour
	done := make(chan struct{})
	go func() { s.Run(ctx, time.Hour); close(done) }()
	defer func() { cancel(); <-done }()
	wait := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for s.Index(store.KindObservation).Len() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: index holds %d, want %d", what, s.Index(store.KindObservation).Len(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var ids []int64
	for _, o := range corpus {
		ids = append(ids, remember(t, st, "acme", o.title, o.narrative))
	}
	if _, err := semantic.NewCatchup(st, c, nil, time.Hour).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	s.Notice(false)
	wait(len(corpus), "after new vectors")
	if err := st.DeleteObservation(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	s.Notice(true)
	wait(len(corpus)-1, "after a delete")
}

// Sparse vectors (a few concepts each, as the fake embedder makes) tie
// by the thousand on their sign-bit estimates; the search still finds the
// vectors sharing the query's concepts.
func TestIndexSparseTies(t *testing.T) {
	const dims = 256
	ix := semantic.NewIndex()
	r := rand.New(rand.NewPCG(5, 6))
	for i := range int64(20000) {
		v := make([]float32, dims)
		v[r.IntN(dims)], v[r.IntN(dims)] = 1, 1
		if i%1000 == 0 {
			v = make([]float32, dims)
			v[7], v[9] = 1, 1
		}
		// Seven projects: the shortlist is one over all of them.
		if err := ix.Put(i+1, fmt.Sprint("p", i%7), 0, embed.Normalize(v)); err != nil {
			t.Fatal(err)
		}
	}
	q := make([]float32, dims)
	q[7], q[9] = 1, 1
	hits := ix.Search(embed.Normalize(q), "", 20)
	// At least 20 vectors equal the query (every 1000th, and any random
	// one that drew the same two dimensions): all 20 hits must be such.
	if len(hits) != 20 {
		t.Fatalf("%d hits, want 20", len(hits))
	}
	for _, h := range hits {
		if h.Score < 0.99 {
			t.Fatalf("hit %d scored %v while 20 vectors equal the query: %+v", h.ID, h.Score, hits)
		}
	}
}

// readCounter is a store that counts the vectors read with their data.
type readCounter struct {
	store.Store
	read atomic.Int64
}

func (r *readCounter) Vectors(ctx context.Context, q store.VectorQuery) ([]store.Vector, error) {
	vs, err := r.Store.Vectors(ctx, q)
	for _, v := range vs {
		if v.Data != nil {
			r.read.Add(1)
		}
	}
	return vs, err
}

// A sync reads again only the stamps of what was written in its overlap:
// after a bulk write the vectors themselves are read once, yet a vector
// rewritten meanwhile (a reindex) is read and searched anew.
func TestSearcherReadsEachVectorOnce(t *testing.T) {
	ctx := context.Background()
	st := &readCounter{Store: openStore(t)}
	srv := embedtest.NewOpenAI(t, 64)
	c := client(t, srv, "m1")
	ids := map[string]int64{}
	for _, o := range corpus {
		ids[o.title] = remember(t, st, "acme", o.title, o.narrative)
	}
	if _, err := semantic.NewCatchup(st, c, nil, 0).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	s := semantic.NewSearcher(st, c, nil)
	for range 3 { // all three within the overlap of the writes
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.read.Load(); n != int64(len(corpus)) {
		t.Fatalf("three syncs read %d vectors, want each of the %d once", n, len(corpus))
	}
	// Rewrite one vector as another text's (what a reindex would write).
	other := embedtest.Vector("m1", "keys rotate weekly", 64)
	if err := st.PutVectors(ctx, []store.Vector{{Kind: store.KindObservation, ID: ids["Check greeting"], Model: c.Key(), Data: embed.Encode(other)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.read.Load(); n != int64(len(corpus))+1 {
		t.Fatalf("the sync after a rewrite read %d vectors in all, want %d", n, len(corpus)+1)
	}
	hits := s.Index(store.KindObservation).Search(embed.Normalize(other), "acme", 1)
	if len(hits) != 1 || hits[0].ID != ids["Check greeting"] || hits[0].Score < 0.99 {
		t.Fatalf("nearest the rewritten vector: %+v, want #%d itself", hits, ids["Check greeting"])
	}
}
