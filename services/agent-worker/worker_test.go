package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// startWorker runs an in-process worker until the test ends.
func startWorker(t testing.TB, p *pipeline, id string, comp llm.Compressor) (stop func()) {
	t.Helper()
	return startWorkerWith(t, p, id, comp, nil)
}

// startWorkerWith starts a worker that also embeds with emb (nil = off).
func startWorkerWith(t testing.TB, p *pipeline, id string, comp llm.Compressor, emb *embed.Client) (stop func()) {
	t.Helper()
	cfg := worker.DefaultConfig()
	cfg.WorkerID = id
	cfg.Layout = p.layout
	cfg.Linger = 300 * time.Millisecond
	cfg.LockTTL = 3 * time.Second
	cfg.MemberTTL = 2 * time.Second
	cfg.Rebalance = 300 * time.Millisecond
	cfg.Grace = 3 * time.Second
	w, err := worker.New(cfg, worker.Deps{NC: p.nc, JS: p.js, Redis: p.redis.Client(t), Store: p.store, Compressor: comp, Logger: testkit.Logger(), Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	return testkit.RunService(t, "worker "+id, w.Run)
}

func TestPipelineTwoWorkersExactlyOnceInOrder(t *testing.T) {
	p := newPipeline(t, "")
	startWorker(t, p, "w1", llm.Offline{})
	startWorker(t, p, "w2", llm.Latency{Inner: llm.Offline{}, Max: 5 * time.Millisecond})
	ctx := context.Background()
	sessions := sessionIDs("s", 30)
	p.publish(ctx, sessions, 25, 25)
	p.waitApplied(60 * time.Second)
	p.checkInvariants()
}

// A worker that stops gracefully hands its sessions to the other: nothing is
// lost and nothing doubled, even with work queued at the stop.
func TestGracefulStopHandsOver(t *testing.T) {
	p := newPipeline(t, "")
	stop1 := startWorker(t, p, "w1", llm.Latency{Inner: llm.Offline{}, Max: 20 * time.Millisecond})
	startWorker(t, p, "w2", llm.Latency{Inner: llm.Offline{}, Max: 20 * time.Millisecond})
	ctx := context.Background()
	sessions := sessionIDs("g", 20)
	p.publish(ctx, sessions, 30, 15)
	stop1()
	p.publish(ctx, sessions, 30, 15)
	p.waitApplied(60 * time.Second)
	p.checkInvariants()
}

// Redelivered and re-published events are applied once: the same event ID
// published again under a new message ID (as a spool replay after
// JetStream's dedupe window would) makes no second observation.
func TestRepublishedEventIsAppliedOnce(t *testing.T) {
	p := newPipeline(t, "")
	startWorker(t, p, "w1", llm.Offline{})
	ctx := context.Background()
	p.publish(ctx, []string{"r-1"}, 6, 6)
	p.waitApplied(30 * time.Second)
	obs, _ := p.store.SessionObservations(ctx, "r-1")
	if len(obs) == 0 {
		t.Fatal("no observations")
	}
	// Re-publish the first tool use under its own ID with a new message ID
	// header, bypassing JetStream's dedupe, as a replay after the window.
	p.mu.Lock()
	first := p.sessions["r-1"].tools[0]
	p.mu.Unlock()
	republish(t, p, "r-1", first)
	p.waitApplied(30 * time.Second)
	again, _ := p.store.SessionObservations(ctx, "r-1")
	if len(again) != len(obs) {
		t.Fatalf("%d observations after re-publishing an applied event, want %d", len(again), len(obs))
	}
}

// An event the reaper dead-lettered (JetStream ran out of deliveries) is done:
// the worker records it dead without compressing it and the session goes on,
// so a crash-looping event cannot block its session.
func TestReaperDeadLetteredEventIsSkipped(t *testing.T) {
	p := newPipeline(t, "")
	ctx := context.Background()
	sid := "dl-1"
	poison := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "p", Kind: event.KindToolUse, At: time.Now(),
		Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make poison"}`)}}
	after := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "p", Kind: event.KindToolUse, At: time.Now(),
		Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make after"}`)}}
	ack := p.mustPublish(ctx, poison)
	if _, err := p.store.AddDeadLetter(ctx, store.DeadLetter{EventID: poison.EventID, SessionID: sid, Seq: ack.Sequence,
		Reason: "delivered 5 times without an ack", Deliveries: 5, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	last := p.mustPublish(ctx, after)
	p.mu.Lock()
	p.sessions[sid] = &sessionLog{events: []string{poison.EventID, after.EventID}, tools: []string{after.EventID}, lastSeq: last.Sequence}
	p.mu.Unlock()
	startWorker(t, p, "w1", llm.Offline{})
	p.waitApplied(30 * time.Second)
	p.checkInvariants() // one observation, from the later event only
	dls, err := p.store.DeadLetters(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want the reaper's one (no second row from the worker)", len(dls))
	}
}

// Bookkeeping tools (the skip list) are recorded and acknowledged but never
// reach the compressor: no observation, no LLM call.
func TestSkippedToolsAreNotCompressed(t *testing.T) {
	p := newPipeline(t, "")
	ctx := context.Background()
	sid := "skip-1"
	var last *jetstream.PubAck
	var kept []string
	for i, name := range []string{"TodoWrite", "Read", "TaskUpdate", "Bash"} {
		e := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "p", Kind: event.KindToolUse, At: time.Now(),
			Tool: &event.Tool{Name: name, Input: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}
		last = p.mustPublish(ctx, e)
		if name == "Read" || name == "Bash" {
			kept = append(kept, e.EventID)
		}
	}
	p.mu.Lock()
	p.sessions[sid] = &sessionLog{tools: kept, lastSeq: last.Sequence}
	p.mu.Unlock()
	rec := &recordingCompressor{Compressor: llm.Offline{}}
	startWorker(t, p, "w1", rec)
	p.waitApplied(30 * time.Second)
	if asked := rec.toolNames(); fmt.Sprint(asked) != "[Read Bash]" {
		t.Fatalf("the compressor was asked about %v, want only Read and Bash", asked)
	}
	if got := storetest.ObservedFrom(t, p.store, sid); fmt.Sprint(got) != fmt.Sprint(kept) {
		t.Fatalf("observations from %v, want only the Read and Bash uses %v", got, kept)
	}
}

// recordingCompressor passes every call to its compressor and records the
// tools it was asked to observe, in order.
type recordingCompressor struct {
	llm.Compressor
	mu    sync.Mutex
	tools []string
}

func (c *recordingCompressor) Observe(ctx context.Context, r llm.ObserveRequest) (llm.ObserveResult, error) {
	c.mu.Lock()
	for _, u := range r.ToolUses {
		c.tools = append(c.tools, u.Tool)
	}
	c.mu.Unlock()
	return c.Compressor.Observe(ctx, r)
}

func (c *recordingCompressor) toolNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tools...)
}

// A worker answers an abort on the subject query publishes it on
// (bus.AbortSubject), naming itself and whether it held the session.
func TestWorkerAnswersAbortOnBusSubject(t *testing.T) {
	p := newPipeline(t, "")
	startWorker(t, p, "w1", llm.Offline{})
	var reply struct {
		Worker  string `json:"worker"`
		Aborted bool   `json:"aborted"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := p.nc.Request(bus.AbortSubject("never-seen"), nil, time.Second)
		if err == nil {
			if err := json.Unmarshal(m.Data, &reply); err != nil {
				t.Fatalf("abort reply %q: %v", m.Data, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker answered %s: %v", bus.AbortSubject("never-seen"), err)
		}
	}
	if reply.Worker != "w1" || reply.Aborted {
		t.Fatalf("abort reply %+v, want worker w1 that held nothing", reply)
	}
}
