package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// blankSummaries answers every stop with a summary whose fields are all
// blank, as an LLM may.
type blankSummaries struct{ llm.Offline }

func (blankSummaries) Summarize(_ context.Context, r llm.SummarizeRequest) (llm.SummarizeResult, error) {
	return llm.SummarizeResult{Summary: &llm.Summary{Notes: " \n", Learned: "\t"}, State: r.State}, nil
}

// A summary with every field empty is never stored, live or recompressed:
// the context would show an empty heading for it.
func TestEmptySummaryNeverStored(t *testing.T) {
	p := newPipeline(t, "")
	ctx := context.Background()
	sid := sessionIDs("blank", 1)[0]
	startWorker(t, p, "w1", blankSummaries{})
	p.publish(ctx, []string{sid}, 8, 8)
	p.waitApplied(30 * time.Second)
	if obs, _ := p.store.SessionObservations(ctx, sid); len(obs) == 0 {
		t.Fatal("no observations: the session was not applied")
	}
	p.recompress(ctx, sid)
	sums, err := p.store.SessionSummaries(ctx, sid)
	if err != nil || len(sums) != 0 {
		t.Fatalf("%d summaries stored (%v), want none: every field was blank", len(sums), err)
	}
}

// Memory with no events in the stream (imported) survives a recompress
// request that reaches the worker: there is nothing to rebuild it from.
func TestRecompressKeepsMemoryWithoutStoredEvents(t *testing.T) {
	p := newPipeline(t, "")
	ctx := context.Background()
	startWorker(t, p, "w1", llm.Offline{})
	live := sessionIDs("live", 1)[0]
	p.publish(ctx, []string{live}, 8, 8) // the stream's sequence moves past the import's
	p.waitApplied(30 * time.Second)

	imported := "imported-abc"
	at := time.Now().UTC().Add(-time.Hour)
	if _, err := p.store.Apply(ctx, store.Unit{SessionID: imported,
		Events:       []store.AppliedEvent{{EventID: "imp-1", Seq: 1, Kind: "import", AcceptedAt: at}},
		Session:      &store.SessionUpdate{Project: "proj-0"},
		Observations: []store.Observation{{SessionID: imported, Project: "proj-0", Type: store.TypeDecision, Title: "Chose backoff", AcceptedAt: at, SourceEventIDs: []string{"imp-1"}}},
		Summary:      &store.Summary{SessionID: imported, Project: "proj-0", Request: "imported", AcceptedAt: at, SourceEventIDs: []string{"imp-1"}},
	}); err != nil {
		t.Fatal(err)
	}
	p.recompress(ctx, imported)
	obs, _ := p.store.SessionObservations(ctx, imported)
	sums, _ := p.store.SessionSummaries(ctx, imported)
	if len(obs) != 1 || obs[0].Title != "Chose backoff" || len(sums) != 1 {
		t.Fatalf("imported memory changed by a recompress: %d observations %v, %d summaries", len(obs), obs, len(sums))
	}
}
