package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// testImportStripsPrivate: what was inside <private> in an imported
// prompt, observation or summary (a hand-edited export, a claude-mem
// database written before it stripped) is never stored, nor searchable; a
// wholly private prompt is kept empty and marked private.
func testImportStripsPrivate(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	at := base.Add(-24 * time.Hour)
	const sid = "imp-private"
	secrets := []string{"sk-live-AAA", "hunter2BBB", "pwCCC", "tokenDDD", "keyEEE", "secretFFF", "passGGG", "privHHH"}
	b := store.ImportBatch{
		Sessions: []store.Session{{ID: sid, Project: "priv-proj", Agent: "claude-code", StartedAt: at}},
		Prompts: []store.Prompt{
			{SessionID: sid, Number: 1, Text: "deploy with key <private>sk-live-AAA</private> now", At: at},
			{SessionID: sid, Number: 2, Text: " <PRIVATE>hunter2BBB</PRIVATE>\n", At: at},
		},
		Observations: []store.ImportedObservation{{Key: "test:private:obs", Observation: store.Observation{
			SessionID: sid, Project: "priv-proj", Type: store.TypeDiscovery, AcceptedAt: at,
			Title:     "deploy key <private>pwCCC</private> rotated",
			Subtitle:  "<private attr=\"x\">tokenDDD</private>",
			Narrative: "the deploy works; <private>keyEEE",
			Facts:     []string{"<private>secretFFF</private>", "a fact that stays"},
			Concepts:  []string{"how-it-works"},
		}}},
		Summaries: []store.ImportedSummary{{Key: "test:private:sum", Summary: store.Summary{
			SessionID: sid, Project: "priv-proj", AcceptedAt: at,
			Request: "rotate <private>passGGG</private> the key", Investigated: "<private>privHHH</private>",
			Learned: "keys rotate", Completed: "done <private>sk-live-AAA</private>", NextSteps: "<private>pwCCC</private>",
			Notes: "<private>tokenDDD</private>", LastAssistantMessage: "ok <private>keyEEE</private>",
		}}},
	}
	if _, err := st.Import(ctx, b); err != nil {
		t.Fatal(err)
	}

	prompts, err := st.Prompts(ctx, sid)
	if err != nil || len(prompts) != 2 {
		t.Fatalf("prompts: %d, %v", len(prompts), err)
	}
	if prompts[0].Text != "deploy with key  now" || prompts[0].Private {
		t.Fatalf("prompt 1 %+v: want the text around the private part, not private", prompts[0])
	}
	if prompts[1].Text != "" || !prompts[1].Private {
		t.Fatalf("prompt 2 %+v: a wholly private prompt is stored empty and marked private", prompts[1])
	}
	obs, err := st.SessionObservations(ctx, sid)
	if err != nil || len(obs) != 1 {
		t.Fatalf("observations: %d, %v", len(obs), err)
	}
	if obs[0].Title != "deploy key  rotated" || len(obs[0].Facts) != 1 || obs[0].Facts[0] != "a fact that stays" {
		t.Fatalf("observation %+v: want the text around the private parts, the private fact dropped", obs[0])
	}
	sums, err := st.SessionSummaries(ctx, sid)
	if err != nil || len(sums) != 1 {
		t.Fatalf("summaries: %d, %v", len(sums), err)
	}
	if sums[0].Learned != "keys rotate" {
		t.Fatalf("summary %+v: text outside <private> lost", sums[0])
	}
	exp, err := st.ExportSession(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal([]any{prompts, obs, sums, exp})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(secrets, "private>") {
		if strings.Contains(strings.ToLower(string(stored)), strings.ToLower(s)) {
			t.Fatalf("imported memory keeps %q: %s", s, stored)
		}
	}
	for _, s := range secrets {
		hits, err := st.Search(ctx, store.SearchQuery{Text: s, Project: "priv-proj"})
		if err != nil || len(hits) != 0 {
			t.Fatalf("search %q: %d hits, %v: private text is searchable", s, len(hits), err)
		}
	}
}
