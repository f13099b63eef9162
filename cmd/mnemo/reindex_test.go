package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
)

// After a model change, reindex embeds every observation, summary and
// prompt with the new model and leaves no old-model vector behind; without a provider it refuses with
// the reason.
func TestReindexAfterModelChange(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mnemo.db")
	st := storetest.Open(t, path)
	for _, title := range []string{"Check greeting", "Update README", "Fix migration"} {
		if _, err := st.AddMemory(ctx, store.Observation{Project: "acme", Type: store.TypeChange, Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().UTC()
	if _, err := st.Apply(ctx, store.Unit{SessionID: "s1", Events: []store.AppliedEvent{{EventID: "e1", Seq: 1, Kind: "stop", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: "acme"}, Prompts: []store.Prompt{{SessionID: "s1", Number: 1, Text: "Say hello", At: at}},
		Summary: &store.Summary{SessionID: "s1", Project: "acme", Request: "Say hello", AcceptedAt: at}}); err != nil {
		t.Fatal(err)
	}
	srv := embedtest.NewGemini(t, 32)
	old, err := embed.New(srv.Config("old-model"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := semantic.NewCatchup(st, old, nil, 0).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close() // reindex has the store to itself

	t.Setenv("MNEMO_HOME", t.TempDir())
	var out, errOut bytes.Buffer
	if err := runReindex(ctx, []string{"--store", path}, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "MNEMO_EMBED_PROVIDER") {
		t.Fatalf("reindex without a provider: %v, want a refusal naming MNEMO_EMBED_PROVIDER", err)
	}
	for k, v := range srv.Env("new-model") {
		t.Setenv(k, v)
	}
	if err := runReindex(ctx, []string{"--store", path}, nil, &out, &errOut); err != nil {
		t.Fatalf("reindex: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "embedded 5 memories") || !strings.Contains(errOut.String(), "embedded 5 of 5") {
		t.Fatalf("reindex said %q / %q", out.String(), errOut.String())
	}
	st = storetest.Open(t, path)
	for k, n := range map[store.Kind]int64{store.KindObservation: 3, store.KindSummary: 1, store.KindPrompt: 1} {
		if ids, _ := st.VectorIDs(ctx, k, old.Key()); len(ids) != 0 {
			t.Fatalf("old model's %s vectors after reindex: %v", k, ids)
		}
		if c, _ := st.CountVectors(ctx, k, "gemini:new-model", ""); c != (store.VectorCounts{Embedded: n}) {
			t.Fatalf("new model's %s vectors %+v, want all %d", k, c, n)
		}
	}
}
