package store

import (
	"context"
	"fmt"
)

// sqlStore is the Store both databases share: every rule and statement is
// here once, and the driver only runs them (driver.go).
type sqlStore struct {
	d  dialect
	db driver
}

// fail wraps err with the database's name and what was being done.
func (s *sqlStore) fail(what string, err error) error {
	return fmt.Errorf("store: %s: %s: %w", s.d.name, what, err)
}

// storable reports whether s can be a stored text value: PostgreSQL text
// holds no NUL byte or invalid UTF-8, and no store keeps such a value (IDs
// are refused, content cleaned). A lookup by one finds nothing.
func storable(s string) bool {
	return clean(s) == s
}

// storableIDs keeps the IDs that can be stored, in order.
func storableIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if storable(id) {
			out = append(out, id)
		}
	}
	return out
}

// SchemaVersion returns the highest migration applied to the database.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := scanOne(ctx, s.db.reads(), `SELECT coalesce(max(version), 0) FROM schema_migrations`, nil, &v); err != nil {
		return 0, s.fail("schema version", err)
	}
	return v, nil
}
