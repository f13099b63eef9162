package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/nats-io/nats.go"
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

// processCPU is the CPU time (user and system) this process has used: the
// test binary holds the clients, the server under test and the embedded
// broker, so CPU per event is the whole cost of an event on this machine,
// steadier than a rate on a shared machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the timed part of a benchmark and reports its rate and the
// CPU microseconds it spent per event.
func measure(b *testing.B, run func()) {
	b.ResetTimer()
	cpu, start := processCPU(), time.Now()
	run()
	elapsed, spent := time.Since(start), processCPU()-cpu
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(spent.Microseconds())/float64(b.N), "cpu-us/event")
}

// drive posts every body from benchClients loopback clients; interval > 0
// paces the whole load to one request per interval. Each client is one
// keep-alive HTTP/1.1 connection that writes its request in one write and
// parses the answer with net/http's own reader, as load generators such as
// wrk do: the figure is the server's, not http.Transport's, whose two
// goroutines and channel hand-offs per connection would otherwise take a
// large share of this 2-core machine from the server under test.
func drive(b *testing.B, url string, bodies [][]byte, interval time.Duration) []time.Duration {
	addr := strings.TrimPrefix(url, "http://")
	lat := make([]time.Duration, len(bodies))
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			var req []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				if interval > 0 {
					// Latency counts from the scheduled send, so a request
					// held up behind a slow one is not left out of the
					// figure (no coordinated omission).
					t0 = start.Add(time.Duration(i) * interval)
					if d := time.Until(t0); d > 0 {
						time.Sleep(d)
					}
				}
				req = append(req[:0], "POST /v1/events HTTP/1.1\r\nHost: "...)
				req = append(req, addr...)
				req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
				req = strconv.AppendInt(req, int64(len(bodies[i])), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, bodies[i]...)
				if _, err := conn.Write(req); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("status %d", resp.StatusCode))
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed, first: %v", n, firstErr.Load())
	}
	return lat
}

// BenchmarkIngest measures POST /v1/events from 64 concurrent loopback
// clients, persist-first (each answer waits for the JetStream ack).
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	var lat []time.Duration
	measure(b, func() { lat = drive(b, e.http.URL, bodies, 0) })
	testkit.ReportLatency(b, lat)
}

// BenchmarkIngestPaced2k measures latency at a steady 2000 events/s.
func BenchmarkIngestPaced2k(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	bodies := payloads(b, b.N)
	b.ResetTimer()
	lat := drive(b, e.http.URL, bodies, 500*time.Microsecond)
	b.StopTimer()
	testkit.ReportLatency(b, lat)
}

// payloadMsgs are the messages ingest publishes for the payloads: each body
// as it came, which is what ingest stores for a clean body.
func payloadMsgs(b *testing.B, bodies [][]byte) []*nats.Msg {
	msgs := make([]*nats.Msg, len(bodies))
	for i, body := range bodies {
		ev, err := event.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = bus.EncodedEventMsg(ev, body)
	}
	return msgs
}

// BenchmarkRawPublish is the baseline: the same payloads published straight
// to JetStream asynchronously, no HTTP, no decoding, no waiting.
func BenchmarkRawPublish(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	msgs := payloadMsgs(b, payloads(b, b.N))
	measure(b, func() {
		for _, m := range msgs {
			if _, err := e.js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-e.js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("async publishes not acknowledged within a minute")
		}
	})
}

// BenchmarkRawPublishSync64 is the persist-first baseline: the same payloads
// published straight to JetStream by 64 goroutines, each waiting for its ack
// as every ingest request must, with no HTTP and no decoding in between.
func BenchmarkRawPublishSync64(b *testing.B) {
	e := newEnv(b, ingest.Config{})
	msgs := payloadMsgs(b, payloads(b, b.N))
	var next atomic.Int64
	var failed atomic.Int64
	measure(b, func() {
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
					_, err := e.js.PublishMsg(ctx, msgs[i])
					cancel()
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d publishes failed", n)
	}
}

// BenchmarkDecodeValidate is the least an ingest must do with each body
// besides HTTP and the publish: parse it, strip <private> content and check
// every field and limit, as POST /v1/events does, on one goroutine.
func BenchmarkDecodeValidate(b *testing.B) {
	bodies := payloads(b, b.N)
	measure(b, func() {
		for _, body := range bodies {
			e, _, err := event.DecodeKnown(body)
			if err != nil {
				b.Fatal(err)
			}
			e.Sanitize()
			if err := e.Validate(event.DefaultLimits); err != nil {
				b.Fatal(err)
			}
		}
	})
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
	measure(b, func() { drive(b, srv.URL, bodies, 0) })
}
