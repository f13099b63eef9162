package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// v2 is a compressor with a recognisable output: the "current prompt/model"
// a recompression switches to.
type v2 struct{ llm.Offline }

func (v2) Name() string { return "v2" }

func (c v2) Observe(ctx context.Context, r llm.ObserveRequest) (llm.ObserveResult, error) {
	res, err := c.Offline.Observe(ctx, r)
	for i := range res.Observations {
		res.Observations[i].Title = "v2: " + res.Observations[i].Title
	}
	return res, err
}

// recompress replaces a session's observations and summary with the current
// compressor's, in order with the session's events; twice changes nothing more.
func TestRecompressReplacesNotDuplicates(t *testing.T) {
	p := newPipeline(t, "")
	ctx := context.Background()
	sid := sessionIDs("rc", 1)[0]
	stop := startWorker(t, p, "w1", llm.Offline{})
	p.publish(ctx, []string{sid}, 14, 14)
	p.waitApplied(30 * time.Second)
	before, _ := p.store.SessionObservations(ctx, sid)
	if len(before) == 0 {
		t.Fatal("no observations to recompress")
	}
	stop()
	startWorker(t, p, "w2", v2{})
	for round := 0; round < 2; round++ {
		p.recompress(ctx, sid)
		after, _ := p.store.SessionObservations(ctx, sid)
		if len(after) != len(before) {
			t.Fatalf("round %d: %d observations after recompress, had %d: duplicated or lost", round, len(after), len(before))
		}
		for i, o := range after {
			if !strings.HasPrefix(o.Title, "v2: ") || strings.Join(o.SourceEventIDs, ",") != strings.Join(before[i].SourceEventIDs, ",") {
				t.Fatalf("round %d: observation %d = %q from %v, want the v2 compressor's, same sources in order", round, i, o.Title, o.SourceEventIDs)
			}
		}
		if sums, _ := p.store.SessionSummaries(ctx, sid); len(sums) != 1 {
			t.Fatalf("round %d: %d summaries, want the one regenerated", round, len(sums))
		}
	}
	p.checkInvariants()
}
