package store

import (
	"context"
	"strings"
)

// Open opens the store a DSN names: "postgres://…" or "postgresql://…" is
// PostgreSQL; "sqlite:PATH" or a plain file path is SQLite.
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"))
	default:
		return OpenSQLite(ctx, dsn)
	}
}
