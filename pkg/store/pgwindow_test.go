package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// PostgreSQL's search finds its window of newest matches by walking the
// primary key or from the GIN index, by the planner's estimate of the
// matches (fewMatches): a few go by the index, most rows by the walk, and
// the two ways answer the same.
func TestPostgresSearchWindowWays(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, testkit.StartPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := st.(*Postgres)
	for i := range 1000 {
		words := "alpha"
		if i%3 == 0 {
			words += " beta"
		}
		if i%200 == 0 {
			words += " gamma"
		}
		o := Observation{Project: fmt.Sprint("p", i%4), Type: TypeDiscovery, Title: fmt.Sprintf("note %d", i),
			Narrative: words + fmt.Sprintf(" alpha%d", i%7)}
		if _, err := st.AddMemory(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	few := func(text string) bool {
		f := searchFilters(SearchQuery{}, true)
		return p.fewMatches(ctx, `SELECT o.id FROM observations o, websearch_to_tsquery('english', ?) AS query WHERE o.search @@ query`+f.where,
			append([]any{text}, f.args...), SearchWindow)
	}
	if few("alpha") || !few("gamma") {
		t.Fatalf("few matches: alpha (every row) %v, gamma (5 rows) %v; want false, true", few("alpha"), few("gamma"))
	}
	queries := []SearchQuery{
		{Text: "alpha"}, {Text: "alpha beta"}, {Text: "gamma"}, {Text: "beta", Project: "p1"},
		{Text: "alpha", Limit: 5, Offset: 7}, {Text: "alpha alpha3", Types: []string{TypeDiscovery}},
	}
	search := func(weight float64) [][]int64 {
		p.walkOverGIN = weight
		var out [][]int64
		for _, q := range queries {
			hits, err := st.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, h := range hits {
				ids = append(ids, h.Observation.ID)
			}
			out = append(out, ids)
		}
		return out
	}
	walk, gin := search(0), search(1e12)
	for i := range queries {
		if len(walk[i]) == 0 || !slices.Equal(walk[i], gin[i]) {
			t.Errorf("%+v: walking the key found %v, the GIN index %v; want the same, not none", queries[i], walk[i], gin[i])
		}
	}
}
