package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// A provider outage neither blocks nor loses an observation, a summary or
// a prompt: the pipeline stores them while the embedder is down, the worker
// embeds them once it is back, and a redelivered event makes no second
// vector of any kind (docs/ARCHITECTURE.md §14).
func TestWorkerEmbedsAfterStoringThroughAnOutage(t *testing.T) {
	p := newPipeline(t, "")
	srv := embedtest.NewOpenAI(t, 64)
	emb, err := embed.New(srv.Config("fake-embed"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true)
	// Query processes' indexes learn of new vectors from the worker.
	notices, err := p.nc.SubscribeSync(bus.MemoryChangedSubject)
	if err != nil {
		t.Fatal(err)
	}
	startWorkerWith(t, p, "w1", llm.Offline{}, emb)
	ctx := context.Background()
	p.publish(ctx, []string{"e-1"}, 8, 8)
	p.waitApplied(30 * time.Second)
	obs, err := p.store.SessionObservations(ctx, "e-1")
	if err != nil || len(obs) == 0 {
		t.Fatalf("observations stored during the outage: %d (%v), want some", len(obs), err)
	}
	sums, _ := p.store.SessionSummaries(ctx, "e-1")
	prompts, _ := p.store.Prompts(ctx, "e-1")
	if len(sums) == 0 || len(prompts) == 0 {
		t.Fatalf("%d summaries and %d prompts stored, want some of each", len(sums), len(prompts))
	}
	stored := map[store.Kind]int64{store.KindObservation: int64(len(obs)), store.KindSummary: int64(len(sums)), store.KindPrompt: int64(len(prompts))}
	for k, n := range stored {
		if c, _ := p.store.CountVectors(ctx, k, emb.Key(), ""); c.Embedded != 0 || c.Pending != n {
			t.Fatalf("%s during the outage %+v, want all %d pending", k, c, n)
		}
	}

	srv.SetDown(false)
	deadline := time.Now().Add(20 * time.Second)
	for k, want := range stored {
		for {
			c, err := p.store.CountVectors(ctx, k, emb.Key(), "")
			if err == nil && c.Embedded == want && c.Pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s 20s after the outage: %+v (%v), want %d embedded and none pending", k, c, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	m, err := notices.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no memory change announced after embedding: %v", err)
	}
	if c, err := bus.DecodeMemoryChange(m.Data); err != nil || !c.Vectors {
		t.Fatalf("notice %s (%v), want vectors written", m.Data, err)
	}

	p.mu.Lock()
	first := p.sessions["e-1"].tools[0]
	p.mu.Unlock()
	calls := srv.Texts()
	republish(t, p, "e-1", first)
	// The prompt (event 1 of the script) and the stop (its last), as sent.
	p.mu.Lock()
	evs := p.sessions["e-1"].events
	prompt, stop := evs[1], evs[len(evs)-1]
	p.mu.Unlock()
	republishEnvelope(t, p, &event.Envelope{EventID: prompt, SessionID: "e-1", Project: "proj-1", Agent: "claude-code",
		Kind: event.KindUserPrompt, At: time.Now(), Cwd: "/w/e-1", Prompt: "prompt 1 of e-1"})
	republishEnvelope(t, p, &event.Envelope{EventID: stop, SessionID: "e-1", Project: "proj-1", Agent: "claude-code",
		Kind: event.KindStop, At: time.Now(), Cwd: "/w/e-1", LastAssistantMessage: "done e-1"})
	p.waitApplied(30 * time.Second)
	for k, n := range stored {
		ids, err := p.store.VectorIDs(ctx, k, emb.Key())
		if err != nil || int64(len(ids)) != n {
			t.Fatalf("after a redelivery %d %s vectors (%v), want %d: one each", len(ids), k, err, n)
		}
	}
	if again, _ := p.store.SessionObservations(ctx, "e-1"); len(again) != len(obs) {
		t.Fatalf("redelivery changed the observations: %d, want %d", len(again), len(obs))
	}
	if srv.Texts() != calls {
		t.Fatalf("a redelivery embedded %d texts again, want none", srv.Texts()-calls)
	}
}
