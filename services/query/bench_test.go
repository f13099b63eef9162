package query_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
)

// benchServer serves the query API over loopback HTTP on a store seeded with
// 100k observations (1k sessions, 20 projects).
func benchServer(b *testing.B, kind string) (*httptest.Server, *storetest.Corpus) {
	st, c := seeded(b, kind)
	n := testkit.StartNATS(b)
	nc, js := n.Connect(b)
	testkit.Ensure(b, js, testkit.TestLayout())
	q, err := query.New(b.Context(), query.Config{}, query.Deps{Store: st, NC: nc, JS: js, Layout: testkit.TestLayout()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(q.Close)
	srv := httptest.NewServer(q.Handler())
	b.Cleanup(srv.Close)
	return srv, c
}

func httpLatency(b *testing.B, srv *httptest.Server, path func(i int) string) {
	client := srv.Client()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := testkit.CPUTime()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		resp, err := client.Get(srv.URL + path(i))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", path(i), resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	// The whole process's CPU per request (client, server, background
	// work): the figure a loaded machine inflates least.
	b.ReportMetric(float64((testkit.CPUTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	testkit.ReportLatency(b, lat)
}

var seededStores sync.Map // kind → *seededStore

type seededStore struct {
	once sync.Once
	st   store.Store
	err  error
}

// seeded returns the kind's store, seeded once for the whole benchmark run
// (the framework calls a benchmark more than once); closed by TestMain's end
// of process, its database dropped with the test server's cleanup.
func seeded(b *testing.B, kind string) (store.Store, *storetest.Corpus) {
	v, _ := seededStores.LoadOrStore(kind, &seededStore{})
	s := v.(*seededStore)
	c := storetest.NewCorpus(11, 20, 1000, 100)
	s.once.Do(func() {
		ctx := context.Background()
		dsn := filepath.Join(os.TempDir(), fmt.Sprintf("mnemo-query-bench-%d.db", os.Getpid()))
		if kind == "postgres" {
			var drop func(context.Context) error
			dsn, drop, s.err = testkit.CreatePostgresDB(ctx)
			if s.err != nil {
				return
			}
			cleanups = append(cleanups, func() { _ = drop(context.Background()) })
		} else {
			cleanups = append(cleanups, func() { _ = os.Remove(dsn); _ = os.Remove(dsn + "-wal"); _ = os.Remove(dsn + "-shm") })
		}
		if s.st, s.err = store.Open(ctx, dsn); s.err != nil {
			return
		}
		cleanups = append([]func(){func() { _ = s.st.Close() }}, cleanups...)
		s.err = c.Seed(ctx, s.st)
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	return s.st, c
}

var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// BenchmarkHTTPContext: GET /v1/context over loopback at 100k observations.
func BenchmarkHTTPContext(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			srv, c := benchServer(b, kind)
			r := rand.New(rand.NewPCG(1, 2))
			httpLatency(b, srv, func(int) string { return "/v1/context?project=" + c.Project(r.IntN(20)) })
		})
	}
}

// BenchmarkHTTPSearch: GET /v1/search over loopback at 100k observations.
func BenchmarkHTTPSearch(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			srv, c := benchServer(b, kind)
			r := rand.New(rand.NewPCG(3, 4))
			httpLatency(b, srv, func(i int) string {
				q := url.Values{"q": {c.Word() + " " + c.Word()}}
				if i%2 == 0 {
					q.Set("project", c.Project(r.IntN(20)))
				}
				return "/v1/search?" + q.Encode()
			})
		})
	}
}

// BenchmarkStreamDelivery measures how long a status message published on
// NATS takes to reach a /v1/stream client as an event, one at a time.
func BenchmarkStreamDelivery(b *testing.B) {
	r := newRig(b)
	events, _ := openStream(b, r.http.URL+"/v1/stream", "")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := testkit.CPUTime()
	for i := 0; i < b.N; i++ {
		sent := time.Now()
		if err := r.nc.Publish(bus.StatusSubject("observation", "bench"), []byte(`{"kind":"observation","session":"bench"}`)); err != nil {
			b.Fatal(err)
		}
		nextEvent(b, events, "observation", 30*time.Second)
		lat = append(lat, time.Since(sent))
	}
	b.StopTimer()
	// The whole process's CPU per request (client, server, background
	// work): the figure a loaded machine inflates least.
	b.ReportMetric(float64((testkit.CPUTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	testkit.ReportLatency(b, lat)
}
