package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// TestPostgresSearchIndexesWriteThrough checks that the three full-text GIN
// indexes take new rows at once (fastupdate off, migration 11) instead of
// keeping a pending list that every search would scan.
func TestPostgresSearchIndexesWriteThrough(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.StartPostgres(t)
	storetest.Open(t, dsn) // migrates the new database to SchemaVersion
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT relname, coalesce(array_to_string(reloptions, ','), '') FROM pg_class
		WHERE relname IN ('observations_search', 'prompts_search', 'summaries_search') ORDER BY relname`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, opts string
		if err := rows.Scan(&name, &opts); err != nil {
			t.Fatal(err)
		}
		got[name] = opts
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"observations_search", "prompts_search", "summaries_search"} {
		if got[name] != "fastupdate=off" {
			t.Errorf("index %s has options %q, want fastupdate=off", name, got[name])
		}
	}
}
