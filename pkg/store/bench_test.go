package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

const (
	benchProjects     = 20
	benchSessions     = 1000
	benchPerSession   = 100 // 100k observations in all
	benchUnitsPerSess = 4   // applied in units of 25 observations
)

// vocabulary is 4000 synthetic words; observations draw them Zipf-distributed
// as natural text does, so common words match many rows and rare ones few.
var vocabulary = func() []string {
	syl := []string{"ka", "to", "ren", "mi", "sol", "ba", "qui", "der", "lo", "fen", "ar", "tu", "vex", "no", "pel", "si"}
	var out []string
	for i := 0; len(out) < 4000; i++ {
		out = append(out, syl[i%16]+syl[(i/16)%16]+syl[(i/256)%16])
	}
	return out
}()

type wordSource struct{ z *rand.Zipf }

func newWords(r *rand.Rand) wordSource {
	return wordSource{z: rand.NewZipf(r, 1.1, 2, uint64(len(vocabulary)-1))}
}

func (w wordSource) next() string { return vocabulary[w.z.Uint64()] }

func benchObservation(r *rand.Rand, ws wordSource, sid, project string, i int) store.Observation {
	w := ws.next
	return store.Observation{
		SessionID: sid, Project: project, Type: store.ObservationTypes[r.IntN(len(store.ObservationTypes))],
		Title:     fmt.Sprintf("%s %s in %s", w(), w(), w()),
		Subtitle:  fmt.Sprintf("%s and %s", w(), w()),
		Narrative: fmt.Sprintf("The %s %s was %s because the %s %s; now the %s %s.", w(), w(), w(), w(), w(), w(), w()),
		Facts:     []string{fmt.Sprintf("%s uses %s", w(), w()), fmt.Sprintf("%s needs %s", w(), w())},
		Concepts:  []string{"how-it-works"}, FilesRead: []string{fmt.Sprintf("/src/%s/%s/%s.go", project, w(), w())},
		FilesModified: []string{fmt.Sprintf("/src/%s/%s.go", project, w())}, PromptNumber: 1 + i/10,
	}
}

// seedUnits builds the units of one session: per unit 25 events and 25
// observations, sequences continuing from *seq.
func seedUnits(r *rand.Rand, s int, seq *uint64, start time.Time) []store.Unit {
	ws := newWords(r)
	sid := fmt.Sprintf("bench-%04d", s)
	project := fmt.Sprintf("project-%02d", s%benchProjects)
	per := benchPerSession / benchUnitsPerSess
	var units []store.Unit
	for u := 0; u < benchUnitsPerSess; u++ {
		unit := store.Unit{SessionID: sid, Fence: 1, Session: &store.SessionUpdate{Project: project, Agent: "claude-code"}}
		for i := 0; i < per; i++ {
			*seq++
			at := start.Add(time.Duration(*seq) * time.Millisecond)
			id := fmt.Sprintf("%s-%d", sid, *seq)
			unit.Events = append(unit.Events, store.AppliedEvent{EventID: id, Seq: *seq, Kind: "tool_use", AcceptedAt: at})
			o := benchObservation(r, ws, sid, project, u*per+i)
			o.AcceptedAt, o.SourceEventIDs = at, []string{id}
			unit.Observations = append(unit.Observations, o)
		}
		units = append(units, unit)
	}
	return units
}

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
		r := rand.New(rand.NewPCG(1, 2))
		start := time.Now().Add(-30 * 24 * time.Hour)
		var seq uint64
		t0 := time.Now()
		for s := 0; s < benchSessions; s++ {
			for _, u := range seedUnits(r, s, &seq, start) {
				if _, err := st.Apply(ctx, u); err != nil {
					sd.err = fmt.Errorf("seed: %w", err)
					return
				}
			}
		}
		fmt.Fprintf(os.Stderr, "seeded %s with %d observations in %s\n", kind, seq, time.Since(t0).Round(time.Millisecond))
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

func report(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
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
		r := rand.New(rand.NewPCG(3, 4))
		var units []store.Unit
		var seq uint64
		for s := 0; len(units)*benchPerSession/benchUnitsPerSess < b.N; s++ {
			units = append(units, seedUnits(r, s, &seq, time.Now())...)
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
	kinds(b, func(b *testing.B, kind string) {
		st := seededStore(b, kind)
		r := rand.New(rand.NewPCG(5, 6))
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			c, err := st.RecentContext(context.Background(), store.ContextQuery{Project: fmt.Sprintf("project-%02d", r.IntN(benchProjects)), Budget: 8000})
			if err != nil || len(c.Observations) == 0 {
				b.Fatalf("context: %v (%d observations)", err, len(c.Observations))
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		report(b, lat)
	})
}

// BenchmarkSearch measures ranked full-text search at 100k observations:
// two words drawn as the corpus draws them, filtered by project half the time.
func BenchmarkSearch(b *testing.B) {
	kinds(b, func(b *testing.B, kind string) {
		st := seededStore(b, kind)
		r := rand.New(rand.NewPCG(7, 8))
		ws := newWords(r)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			q := store.SearchQuery{Text: ws.next() + " " + ws.next(), Limit: 20}
			if i%2 == 0 {
				q.Project = fmt.Sprintf("project-%02d", r.IntN(benchProjects))
			}
			t0 := time.Now()
			if _, err := st.Search(context.Background(), q); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		report(b, lat)
	})
}
