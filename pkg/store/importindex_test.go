package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// An imported observation is in the full-text index once: the bulk import
// indexes its batch and the trigger leaves the row alone, while a row Apply
// writes is still indexed by the trigger. FTS5's integrity check (rank 1
// compares the index with the observations table) fails on a row indexed
// twice or not at all.
func TestSQLiteImportIndexesEachObservationOnce(t *testing.T) {
	ctx := context.Background()
	st, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var b ImportBatch
	for _, w := range []string{"quokka", "wombat", "numbat"} {
		b.Observations = append(b.Observations, ImportedObservation{Key: "k-" + w, Observation: Observation{
			SessionID: "s1", Project: "acme", Type: TypeChange, Title: w + " seen", Facts: []string{"a " + w}, AcceptedAt: at}})
	}
	if _, err := st.Import(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, groupUnit(t, "s2", "e1", 1, TypeChange)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.w.ExecContext(ctx, `INSERT INTO observations_fts (observations_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("full-text index after import: %v", err)
	}
	for _, w := range []string{"quokka", "wombat", "numbat", "e1"} {
		hits, err := st.Search(ctx, SearchQuery{Text: w})
		if err != nil || len(hits) != 1 {
			t.Fatalf("search %q: %d hits (%v), want 1", w, len(hits), err)
		}
	}
}
