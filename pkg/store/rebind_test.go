package store

import "testing"

func TestRebindNumbersPlaceholdersOutsideQuotes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT a FROM t WHERE a = ? AND b IN (?, ?)`, `SELECT a FROM t WHERE a = $1 AND b IN ($2, $3)`},
		{`SELECT '?', "a?b" FROM t WHERE c = ?`, `SELECT '?', "a?b" FROM t WHERE c = $1`},
		{`SELECT 'it''s?' WHERE x = ?`, `SELECT 'it''s?' WHERE x = $1`},
	} {
		if got := rebind(c.in, []any{1}); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if q := `SELECT 1; SELECT ?`; rebind(q, nil) != q {
		t.Errorf("a statement without arguments was rewritten")
	}
}
