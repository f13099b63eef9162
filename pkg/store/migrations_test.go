package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSQLiteMigratesV1SearchIndex upgrades a store written by schema 1 and
// checks that its existing observations are searchable, project-scoped,
// through the rebuilt index of migration 2.
func TestSQLiteMigratesV1SearchIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		sqliteSchemaV1,
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 'initial schema', 0)`,
		`INSERT INTO observations (session_id, project, type, title, narrative, accepted_at, created_at)
		 VALUES ('s1', 'acme', 'discovery', 'Legacy finding', 'written before migration 2', 1, 1),
		        ('s2', 'acme-web', 'discovery', 'Legacy finding', 'in another project', 2, 2)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("v1 setup: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("migrate v1 → %d: %v", SchemaVersion, err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", v, err, SchemaVersion)
	}
	hits, err := st.Search(ctx, SearchQuery{Text: "legacy finding", Project: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Observation.SessionID != "s1" {
		t.Fatalf("after migration: %+v, want s1's observation alone", hits)
	}
	if hits, _ := st.Search(ctx, SearchQuery{Text: "legacy"}); len(hits) != 2 {
		t.Fatalf("unscoped after migration: %d hits, want 2", len(hits))
	}
}
