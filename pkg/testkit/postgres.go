package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the server tests use when MNEMO_TEST_PG_URL is unset
// and scripts/deps/20-postgresql.sh wrote no URL: a local PostgreSQL with
// trust authentication for the postgres user.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresURLFile is where scripts/deps/20-postgresql.sh writes the URL it
// gave a password when the local server refuses trust authentication, under
// the user's cache directory ($XDG_CACHE_HOME or ~/.cache).
const PostgresURLFile = "mnemo/test-pg-url"

// PostgresServerURL returns the URL of the server tests create their
// databases on: MNEMO_TEST_PG_URL, else the URL in PostgresURLFile, else
// DefaultPostgresURL.
func PostgresServerURL() string {
	if u := os.Getenv("MNEMO_TEST_PG_URL"); u != "" {
		return u
	}
	if dir, err := os.UserCacheDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(dir, PostgresURLFile)); err == nil {
			if u := strings.TrimSpace(string(b)); u != "" {
				return u
			}
		}
	}
	return DefaultPostgresURL
}

// StartPostgres creates a fresh, empty database (mnemo_t_<random hex>) on
// the test server and returns its URL; t.Cleanup drops it WITH (FORCE). The
// test fails, saying what to install or set, when the server is unreachable
// (never a silent skip).
func StartPostgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, drop, err := CreatePostgresDB(ctx)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("testkit: %v", err)
		}
	})
	return dbURL
}

// CreatePostgresDB is StartPostgres for code without a testing.TB, such as a
// TestMain or a benchmark's shared fixture: it returns the new database's
// URL and the function that drops it.
func CreatePostgresDB(ctx context.Context) (dbURL string, drop func(context.Context) error, err error) {
	server := PostgresServerURL()
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("MNEMO_TEST_PG_URL must be a postgres:// URL, got %q", server)
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL is not reachable at %s: %w\n"+
			"Tests need a real PostgreSQL server: `bash scripts/deps.sh test` installs and starts one (the test command runs it; "+
			"the default URL expects trust auth for user postgres on 127.0.0.1:5432, else the script writes a URL with a password "+
			"to the user cache dir's %s) or set MNEMO_TEST_PG_URL to a server where the user may CREATE DATABASE", u.Redacted(), err, PostgresURLFile)
	}
	defer func() { _ = admin.Close(context.WithoutCancel(ctx)) }()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("random database name: %w", err)
	}
	name := "mnemo_t_" + hex.EncodeToString(b)
	// template0 is never connected to, so concurrent creates do not collide
	// on template1.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", nil, fmt.Errorf("create database %s on %s: %w", name, u.Redacted(), err)
	}
	dbu := *u
	dbu.Path = "/" + name
	drop = func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return dbu.String(), drop, nil
}
