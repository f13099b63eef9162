package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// A provider outage neither blocks nor loses an observation: the pipeline
// stores them while the embedder is down, the worker embeds them once it is
// back, and a redelivered event makes no second vector
// (docs/ARCHITECTURE.md §14).
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
	if c, _ := p.store.CountVectors(ctx, emb.Key(), ""); c.Embedded != 0 || c.Pending != int64(len(obs)) {
		t.Fatalf("during the outage %+v, want all %d pending", c, len(obs))
	}

	srv.SetDown(false)
	waitVectors := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := p.store.CountVectors(ctx, emb.Key(), "")
			if err == nil && c.Embedded == want && c.Pending == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("20s after the outage: %+v (%v), want %d embedded and none pending", c, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitVectors(int64(len(obs)))
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
	p.waitApplied(30 * time.Second)
	ids, err := p.store.VectorIDs(ctx, emb.Key())
	if err != nil || len(ids) != len(obs) {
		t.Fatalf("after a redelivery %d vectors (%v), want %d: one per observation", len(ids), err, len(obs))
	}
	if again, _ := p.store.SessionObservations(ctx, "e-1"); len(again) != len(obs) {
		t.Fatalf("redelivery changed the observations: %d, want %d", len(again), len(obs))
	}
	if srv.Texts() != calls {
		t.Fatalf("a redelivery embedded %d texts again, want none", srv.Texts()-calls)
	}
}
