package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// SQLite is the embedded store: one file, WAL journal, FTS5 search. Writes
// go through a single connection whose transactions begin IMMEDIATE, so
// they are serialized in this process and against other processes on the
// same file, and concurrent ones share commits (groupCommit); reads use a
// separate read-only pool that WAL lets run beside the writer. Times are
// stored as microseconds since the epoch and lists as JSON text.
type SQLite struct {
	sqlStore
	w    *sql.DB  // the single writer connection
	r    *sql.DB  // read-only pool (the writer itself for :memory:)
	rd   executor // statements on r
	path string
	gc   *groupCommit
}

var _ Store = (*SQLite)(nil)

var sqliteDialect = dialect{
	name:              "sqlite",
	anyOf:             " IN (SELECT value FROM json_each(?))",
	listRows:          "json_each(?) AS f",
	jsonHasAny:        "EXISTS (SELECT 1 FROM json_each(%s) c WHERE c.value IN (SELECT value FROM json_each(?)))",
	lastObservationID: "last_insert_rowid()", // a trigger's inserts do not change it
	bulkInsert:        sqliteBulkInsert,
	bulkIndexed: `INSERT INTO observations_fts (rowid, title, subtitle, narrative, facts, concepts, project_key)
		SELECT id, title, subtitle, narrative, facts, concepts, project_key FROM observations WHERE id > ?`,
}

// sqliteBulkInsert writes rows into table's cols with multi-row INSERT …
// VALUES statements: binding the values directly costs the writer less
// than handing them over as one JSON parameter SQLite parses and picks
// apart (15% of a claude-mem import's writer time). A statement holds as
// many rows as SQLite's limit on bound parameters allows, or a power of
// two fewer, so a table's statements are a few texts the writer prepares
// once, whatever the batches' sizes.
func sqliteBulkInsert(table string, cols []string, rows [][]any, tail string) []stmt {
	per := max(1, sqliteMaxParams/len(cols))
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	var out []stmt
	for len(rows) > 0 {
		n := per
		if len(rows) < per {
			n = 1 << (bits.Len(uint(len(rows))) - 1)
		}
		var q strings.Builder
		q.Grow(len(head) + n*(len(one)+2) + len(tail) + 1)
		q.WriteString(head)
		args := make([]any, 0, n*len(cols))
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(one)
			args = append(args, r...)
		}
		if tail != "" {
			q.WriteString(" " + tail)
		}
		out = append(out, stmt{sql: q.String(), args: args})
		rows = rows[n:]
	}
	return out
}

// sqliteMaxParams is how many parameters one statement binds at most
// (SQLite's SQLITE_MAX_VARIABLE_NUMBER is 32766).
const sqliteMaxParams = 32766

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, the rest as it is. Text that is not valid
// UTF-8 goes through encoding/json, which replaces what is invalid.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		j, _ := json.Marshal(s) // a string always encodes
		return append(b, j...)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// OpenSQLite opens (creating when missing) the SQLite store at path and
// migrates it to SchemaVersion. ":memory:" gives a private in-memory store
// on one connection, for tests.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: sqlite: path %q must not contain '?' or '#'", path)
	}
	const common = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &SQLite{w: w, r: w, path: path}
	s.sqlStore = sqlStore{d: sqliteDialect, db: s}
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	if path != ":memory:" {
		r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("store: open sqlite readers %s: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		s.r = r
	}
	s.rd = sqliteExec{s.r}
	s.startGroupCommit()
	return s, nil
}

// Close stops taking writes, finishes the group being committed and closes
// both pools.
func (s *SQLite) Close() error {
	s.stopGroupCommit()
	var err error
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

// migrate applies the migrations, each in an IMMEDIATE transaction, so
// that concurrent opens of one file wait for each other.
func (s *SQLite) migrate(ctx context.Context) error {
	// A database already at SchemaVersion needs no write lock: opening it
	// must not wait for (or fail behind) another process's write
	// transaction, which may be long or, in a stopped process, endless.
	var v sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err == nil && v.Int64 == SchemaVersion {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: sqlite: create schema_migrations: %w", err)
	}
	return migrate(ctx, s.d.name, func(ctx context.Context, fn func(executor) error) error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := fn(sqliteExec{tx}); err != nil {
			return err
		}
		return tx.Commit()
	}, func(m migration) string { return m.sqlite })
}

func (s *SQLite) reads() executor { return s.rd }

// write runs fn in the committer's next shared transaction (groupCommit).
func (s *SQLite) write(ctx context.Context, fn func(ctx context.Context, tx executor) error) error {
	return s.submit(ctx, fn)
}

// searchSQL ranks with bm25 through FTS5's rank, over the newest matches
// only (SearchQuery): FTS5 walks the rowids newest first cheaply and takes
// the window's floor as a rowid bound, so bm25 runs on at most the window.
// The project is narrowed inside the index (ftsScoped); the window's own
// walk and the ranking join observations only for filters the index does
// not hold, and only the page's rows are read in full.
func (s *SQLite) searchSQL(_ context.Context, q SearchQuery, text string, limit, offset int) (string, []any, bool) {
	match := ftsQuery(text)
	if match == "" {
		return "", nil, false
	}
	match = ftsScoped(match, q.Project)
	f := searchFilters(q, false)
	windowFrom, rankFrom := `observations_fts w`, `observations_fts f`
	if f.where != "" {
		windowFrom += ` JOIN observations o ON o.id = w.rowid`
		rankFrom += ` JOIN observations o ON o.id = f.rowid`
	}
	// The page's IDs and scores first (a subquery with LIMIT is never
	// flattened into the join), then their rows, in the same order.
	sql := `SELECT ` + obsCols + `, t.score FROM (
		SELECT f.rowid AS id, -f.rank AS score FROM ` + rankFrom + `
		WHERE f.observations_fts MATCH ? AND f.rowid >= coalesce((
			SELECT w.rowid FROM ` + windowFrom + `
			WHERE w.observations_fts MATCH ?` + f.where + `
			ORDER BY w.rowid DESC LIMIT 1 OFFSET ?), 0)` + f.where + `
		ORDER BY f.rank, f.rowid DESC LIMIT ? OFFSET ?) t
		JOIN observations o ON o.id = t.id
		ORDER BY t.score DESC, o.id DESC`
	args := append([]any{match, match}, f.args...)
	args = append(args, searchWindow(limit, offset)-1)
	args = append(args, f.args...)
	return sql, append(args, limit, offset), true
}

// textMatch matches text in the table's FTS5 index (observations_fts,
// prompts_fts or summaries_fts, joined on its rowid), ranked by bm25; an
// observation's text only, not its project key (ftsScoped).
func (s *SQLite) textMatch(table, alias, text string) (textMatch, bool) {
	match := ftsQuery(text)
	if match == "" {
		return textMatch{}, false
	}
	if table == "observations" {
		match = ftsScoped(match, "")
	}
	return textMatch{
		from:     ` JOIN ` + table + `_fts f ON f.rowid = ` + alias + `.id`,
		cond:     `f.` + table + `_fts MATCH ?`,
		condArgs: []any{match},
		rank:     `-f.rank`,
	}, true
}

// size is the database's pages plus its write-ahead log's, in bytes.
func (s *SQLite) size(ctx context.Context) (int64, error) {
	var n int64
	if err := scanOne(ctx, s.reads(), `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`, nil, &n); err != nil {
		return 0, err
	}
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		n += fi.Size()
	}
	return n, nil
}

// Optimize merges the full-text index into one segment and lets SQLite
// refresh its statistics (PRAGMA optimize).
func (s *SQLite) Optimize(ctx context.Context) error {
	for _, q := range []string{`INSERT INTO observations_fts (observations_fts) VALUES ('optimize')`, `PRAGMA optimize`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return s.fail("optimize", err)
		}
	}
	return nil
}

// sqlQuerier is what *sql.DB, *sql.Tx and the committer's sqliteTx have
// in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// sqliteExec is SQLite's executor: it stores times as microseconds and
// lists as JSON text, and reads them back.
type sqliteExec struct{ q sqlQuerier }

func (x sqliteExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := x.q.ExecContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (x sqliteExec) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := x.q.QueryContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqliteRows{r}, nil
}

// send runs the statements one after the other: in process, a batch saves
// no round trip.
func (x sqliteExec) send(ctx context.Context, b []stmt) error {
	for i, st := range b {
		var err error
		switch {
		case st.id != nil:
			var r sql.Result
			if r, err = x.q.ExecContext(ctx, st.sql, sqliteArgs(st.args)...); err == nil {
				*st.id, err = r.LastInsertId()
			}
		case len(st.dest) > 0:
			err = scanOne(ctx, x, st.sql, st.args, st.dest...)
		default:
			_, err = x.exec(ctx, st.sql, st.args...)
		}
		if err != nil {
			return fmt.Errorf("statement %d of %d: %w", i+1, len(b), err)
		}
	}
	return nil
}

// sqliteArgs converts Go values to SQLite's column types.
func sqliteArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case time.Time:
			out[i] = a.UnixMicro()
		case *time.Time:
			if a != nil {
				out[i] = a.UnixMicro()
			}
		case []string:
			out[i] = jsonStrings(a)
		case []int64:
			out[i] = jsonText(a, []int64{})
		default:
			out[i] = a
		}
	}
	return out
}

// jsonStrings encodes a list of strings as JSON, empty when nil (as
// jsonText does, without its reflection: lists are in every row written).
func jsonStrings(l []string) string {
	b := make([]byte, 0, 64)
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return string(append(b, ']'))
}

// jsonText encodes a list as JSON, empty when nil.
func jsonText[T any](l []T, empty []T) string {
	if l == nil {
		l = empty
	}
	b, err := json.Marshal(l)
	if err != nil { // lists of strings and integers always marshal
		return "[]"
	}
	return string(b)
}

// sqliteRows reads times and lists back into Go values.
type sqliteRows struct{ *sql.Rows }

func (r sqliteRows) Scan(dest ...any) error {
	tmp := make([]any, len(dest))
	for i, d := range dest {
		switch d.(type) {
		case *time.Time:
			tmp[i] = new(int64)
		case **time.Time:
			tmp[i] = new(sql.NullInt64)
		case *[]string:
			tmp[i] = new(string)
		default:
			tmp[i] = d
		}
	}
	if err := r.Rows.Scan(tmp...); err != nil {
		return err
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *time.Time:
			*d = time.UnixMicro(*tmp[i].(*int64)).UTC()
		case **time.Time:
			*d = nil
			if n := tmp[i].(*sql.NullInt64); n.Valid {
				t := time.UnixMicro(n.Int64).UTC()
				*d = &t
			}
		case *[]string:
			l := []string{}
			if s := *tmp[i].(*string); s != "" {
				if err := json.Unmarshal([]byte(s), &l); err != nil {
					return fmt.Errorf("decode list: %w", err)
				}
			}
			*d = l
		}
	}
	return nil
}
