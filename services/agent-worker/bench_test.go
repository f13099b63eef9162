package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// benchPipeline publishes events tool uses of sessions sessions (after a
// session_start each) with async publish, and measures events/s and the
// accept → stored latency of each observation from the status message the
// worker publishes after its commit. rate > 0 paces the publishing to that
// many events/s (latency at a sustained load); 0 publishes as fast as
// possible (throughput; latency then includes the queue).
func benchPipeline(b *testing.B, comp llm.Compressor, sessions, perSession int, rate float64) {
	p := newPipeline(b, "")
	startWorker(b, p, "bench", comp)

	var (
		mu      sync.Mutex
		pubAt   = map[string][]time.Time{} // session → publish times in order
		lat     []time.Duration
		stored  int
		done    = make(chan struct{})
		total   = sessions * perSession
		closeMu sync.Once
	)
	sub, err := p.nc.Subscribe(bus.StatusPrefix+".observation.*", func(m *nats.Msg) {
		var st struct {
			Session string  `json:"session"`
			IDs     []int64 `json:"ids"`
		}
		if json.Unmarshal(m.Data, &st) != nil {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		q := pubAt[st.Session]
		for range st.IDs {
			if len(q) == 0 {
				break
			}
			lat = append(lat, now.Sub(q[0]))
			q = q[1:]
			stored++
		}
		pubAt[st.Session] = q
		if stored >= total {
			closeMu.Do(func() { close(done) })
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()

	ctx := context.Background()
	ids := sessionIDs("b", sessions)
	for _, sid := range ids {
		if _, err := bus.Publish(ctx, p.js, &event.Envelope{EventID: event.NewID(), SessionID: sid, Kind: event.KindSessionStart, At: time.Now(), Project: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < perSession; i++ {
		var futures []jetstream.PubAckFuture
		for k, sid := range ids {
			sent := time.Now()
			if rate > 0 { // spread evenly, as independent agents would
				// Latency counts from the scheduled send, so a publish held
				// up behind a slow one is not left out (no coordinated
				// omission).
				sent = start.Add(time.Duration(float64(i*sessions+k) / rate * float64(time.Second)))
				time.Sleep(time.Until(sent))
			}
			e := &event.Envelope{EventID: event.NewID(), SessionID: sid, Kind: event.KindToolUse, At: time.Now(), Project: "bench",
				Tool: &event.Tool{Name: "Read", Input: json.RawMessage(fmt.Sprintf(`{"file_path":"/w/f%d.go"}`, i))}}
			m, _ := bus.EventMsg(e)
			mu.Lock()
			pubAt[sid] = append(pubAt[sid], sent)
			mu.Unlock()
			f, err := p.js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d observations stored", stored, total)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	testkit.ReportLatency(b, lat)
}

// BenchmarkPipelineInstant: accept → stored throughput with the instant
// offline compressor, 100 sessions × 60 events published at once (target
// ≥ 3k events/s).
func BenchmarkPipelineInstant(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchPipeline(b, llm.Offline{}, 100, 60, 0)
	}
}

// BenchmarkPipelinePaced: accept → stored latency at a sustained 1500
// events/s (half the throughput target) over 100 sessions, arrivals spread
// evenly (target p50 ≤ 25 ms, p99 ≤ 100 ms).
func BenchmarkPipelinePaced(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchPipeline(b, llm.Offline{}, 100, 60, 1500)
	}
}

// BenchmarkPipelineSlowLLM: one worker, 500 live sessions, a 2 s compressor
// (target ≥ 250 events/s; the ideal without batching is sessions / 2 s).
func BenchmarkPipelineSlowLLM(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchPipeline(b, llm.Latency{Inner: llm.Offline{}, Min: 2 * time.Second, Max: 2 * time.Second}, 500, 6, 0)
	}
}
