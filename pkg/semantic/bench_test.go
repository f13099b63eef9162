package semantic_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// BenchmarkIndexSearch: one nearest-10 search of the int8 exact-scan index
// at 100k vectors of 768 dimensions, with its recall@10 against an exact
// float32 scan and its memory (docs/ARCHITECTURE.md §14). Queries are
// stored vectors moved a little (a paraphrase of a stored memory).
func BenchmarkIndexSearch(b *testing.B) {
	const n, dims = 100_000, 768
	r := rand.New(rand.NewPCG(7, 8))
	ix := semantic.NewIndex()
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = randomUnit(r, dims)
		if err := ix.Put(int64(i+1), "p", 0, vs[i]); err != nil {
			b.Fatal(err)
		}
	}
	query := func() []float32 {
		base := vs[r.IntN(n)]
		noise := randomUnit(r, dims)
		q := make([]float32, dims)
		for j := range q {
			q[j] = base[j] + 0.8*noise[j]
		}
		return q
	}
	found, total := 0, 0
	for range 50 {
		q := query()
		truth := exact(vs, q, 10)
		for _, h := range ix.Search(q, "", 10) {
			for _, id := range truth {
				if id == h.ID {
					found++
				}
			}
		}
		total += 10
	}
	qs := make([][]float32, 64)
	for i := range qs {
		qs[i] = query()
	}
	searchEach(b, ix, qs, 10)
	b.ReportMetric(float64(found)/float64(total), "recall@10")
	b.ReportMetric(float64(ix.Bytes())/(1<<20), "index-MB")
}

// BenchmarkIndexScanOnly: the scan alone, to tell its cost from the rest.
func BenchmarkIndexScan10k(b *testing.B) {
	const n, dims = 10_000, 768
	r := rand.New(rand.NewPCG(9, 10))
	ix := semantic.NewIndex()
	for i := range n {
		if err := ix.Put(int64(i+1), "p", 0, randomUnit(r, dims)); err != nil {
			b.Fatal(err)
		}
	}
	q := randomUnit(r, dims)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.Search(q, "", 10)
	}
}

// BenchmarkIndexSearch20Projects: one nearest-20 search over every project
// at 100k vectors of 768 dimensions in 20 projects (the HTTP benchmark's
// corpus shape), with its CPU per search.
func BenchmarkIndexSearch20Projects(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	ix, _ := randomIndex(b, r, 100_000, 768, 20)
	qs := make([][]float32, 64)
	for i := range qs {
		qs[i] = randomUnit(r, 768)
	}
	searchEach(b, ix, qs, 20)
}

// searchEach times b.N searches (the k nearest, every project) cycling
// through qs and reports their CPU per search: the figure a loaded machine
// does not inflate as much as wall time. Reported after the loop, since
// ResetTimer deletes reported metrics.
func searchEach(b *testing.B, ix *semantic.Index, qs [][]float32, k int) {
	b.ResetTimer()
	cpu0 := testkit.CPUTime()
	for i := 0; i < b.N; i++ {
		ix.Search(qs[i%len(qs)], "", k)
	}
	b.StopTimer()
	b.ReportMetric(float64((testkit.CPUTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
