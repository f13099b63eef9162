package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// TestSQLiteMigratesV1SearchIndex upgrades a store written by schema 1 and
// checks that its existing observations are searchable, project-scoped,
// through the rebuilt index of migration 2.
func TestSQLiteMigratesV1SearchIndex(t *testing.T) {
	ctx := context.Background()
	old := oldSQLite(t, ctx, "v1", "", []string{
		sqliteSchemaV1,
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 'initial schema', 0)`,
		`INSERT INTO observations (session_id, project, type, title, narrative, accepted_at, created_at)
		 VALUES ('s1', 'acme', 'discovery', 'Legacy finding', 'written before migration 2', 1, 1),
		        ('s2', 'acme-web', 'discovery', 'Legacy finding', 'in another project', 2, 2)`,
	})
	st := old.migrate(t, ctx)
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

// TestSQLiteMigratesTextSearch upgrades a store at the schema before it, holding
// prompts and a summary, and checks that migration 5 keeps them and makes them
// searchable, and that the prompt key stays unique.
func TestSQLiteMigratesTextSearch(t *testing.T) {
	ctx := context.Background()
	old := oldSQLite(t, ctx, "v4", "", sqliteSchemaAt(4,
		`INSERT INTO sessions (id, project, agent, started_at, last_event_at) VALUES ('s1', 'acme', 'claude-code', 1, 1)`,
		`INSERT INTO prompts (session_id, number, text, at) VALUES ('s1', 1, 'Migrate the billing exporter', 1), ('s1', 2, 'Now the invoices', 2)`,
		`INSERT INTO summaries (session_id, project, request, accepted_at, created_at) VALUES ('s1', 'acme', 'Billing exporter migration', 3, 3)`))
	st := old.migrate(t, ctx)
	ps, err := st.SearchPrompts(ctx, SearchQuery{Text: "billing", Project: "acme"})
	if err != nil || len(ps) != 1 || ps[0].Prompt.Number != 1 {
		t.Fatalf("prompts after migration: %v %+v", err, ps)
	}
	if all, _ := st.Prompts(ctx, "s1"); len(all) != 2 {
		t.Fatalf("prompts kept: %+v", all)
	}
	ss, err := st.SearchSummaries(ctx, SearchQuery{Text: "billing"})
	if err != nil || len(ss) != 1 {
		t.Fatalf("summaries after migration: %v %+v", err, ss)
	}
	if _, err := st.w.ExecContext(ctx, `INSERT INTO prompts (session_id, number, text, at) VALUES ('s1', 1, 'dup', 4)`); err == nil {
		t.Fatal("a second prompt 1 of s1 was accepted: the key is no longer unique")
	}
}

// TestSQLiteMigratesOpenTypes upgrades a store at schema 9 holding an
// observation with files and a vector and checks that migration 10 keeps the
// row, its ID, its files, its vector and its place in the full-text index, and that the table then
// takes claude-mem's other types and still refuses a malformed one.
func TestSQLiteMigratesOpenTypes(t *testing.T) {
	ctx := context.Background()
	old := oldSQLite(t, ctx, "v9", "?_pragma=foreign_keys(1)", sqliteSchemaAt(9,
		`INSERT INTO observations (id, session_id, project, type, title, narrative, accepted_at, created_at)
		 VALUES (41, 's1', 'acme', 'decision', 'Pool size chosen', 'twenty connections', 1, 1),
		        (42, 's1', 'acme', 'discovery', 'Deleted later', 'gone', 2, 2)`,
		`INSERT INTO observation_files (observation_id, path, project, accepted_at) VALUES (41, '/src/acme/pool.go', 'acme', 1)`,
		`INSERT INTO observation_vectors (observation_id, model, dims, vec, at) VALUES (41, 'fake:m', 2, x'0000803f00000000', 1)`,
		`DELETE FROM observations WHERE id = 42`))
	if _, err := old.db.ExecContext(ctx, `INSERT INTO observations (session_id, project, type, title, accepted_at, created_at)
		VALUES ('s1', 'acme', 'security_alert', 'x', 1, 1)`); err == nil {
		t.Fatal("schema 9 took security_alert: the test no longer starts from the old CHECK")
	}
	st := old.migrate(t, ctx)
	var vectors int
	if err := st.w.QueryRowContext(ctx, `SELECT count(*) FROM observation_vectors WHERE observation_id = 41`).Scan(&vectors); err != nil || vectors != 1 {
		t.Fatalf("vectors of observation 41 after migration: %d (%v), want 1", vectors, err)
	}
	hits, err := st.Search(ctx, SearchQuery{Text: "pool", Project: "acme"})
	if err != nil || len(hits) != 1 || hits[0].Observation.ID != 41 {
		t.Fatalf("search after migration: %v %+v", err, hits)
	}
	byFile, err := st.ObservationsByFile(ctx, "acme", "/src/acme/pool.go", time.Time{}, 10)
	if err != nil || len(byFile) != 1 || byFile[0].ID != 41 {
		t.Fatalf("files after migration: %v %+v", err, byFile)
	}
	id, err := st.AddMemory(ctx, Observation{Project: "acme", Type: TypeSecurityAlert, Title: "Token printed in CI logs"})
	if err != nil {
		t.Fatalf("security_alert after migration: %v", err)
	}
	if id <= 42 {
		t.Errorf("new observation got ID %d, at or below the deleted 42: IDs are reused", id)
	}
	if hits, _ := st.Search(ctx, SearchQuery{Text: "token printed"}); len(hits) != 1 {
		t.Errorf("a new observation is not indexed: %+v", hits)
	}
	for _, bad := range []string{"Security Alert", "", "1st", "a;b"} {
		if _, err := st.w.ExecContext(ctx, `INSERT INTO observations (session_id, project, type, title, accepted_at, created_at)
			VALUES ('s1', 'acme', ?, 'x', 1, 1)`, bad); err == nil {
			t.Errorf("the schema took type %q", bad)
		}
	}
}

// TestSQLiteOpensBehindAHeldWriteLock opens a store already at SchemaVersion
// while another connection holds the write lock, as a worker stopped in the
// middle of a commit would: the open must not need that lock.
func TestSQLiteOpensBehindAHeldWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "held.db")
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO partition_floors (stream, partition, seq) VALUES ('s', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	st, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("open behind a held write lock: %v", err)
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", v, err, SchemaVersion)
	}
}

// TestPostgresMigratesPromptIDs upgrades a PostgreSQL store at schema 12
// holding prompts and checks that migration 13 numbers them (their vectors
// name them by it) and that new prompts are numbered too.
func TestPostgresMigratesPromptIDs(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.StartPostgres(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	setup := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`}
	for _, m := range migrations[:12] {
		setup = append(setup, m.postgres, `INSERT INTO schema_migrations (version, name) VALUES (`+strconv.Itoa(m.version)+`, 'x')`)
	}
	setup = append(setup,
		`INSERT INTO sessions (id, project, agent, started_at, last_event_at) VALUES ('s1', 'acme', 'claude-code', now(), now())`,
		`INSERT INTO prompts (session_id, number, text, at) VALUES ('s1', 1, 'Migrate the billing exporter', now()), ('s1', 2, 'Now the invoices', now())`)
	for _, q := range setup {
		if q == "" {
			continue
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("v12 setup: %v", err)
		}
	}
	conn.Close(ctx)
	st, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatalf("migrate v12 → %d: %v", SchemaVersion, err)
	}
	defer st.Close()
	if _, err := st.Apply(ctx, Unit{SessionID: "s1", Fence: 1, Events: []AppliedEvent{{EventID: "e1", Seq: 1, Kind: "user_prompt", AcceptedAt: time.Now()}},
		Prompts: []Prompt{{SessionID: "s1", Number: 3, Text: "And the credit notes", At: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.ToEmbed(ctx, EmbedQuery{Kind: KindPrompt, Model: "fake:m"})
	if err != nil || len(got) != 3 || got[0].ID == 0 || got[0].ID >= got[1].ID || got[1].ID >= got[2].ID ||
		got[0].Text != "Migrate the billing exporter" || got[2].Text != "And the credit notes" || got[0].Project != "acme" {
		t.Fatalf("prompts to embed after migration %+v %v, want the 3, numbered in order", got, err)
	}
	if err := st.PutVectors(ctx, []Vector{{Kind: KindPrompt, ID: got[1].ID, Model: "fake:m", Data: make([]byte, 8)}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.VectorIDs(ctx, KindPrompt, "fake:m"); len(ids) != 1 || ids[0] != got[1].ID {
		t.Fatalf("vector of a migrated prompt: %v", ids)
	}
}

// oldStore is a SQLite database as an older schema left it, still open.
type oldStore struct {
	version, path string
	db            *sql.DB
}

// oldSQLite writes a SQLite database (opened with the DSN options opts) by
// running setup on it: the store as schema version (v1, v4 …) left it.
func oldSQLite(t *testing.T, ctx context.Context, version, opts string, setup []string) oldStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), version+".db")
	db, err := sql.Open("sqlite", path+opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s setup: %v", version, err)
		}
	}
	return oldStore{version: version, path: path, db: db}
}

// migrate closes the old database and opens it as a store, which migrates it
// to SchemaVersion; the store is closed when the test ends.
func (o oldStore) migrate(t *testing.T, ctx context.Context) *SQLite {
	t.Helper()
	if err := o.db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLite(ctx, o.path)
	if err != nil {
		t.Fatalf("migrate %s → %d: %v", o.version, SchemaVersion, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// sqliteSchemaAt is the SQLite schema after the first n migrations, each
// recorded as applied, followed by rows.
func sqliteSchemaAt(n int, rows ...string) []string {
	setup := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`}
	for _, m := range migrations[:n] {
		setup = append(setup, m.sqlite, `INSERT INTO schema_migrations VALUES (`+strconv.Itoa(m.version)+`, 'x', 0)`)
	}
	return append(setup, rows...)
}
