package claudemem_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/claudemem/claudememtest"
)

func TestReadsBothFixtureDatabases(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file    string
		want    claudemem.Counts
		project string
	}{
		{"claude-mem-13.25.3.db", claudemem.Counts{Sessions: 6, Prompts: 6, Observations: 48, Summaries: 6}, "orbital-api"},
		{"claude-mem-13.25.3-no-summaries.db", claudemem.Counts{Sessions: 11, Prompts: 24, Observations: 300}, "acme-api"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			db, err := claudemem.Open(ctx, claudememtest.Copy(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if m := db.Missing(); len(m) != 0 {
				t.Errorf("a current database lacks nothing, got missing %v", m)
			}
			got, err := db.Count(ctx, "")
			if err != nil || got != tc.want {
				t.Fatalf("counts %+v, %v; want %+v", got, err, tc.want)
			}
			if other, _ := db.Count(ctx, "no-such-project"); other != (claudemem.Counts{}) {
				t.Errorf("another project counts %+v, want nothing", other)
			}
			projects, err := db.Projects(ctx)
			if err != nil || len(projects) != 1 || projects[0] != tc.project {
				t.Errorf("projects %v, %v", projects, err)
			}
			read := readAll(t, db, tc.project)
			if read.counts != tc.want {
				t.Errorf("read %+v, want %+v", read.counts, tc.want)
			}
			for _, o := range read.obs {
				if o.SessionID == "" || o.Title == "" || o.At.IsZero() || o.Project != tc.project || len(o.Facts) == 0 {
					t.Fatalf("observation read incompletely: %+v", o)
				}
			}
			for _, s := range read.sessions {
				if s.PlatformSource != "claude" || s.StartedAt.IsZero() || s.MemorySessionID == "" {
					t.Fatalf("session read incompletely: %+v", s)
				}
			}
		})
	}
}

// TestSampleMatchesTheSource compares one observation and one summary field
// by field with what claude-mem's own SQLite holds.
func TestSampleMatchesTheSource(t *testing.T) {
	path, raw := rawFixture(t)
	var title, narrative, facts, hash, msid string
	var tokens, epoch int64
	if err := raw.QueryRow(`SELECT title, narrative, facts, content_hash, memory_session_id, discovery_tokens, created_at_epoch
		FROM observations ORDER BY id LIMIT 1`).Scan(&title, &narrative, &facts, &hash, &msid, &tokens, &epoch); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	r := readAll(t, db, "")
	o := r.obs[0]
	if o.Title != title || o.Narrative != narrative || o.DiscoveryTokens != tokens || o.At.UnixMilli() != epoch ||
		o.Key != "claude-mem:obs:"+msid+":"+hash || !strings.Contains(facts, o.Facts[0]) {
		t.Fatalf("observation %+v does not match source title=%q tokens=%d epoch=%d hash=%s", o, title, tokens, epoch, hash)
	}
	var request string
	if err := raw.QueryRow(`SELECT request FROM session_summaries ORDER BY id LIMIT 1`).Scan(&request); err != nil {
		t.Fatal(err)
	}
	if r.sums[0].Request != request || r.sums[0].SessionID == "" {
		t.Fatalf("summary %+v, want request %q", r.sums[0], request)
	}
}

// TestKeysAreStable: two reads give the same keys, every key is unique, and
// an older schema without content_hash still gets keys that are stable.
func TestKeysAreStable(t *testing.T) {
	ctx := context.Background()
	for _, older := range []bool{false, true} {
		path := claudememtest.Copy(t, "claude-mem-13.25.3.db")
		if older {
			claudememtest.DropNewerColumns(t, path)
		}
		db, err := claudemem.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		a, b := readAll(t, db, ""), readAll(t, db, "")
		db.Close()
		seen := map[string]bool{}
		for i, o := range a.obs {
			if o.Key != b.obs[i].Key {
				t.Fatalf("older=%v: key changed between reads: %s vs %s", older, o.Key, b.obs[i].Key)
			}
			if seen[o.Key] {
				t.Fatalf("older=%v: key %s given twice", older, o.Key)
			}
			seen[o.Key] = true
		}
		for _, m := range a.sums {
			if seen[m.Key] {
				t.Fatalf("older=%v: key %s given twice", older, m.Key)
			}
			seen[m.Key] = true
		}
	}
}

func TestOlderSchemaSaysWhatIsMissing(t *testing.T) {
	path := claudememtest.Copy(t, "claude-mem-13.25.3.db")
	dropped := claudememtest.DropNewerColumns(t, path)
	db := openDB(t, path)
	missing := strings.Join(db.Missing(), " ")
	for _, c := range dropped {
		if !strings.Contains(missing, c) {
			t.Errorf("Missing() = %q does not name %s", missing, c)
		}
	}
	r := readAll(t, db, "")
	if r.counts != (claudemem.Counts{Sessions: 6, Prompts: 6, Observations: 48, Summaries: 6}) {
		t.Fatalf("older schema read %+v", r.counts)
	}
	for _, s := range r.sessions {
		if s.PlatformSource != "claude" {
			t.Fatalf("a session without platform_source is claude's, got %q", s.PlatformSource)
		}
	}
	for _, o := range r.obs {
		if o.DiscoveryTokens != 0 || !strings.HasPrefix(o.Key[strings.LastIndex(o.Key, ":")+1:], "f") {
			t.Fatalf("without content_hash the key is the fields' hash and tokens 0: %+v", o)
		}
	}
}

func TestMergedIntoProject(t *testing.T) {
	ctx := context.Background()
	path, raw := rawFixture(t)
	if _, err := raw.Exec(`UPDATE observations SET merged_into_project = 'orbital-core' WHERE id IN (SELECT id FROM observations ORDER BY id LIMIT 5)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db := openDB(t, path)
	c, err := db.Count(ctx, "orbital-core")
	if err != nil || c.Observations != 5 {
		t.Fatalf("merged project counts %+v, %v; want 5 observations", c, err)
	}
	r := readAll(t, db, "orbital-core")
	if len(r.obs) != 5 || r.obs[0].Project != "orbital-core" {
		t.Fatalf("merged observations %d, first %+v", len(r.obs), r.obs)
	}
}

// TestReadsWhileClaudeMemWrites: claude-mem keeps its database open in WAL
// mode with a write transaction under way; the reader still reads.
func TestReadsWhileClaudeMemWrites(t *testing.T) {
	ctx := context.Background()
	path := claudememtest.Copy(t, "claude-mem-13.25.3.db")
	w, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	conn, err := w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE observations SET title = 'uncommitted' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	r := readAll(t, db, "")
	if r.counts.Observations != 48 || r.obs[0].Title == "uncommitted" {
		t.Fatalf("read %+v while claude-mem writes (first title %q)", r.counts, r.obs[0].Title)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

func TestNotAClaudeMemDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello, not a database\n"), 0o644)
	other := filepath.Join(dir, "other.db")
	raw, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE things (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for _, p := range []string{text, other} {
		if _, err := claudemem.Open(ctx, p); !errors.Is(err, claudemem.ErrNotClaudeMem) {
			t.Errorf("%s: got %v, want ErrNotClaudeMem", filepath.Base(p), err)
		}
	}
	if _, err := claudemem.Open(ctx, filepath.Join(dir, "absent.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: got %v", err)
	}
}

type readResult struct {
	counts   claudemem.Counts
	sessions []claudemem.Session
	obs      []claudemem.Observation
	sums     []claudemem.Summary
}

func readAll(t *testing.T, db *claudemem.DB, project string) readResult {
	t.Helper()
	ctx := context.Background()
	var r readResult
	if err := db.Sessions(ctx, project, func(s claudemem.Session) error { r.sessions = append(r.sessions, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Prompts(ctx, project, func(claudemem.Prompt) error { r.counts.Prompts++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Observations(ctx, project, func(o claudemem.Observation) error { r.obs = append(r.obs, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Summaries(ctx, project, func(m claudemem.Summary) error { r.sums = append(r.sums, m); return nil }); err != nil {
		t.Fatal(err)
	}
	r.counts.Sessions, r.counts.Observations, r.counts.Summaries = len(r.sessions), len(r.obs), len(r.sums)
	return r
}

func TestGeneratedDatabaseReads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "big.db")
	claudememtest.Generate(t, path, "gen-project", 20, 50)
	db := openDB(t, path)
	c, err := db.Count(ctx, "gen-project")
	if err != nil || c != (claudemem.Counts{Sessions: 20, Prompts: 20, Observations: 1000, Summaries: 20}) {
		t.Fatalf("generated %+v, %v", c, err)
	}
	r := readAll(t, db, "gen-project")
	if r.obs[999].SessionID == "" || len(r.obs[999].FilesRead) != 1 {
		t.Fatalf("generated observation read as %+v", r.obs[999])
	}
}

// rawFixture is a writable copy of claude-mem 13.25.3's database, open as
// plain SQLite (closed at the test's end, or earlier by the test).
func rawFixture(t *testing.T) (path string, raw *sql.DB) {
	t.Helper()
	path = claudememtest.Copy(t, "claude-mem-13.25.3.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return path, raw
}

// openDB opens the claude-mem database at path, closed at the test's end.
func openDB(t testing.TB, path string) *claudemem.DB {
	t.Helper()
	db, err := claudemem.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
