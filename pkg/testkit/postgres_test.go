package testkit

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The URL scripts/deps/20-postgresql.sh writes is what the tests use when
// MNEMO_TEST_PG_URL is unset, and the variable still beats it.
func TestPostgresServerURLReadsTheDepsScriptsFile(t *testing.T) {
	server := PostgresServerURL()
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("MNEMO_TEST_PG_URL", "")

	if got := PostgresServerURL(); got != DefaultPostgresURL {
		t.Fatalf("no variable, no file: got %q, want the default %q", got, DefaultPostgresURL)
	}

	// The server the suite runs against, marked so the test can tell that
	// the connection came from the file.
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "mnemo_from_file")
	u.RawQuery = q.Encode()
	fromFile := u.String()
	if err := os.MkdirAll(filepath.Join(cache, filepath.Dir(PostgresURLFile)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, PostgresURLFile), []byte(fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := PostgresServerURL(); got != fromFile {
		t.Fatalf("with the file: got %q, want %q", got, fromFile)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, drop, err := CreatePostgresDB(ctx)
	if err != nil {
		t.Fatalf("CreatePostgresDB with the file's URL: %v", err)
	}
	defer func() {
		if err := drop(context.WithoutCancel(ctx)); err != nil {
			t.Error(err)
		}
	}()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var app string
	if err := conn.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil {
		t.Fatal(err)
	}
	if app != "mnemo_from_file" {
		t.Fatalf("the new database's URL does not come from the file: application_name %q", app)
	}

	t.Setenv("MNEMO_TEST_PG_URL", server)
	if got := PostgresServerURL(); got != server {
		t.Fatalf("MNEMO_TEST_PG_URL must beat the file: got %q, want %q", got, server)
	}
}
