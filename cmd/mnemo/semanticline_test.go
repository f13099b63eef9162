package main

import (
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

// mnemo status and doctor say how far each kind is embedded, and the
// older figures when a server gives no per-kind ones.
func TestSemanticLineByKind(t *testing.T) {
	s := query.SemanticStats{On: true, Model: "openai:m", Embedded: 5, Pending: 1, Indexed: 5, IndexMB: 2}
	if got, want := semanticLine(s), "on (openai:m): 5 embedded, 1 pending, 5 in the index (2 MiB)"; got != want {
		t.Fatalf("without kinds: %q, want %q", got, want)
	}
	s.ByKind = map[store.Kind]query.KindStats{store.KindObservation: {Indexed: 5, Embedded: 5, Pending: 1},
		store.KindSummary: {Indexed: 2, Embedded: 2}, store.KindPrompt: {Embedded: 3, Pending: 4}}
	want := "on (openai:m): observations 5 embedded, 1 pending; summaries 2 embedded, 0 pending; prompts 3 embedded, 4 pending; 7 in the index (2 MiB)"
	if got := semanticLine(s); got != want {
		t.Fatalf("by kind: %q, want %q", got, want)
	}
}
