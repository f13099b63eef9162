package llm

import (
	"encoding/json"
	"strings"
	"testing"
)

func use(id string, inputBytes, responseBytes int) ToolUse {
	return ToolUse{EventID: id, Tool: "T",
		Input:    json.RawMessage(`"` + strings.Repeat("i", inputBytes-2) + `"`),
		Response: json.RawMessage(`"` + strings.Repeat("r", responseBytes-2) + `"`)}
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

func TestDiscoveryTokensSplitByShareOfInput(t *testing.T) {
	// a is 3× b's bytes (each with the 1-byte tool name), c is cited by
	// two observations which halve it.
	uses := []ToolUse{use("a", 100, 199), use("b", 50, 49), use("c", 200, 199)}
	obs := []Observation{
		{Title: "from a", SourceEventIDs: []string{"a"}},
		{Title: "from b", SourceEventIDs: []string{"b", "b"}}, // a repeated source counts once
		{Title: "from c", SourceEventIDs: []string{"c"}},
		{Title: "from c too", SourceEventIDs: []string{"c", "unknown-event"}},
	}
	usage := []Usage{{InputTokens: 6000}, {InputTokens: 1000}} // an answer and a re-ask
	got := DiscoveryTokens(uses, obs, usage)
	// Weights: a 300, b 100, c 400 split 200/200 → 300:100:200:200 of 7000.
	want := []int64{2625, 875, 1750, 1750}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("split %v, want %v", got, want)
		}
	}
	if sum(got) != 7000 {
		t.Fatalf("shares sum to %d, want the batch's 7000", sum(got))
	}
}

func TestDiscoveryTokensRoundingKeepsTheTotal(t *testing.T) {
	uses := []ToolUse{use("a", 10, 10), use("b", 10, 10), use("c", 10, 10)}
	obs := []Observation{{SourceEventIDs: []string{"a"}}, {SourceEventIDs: []string{"b"}}, {SourceEventIDs: []string{"c"}}}
	got := DiscoveryTokens(uses, obs, []Usage{{InputTokens: 100}})
	if sum(got) != 100 || got[0] < 33 || got[0] > 34 || got[1] < 33 || got[2] < 33 {
		t.Fatalf("thirds of 100: %v", got)
	}
}

func TestDiscoveryTokensEdgeCases(t *testing.T) {
	uses := []ToolUse{use("a", 10, 10)}
	if got := DiscoveryTokens(uses, []Observation{{SourceEventIDs: []string{"a"}}}, nil); got[0] != 0 {
		t.Errorf("offline (no usage): %v, want 0", got)
	}
	// No observation names a source: an even split.
	got := DiscoveryTokens(uses, []Observation{{}, {}}, []Usage{{InputTokens: 11}})
	if sum(got) != 11 || got[0] < 5 || got[1] < 5 {
		t.Errorf("no sources: %v, want an even split of 11", got)
	}
	if got := DiscoveryTokens(uses, nil, []Usage{{InputTokens: 11}}); len(got) != 0 {
		t.Errorf("no observations: %v", got)
	}
}

// The offline compressor spends no LLM input: its observations cost 0.
func TestOfflineObservationsCostNothing(t *testing.T) {
	req := ObserveRequest{Session: Session{ID: "s", Project: "p"}, ToolUses: []ToolUse{
		{EventID: "e1", Tool: "Bash", Input: json.RawMessage(`{"command":"ls"}`), Response: json.RawMessage(`{"stdout":"a\nb"}`)}}}
	res, err := Offline{}.Observe(t.Context(), req)
	if err != nil || len(res.Observations) == 0 {
		t.Fatalf("offline: %v %v", res, err)
	}
	for _, n := range DiscoveryTokens(req.ToolUses, res.Observations, res.Usage) {
		if n != 0 {
			t.Fatalf("offline discovery tokens %d, want 0", n)
		}
	}
}
