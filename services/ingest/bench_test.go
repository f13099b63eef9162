package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

const benchClients = 64

// payloads makes n realistic tool_use bodies spread over 256 sessions.
func payloads(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		e := envelope(fmt.Sprintf("bench-%03d", i%256), event.KindToolUse)
		e.Tool.Input = json.RawMessage(`{"file_path":"/src/acme/internal/auth/login.go","offset":1,"limit":200}`)
		e.Tool.Response = json.RawMessage(`{"content":"` + string(bytes.Repeat([]byte("package auth // x"), 60)) + `"}`)
		out[i] = mustJSON(b, e)
	}
	return out
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
}

// drive posts every body from benchClients loopback clients; interval > 0
// paces the whole load to one request per interval.
func drive(b *testing.B, url string, bodies [][]byte, interval time.Duration) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				t0 := time.Now()
				resp, err := client.Post(url+"/v1/events", "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	return lat
}

// BenchmarkIngest measures POST /v1/events from 64 concurrent loopback
// clients, persist-first (each answer waits for the JetStream ack).
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	b.ResetTimer()
	start := time.Now()
	lat := drive(b, e.http.URL, bodies, 0)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
}

// BenchmarkIngestPaced2k measures latency at a steady 2000 events/s.
func BenchmarkIngestPaced2k(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	b.ResetTimer()
	lat := drive(b, e.http.URL, bodies, 500*time.Microsecond)
	b.StopTimer()
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
}

// BenchmarkRawPublish is the baseline: the same payloads published straight
// to JetStream asynchronously, no HTTP, no validation.
func BenchmarkRawPublish(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	msgs := make([]*event.Envelope, len(bodies))
	for i, body := range bodies {
		ev, err := event.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = ev
	}
	b.ResetTimer()
	start := time.Now()
	for _, ev := range msgs {
		m, err := bus.EventMsg(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("async publishes not acknowledged within a minute")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkRawPublishSync64 is the persist-first baseline: the same payloads
// published straight to JetStream by 64 goroutines, each waiting for its ack
// as every ingest request must, with no HTTP in between.
func BenchmarkRawPublishSync64(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	msgs := make([]*event.Envelope, len(bodies))
	for i, body := range bodies {
		ev, err := event.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = ev
	}
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := bus.Publish(ctx, e.js, msgs[i])
				cancel()
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d publishes failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkHTTPFloor is what HTTP alone costs on this machine: the same 64
// loopback clients post the same bodies to a handler that reads the body
// and answers 202 with a fixed JSON, with no decoding, validation or
// publish. No ingest can be faster; it bounds what "× raw" can reach here.
func BenchmarkHTTPFloor(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"event_id":"01JBENCHFLOOR000000000000000","seq":1,"duplicate":false}`))
	}))
	defer srv.Close()
	bodies := payloads(b, b.N)
	b.ResetTimer()
	start := time.Now()
	drive(b, srv.URL, bodies, 0)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}
