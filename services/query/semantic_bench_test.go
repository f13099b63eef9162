package query_test

import (
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
)

// BenchmarkHTTPHybridSearch: GET /v1/search (hybrid: full text fused with
// the vector index) over loopback at 100k observations with 768-dimension
// vectors, the fake embedder answering at once (docs/ARCHITECTURE.md §14).
func BenchmarkHTTPHybridSearch(b *testing.B) {
	st, c := seeded(b, "sqlite")
	const dims = 768
	fake := embedtest.NewOpenAI(b, dims)
	emb, err := embed.New(fake.Config("bench"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Vectors written straight to the store (the fake's embedding, without
	// 100k HTTP round trips): what the worker's catch-up would write.
	for {
		obs, err := st.ToEmbed(ctx, store.EmbedQuery{Kind: store.KindObservation, Model: emb.Key(), Limit: 2000})
		if err != nil {
			b.Fatal(err)
		}
		if len(obs) == 0 {
			break
		}
		vs := make([]store.Vector, len(obs))
		for i, o := range obs {
			vs[i] = store.Vector{Kind: store.KindObservation, ID: o.ID, Model: emb.Key(), Data: embed.Encode(embedtest.Vector("bench", o.Text, dims))}
		}
		if err := st.PutVectors(ctx, vs); err != nil {
			b.Fatal(err)
		}
	}
	n := testkit.StartNATS(b)
	nc, js := n.Connect(b)
	testkit.Ensure(b, js, testkit.TestLayout())
	q, err := query.New(b.Context(), query.Config{}, query.Deps{Store: st, NC: nc, JS: js, Layout: testkit.TestLayout(), Embedder: emb})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(q.Close)
	if err := q.SyncSemantic(ctx); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(q.Handler())
	b.Cleanup(srv.Close)
	r := rand.New(rand.NewPCG(5, 6))
	httpLatency(b, srv, func(i int) string {
		v := url.Values{"query": {c.Word() + " " + c.Word()}, "mode": {"hybrid"}}
		if i%2 == 0 {
			v.Set("project", c.Project(r.IntN(20)))
		}
		return "/v1/search?" + v.Encode()
	})
	var stats query.Stats
	stats = q.Stats(ctx)
	b.ReportMetric(float64(stats.Semantic.Indexed), "vectors")
	b.ReportMetric(float64(stats.Semantic.IndexMB), "index-MB")
}
