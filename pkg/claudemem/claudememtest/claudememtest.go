// Package claudememtest prepares claude-mem databases for tests and
// benchmarks: copies of the real fixtures claude-mem 13.25.3 wrote, the same
// with the columns older releases lack, and large databases generated with
// the fixture's own schema.
package claudememtest

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/testkit"
	_ "modernc.org/sqlite" // the pure-Go "sqlite" driver
)

// Copy copies the fixture database name (e.g. "claude-mem-13.25.3.db") into
// a temporary directory and returns the copy's path, so a test may write it.
func Copy(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	testkit.CopyFile(t, filepath.Join(testkit.FixtureDir(t, "claude-mem"), name), path, 0o644)
	return path
}

// newerColumns are columns claude-mem added in later releases, with the
// indexes that must go before them.
var newerColumns = []struct{ table, column string }{
	{"sdk_sessions", "platform_source"},
	{"observations", "content_hash"},
	{"observations", "merged_into_project"},
	{"observations", "discovery_tokens"},
	{"session_summaries", "merged_into_project"},
	{"session_summaries", "discovery_tokens"},
}

var newerIndexes = []string{
	"idx_observations_content_hash", "ux_observations_session_hash", "idx_sdk_sessions_platform_source",
	"ux_sdk_sessions_platform_content", "idx_observations_merged_into", "idx_summaries_merged_into",
}

// DropNewerColumns turns the database at path into what an older claude-mem
// release wrote, and returns the dropped columns as table.column.
func DropNewerColumns(t testing.TB, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, ix := range newerIndexes {
		if _, err := db.Exec("DROP INDEX IF EXISTS " + ix); err != nil {
			t.Fatal(err)
		}
	}
	var dropped []string
	for _, c := range newerColumns {
		if _, err := db.Exec(fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", c.table, c.column)); err != nil {
			t.Fatalf("drop %s.%s: %v", c.table, c.column, err)
		}
		dropped = append(dropped, c.table+"."+c.column)
	}
	return dropped
}

// Generate writes a claude-mem database at path with the fixture's own
// schema (claude-mem 13.25.3's migrations) holding sessions × perSession
// observations, one prompt and one summary per session, in project, for
// import benchmarks and tests that need volume.
func Generate(t testing.TB, path, project string, sessions, perSession int) {
	t.Helper()
	src := Copy(t, "claude-mem-13.25.3.db")
	if err := os.Rename(src, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"observations", "session_summaries", "user_prompts", "sdk_sessions"} {
		if _, err := tx.Exec("DELETE FROM " + table); err != nil {
			t.Fatal(err)
		}
	}
	const base = int64(1_790_000_000_000)
	for s := 0; s < sessions; s++ {
		content := fmt.Sprintf("gen-%06d-0000-4000-8000-000000000000", s)
		memory := "mem-" + content
		at := base + int64(s)*60_000
		if _, err := tx.Exec(`INSERT INTO sdk_sessions (content_session_id, memory_session_id, project, platform_source, user_prompt,
			started_at, started_at_epoch, completed_at_epoch, status) VALUES (?, ?, ?, 'claude', ?, '', ?, ?, 'completed')`,
			content, memory, project, fmt.Sprintf("Session %d: make the retry budget %d configurable", s, s), at, at+50_000); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO user_prompts (content_session_id, prompt_number, prompt_text, created_at, created_at_epoch)
			VALUES (?, 1, ?, '', ?)`, content, fmt.Sprintf("make the retry budget %d configurable", s), at); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perSession; i++ {
			if _, err := tx.Exec(`INSERT INTO observations (memory_session_id, project, type, title, subtitle, narrative, facts, concepts,
				files_read, files_modified, prompt_number, created_at, created_at_epoch, discovery_tokens, content_hash)
				VALUES (?, ?, 'discovery', ?, ?, ?, ?, '["how-it-works"]', ?, '[]', 1, '', ?, ?, ?)`,
				memory, project, fmt.Sprintf("Bash ran marker s%dx%d", s, i), "ran a command in the retry module",
				fmt.Sprintf("The command for step %d of session %d printed its marker and exited 0.", i, s),
				fmt.Sprintf(`["The Bash tool ran with marker s%dx%d","Working directory was /tmp/gen"]`, s, i),
				fmt.Sprintf(`["src/retry/budget%d.go"]`, i%50), at+int64(i)*10, 1000+i, fmt.Sprintf("%016x", uint64(s)<<20|uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO session_summaries (memory_session_id, project, request, investigated, learned, completed,
			next_steps, notes, files_read, files_edited, prompt_number, created_at, created_at_epoch, discovery_tokens)
			VALUES (?, ?, ?, 'the retry module', 'budgets are per call', 'made it configurable', 'none', '', '[]', '[]', 1, '', ?, 5000)`,
			memory, project, fmt.Sprintf("make the retry budget %d configurable", s), at+55_000); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
}
