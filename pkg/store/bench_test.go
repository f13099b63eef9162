package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

const (
	benchProjects   = 20
	benchSessions   = 1000
	benchPerSession = 100 // 100k observations in all
)

var (
	seedOnce sync.Map // kind → *seeded
)

type seeded struct {
	once    sync.Once
	dsn     string
	err     error
	cleanup func()
}

// TestMain removes what the benchmarks seeded (a temp SQLite file, a
// PostgreSQL database) once every benchmark is done.
func TestMain(m *testing.M) {
	code := m.Run()
	seedOnce.Range(func(_, v any) bool {
		if c := v.(*seeded).cleanup; c != nil {
			c()
		}
		return true
	})
	os.Exit(code)
}

// seededStore returns a store holding 100k observations over 1k sessions and
// 20 projects, seeded once per process and kind.
func seededStore(b *testing.B, kind string) store.Store {
	v, _ := seedOnce.LoadOrStore(kind, &seeded{})
	sd := v.(*seeded)
	sd.once.Do(func() {
		ctx := context.Background()
		switch kind {
		case "sqlite":
			dir, err := os.MkdirTemp("", "mnemo-bench-")
			if err != nil {
				sd.err = err
				return
			}
			sd.dsn = filepath.Join(dir, "bench.db")
			sd.cleanup = func() { _ = os.RemoveAll(dir) }
		default:
			dsn, drop, err := testkit.CreatePostgresDB(ctx)
			if err != nil {
				sd.err = err
				return
			}
			sd.dsn = dsn
			sd.cleanup = func() { _ = drop(context.Background()) }
		}
		st, err := store.Open(ctx, sd.dsn)
		if err != nil {
			sd.err = err
			return
		}
		defer st.Close()
		t0 := time.Now()
		if sd.err = storetest.NewCorpus(1, benchProjects, benchSessions, benchPerSession).Seed(ctx, st); sd.err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "seeded %s with %d observations in %s\n", kind, benchSessions*benchPerSession, time.Since(t0).Round(time.Millisecond))
	})
	if sd.err != nil {
		b.Fatal(sd.err)
	}
	st, err := store.Open(context.Background(), sd.dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

func kinds(b *testing.B, fn func(b *testing.B, kind string)) {
	for _, k := range []string{"sqlite", "postgres"} {
		b.Run(k, func(b *testing.B) { fn(b, k) })
	}
}

// BenchmarkApply measures batched writes: units of 25 tool uses and
// observations into a fresh store; b.N counts observations.
func BenchmarkApply(b *testing.B) {
	kinds(b, func(b *testing.B, kind string) {
		dsn := filepath.Join(b.TempDir(), "apply.db")
		if kind == "postgres" {
			dsn = testkit.StartPostgres(b)
		}
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		c := storetest.NewCorpus(3, benchProjects, b.N/benchPerSession+1, benchPerSession)
		var units []store.Unit
		for s := 0; s < c.Sessions; s++ {
			units = append(units, c.Units(s, 25)...)
		}
		b.ResetTimer()
		start := time.Now()
		n := 0
		for _, u := range units {
			if _, err := st.Apply(context.Background(), u); err != nil {
				b.Fatal(err)
			}
			n += len(u.Observations)
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "obs/s")
	})
}

// BenchmarkRecentContext measures the SessionStart context query at 100k
// observations: b.N queries over random projects, 8k-token budget.
func BenchmarkRecentContext(b *testing.B) {
	timeQueries(b, 5, func(r *rand.Rand, c *storetest.Corpus, _ int) func(store.Store) error {
		q := store.ContextQuery{Project: c.Project(r.IntN(benchProjects)), Budget: 8000}
		return func(st store.Store) error {
			got, err := st.RecentContext(context.Background(), q)
			if err == nil && len(got.Observations) == 0 {
				err = errors.New("no observations")
			}
			return err
		}
	})
}

// BenchmarkSearch measures ranked full-text search at 100k observations:
// two words drawn as the corpus draws them, filtered by project half the time.
func BenchmarkSearch(b *testing.B) {
	timeSearches(b, func(q *store.SearchQuery, r *rand.Rand, c *storetest.Corpus, i int) {
		if i%2 == 0 {
			q.Project = c.Project(r.IntN(benchProjects))
		}
	})
}

// BenchmarkSearchFiltered measures searches of two common words narrowed by
// an observation type (one in six match) or by a file (few match): the
// filter is checked on each match's row while the window is found, so these
// cost more than BenchmarkSearch. Tracked, with no target of its own yet.
func BenchmarkSearchFiltered(b *testing.B) {
	b.Run("type", func(b *testing.B) {
		timeSearches(b, func(q *store.SearchQuery, r *rand.Rand, _ *storetest.Corpus, _ int) {
			q.Types = []string{store.ObservationTypes[r.IntN(len(store.ObservationTypes))]}
		})
	})
	b.Run("file", func(b *testing.B) {
		timeSearches(b, func(q *store.SearchQuery, r *rand.Rand, c *storetest.Corpus, _ int) {
			q.File = "/src/" + c.Project(r.IntN(benchProjects)) + "/" + c.Word() + ".go"
		})
	})
}

// timeSearches runs b.N searches of two corpus words on each store kind,
// each narrowed by narrow, and reports their latency.
func timeSearches(b *testing.B, narrow func(q *store.SearchQuery, r *rand.Rand, c *storetest.Corpus, i int)) {
	timeQueries(b, 7, func(r *rand.Rand, c *storetest.Corpus, i int) func(store.Store) error {
		q := store.SearchQuery{Text: c.Word() + " " + c.Word(), Limit: 20}
		narrow(&q, r, c, i)
		return func(st store.Store) error {
			_, err := st.Search(context.Background(), q)
			return err
		}
	})
}

// timeQueries runs b.N queries on each seeded store kind and reports their
// latency: next draws the i-th query from a corpus and a random source seeded
// with seed, and only the call it returns is timed.
func timeQueries(b *testing.B, seed uint64, next func(r *rand.Rand, c *storetest.Corpus, i int) func(store.Store) error) {
	kinds(b, func(b *testing.B, kind string) {
		st := seededStore(b, kind)
		r := rand.New(rand.NewPCG(seed, seed+1))
		c := storetest.NewCorpus(seed, benchProjects, 0, 0)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			query := next(r, c, i)
			t0 := time.Now()
			if err := query(st); err != nil {
				b.Fatalf("query %d: %v", i, err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		testkit.ReportLatency(b, lat)
	})
}
