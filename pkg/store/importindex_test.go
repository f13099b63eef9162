package store

import (
	"context"
	"fmt"
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
	st := tempSQLite(t)
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
	checkFullText(t, st)
	for _, w := range []string{"quokka", "wombat", "numbat", "e1"} {
		hits, err := st.Search(ctx, SearchQuery{Text: w})
		if err != nil || len(hits) != 1 {
			t.Fatalf("search %q: %d hits (%v), want 1", w, len(hits), err)
		}
	}
}

// A batch with more values than one SQLite statement may bind is written
// by several statements, every row once, and indexed.
func TestSQLiteImportBeyondOneStatementsParameters(t *testing.T) {
	ctx := context.Background()
	st := tempSQLite(t)
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	n := sqliteMaxParams/len(importedObservationCols) + 3
	var b ImportBatch
	for i := range n {
		b.Observations = append(b.Observations, ImportedObservation{Key: fmt.Sprintf("k-%d", i), Observation: Observation{
			SessionID: "s1", Project: "acme", Type: TypeChange, Title: fmt.Sprintf("row%d", i), AcceptedAt: at}})
	}
	res, err := st.Import(ctx, b)
	if err != nil || res.Observations != n {
		t.Fatalf("import of %d rows: %+v, %v", n, res, err)
	}
	var rows, keys int
	if err := st.w.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT import_key) FROM observations`).Scan(&rows, &keys); err != nil || rows != n || keys != n {
		t.Fatalf("%d rows, %d keys (%v), want %d", rows, keys, err, n)
	}
	checkFullText(t, st)
	if hits, err := st.Search(ctx, SearchQuery{Text: fmt.Sprintf("row%d", n-1)}); err != nil || len(hits) != 1 {
		t.Fatalf("search the last row: %d hits (%v)", len(hits), err)
	}
}

// tempSQLite is a fresh SQLite store in the test's directory, closed at
// the test's end.
func tempSQLite(t *testing.T) *SQLite {
	t.Helper()
	st, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// checkFullText runs FTS5's integrity check of observations_fts against
// the observations table (rank 1): a row indexed twice or not at all fails.
func checkFullText(t *testing.T, st *SQLite) {
	t.Helper()
	if _, err := st.w.ExecContext(context.Background(), `INSERT INTO observations_fts (observations_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("full-text index: %v", err)
	}
}
