package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the shared store of a multi-machine deployment: a pgx pool,
// a generated tsvector column with a GIN index for search, and row locks on
// the session cursor so that concurrent writers of one session serialize.
type Postgres struct {
	sqlStore
	pool *pgxpool.Pool
	rd   executor // statements on the pool
	// walkOverGIN weighs a search's two ways to its window (fewMatches);
	// tests set it to force one.
	walkOverGIN float64
}

var _ Store = (*Postgres)(nil)

var postgresDialect = dialect{
	name:              "postgres",
	forUpdate:         " FOR UPDATE",
	anyOf:             " = ANY(?)",
	listRows:          "unnest(CAST(? AS text[])) AS f (value)",
	jsonHasAny:        "jsonb_exists_any(%s, CAST(? AS text[]))",
	lastObservationID: "currval(pg_get_serial_sequence('observations', 'id'))",
}

// migrationLockKey is the pg_advisory_lock key that serializes migrations
// of concurrent opens ("mnemo" in ASCII, then 1).
const migrationLockKey int64 = 0x6d6e656d6f01

// OpenPostgres connects to the database at url (postgres:// or
// postgresql://) and migrates it to SchemaVersion.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: parse url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: connect %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	p := &Postgres{pool: pool, rd: pgExec{pool}, walkOverGIN: walkOverGIN}
	p.sqlStore = sqlStore{d: postgresDialect, db: p}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// Close closes the pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// migrate applies pending migrations under an advisory lock, so that
// concurrent opens of one database migrate it once.
func (p *Postgres) migrate(ctx context.Context) (err error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		conn.Release()
		return fmt.Errorf("store: postgres: migration lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			// Closing the session releases its advisory locks.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("store: postgres: create schema_migrations: %w", err)
	}
	return migrate(ctx, p.d.name, func(ctx context.Context, fn func(executor) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(pgExec{tx}) })
	}, func(m migration) string { return m.postgres })
}

func (p *Postgres) reads() executor { return p.rd }

// write runs fn in a transaction of its own.
func (p *Postgres) write(ctx context.Context, fn func(ctx context.Context, tx executor) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return p.fail("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(ctx, pgExec{tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return p.fail("commit", err)
	}
	return nil
}

// searchSQL ranks with ts_rank over websearch_to_tsquery, over the newest
// matches only (SearchQuery's window): the window is found from the
// indexes without ranking, and ts_rank runs on it alone.
func (p *Postgres) searchSQL(ctx context.Context, q SearchQuery, text string, limit, offset int) (string, []any, bool) {
	f := searchFilters(q, true)
	const from = `observations o, websearch_to_tsquery('english', ?) AS query`
	matches := `SELECT o.id FROM ` + from + ` WHERE o.search @@ query` + f.where
	window := searchWindow(limit, offset)
	win := matches + ` ORDER BY o.id DESC LIMIT ?`
	if p.fewMatches(ctx, matches, append([]any{text}, f.args...), window) {
		// OFFSET 0 fences the matches off from the ORDER BY … LIMIT, so
		// they come from the GIN index rather than a walk of the primary
		// key newest first (fewMatches says why).
		win = `SELECT id FROM (` + matches + ` OFFSET 0) m ORDER BY id DESC LIMIT ?`
	}
	sql := `WITH win AS MATERIALIZED (` + win + `)
		SELECT ` + obsCols + `, ts_rank(o.search, query)::float8 AS rank FROM ` + from + `
		WHERE o.id IN (SELECT id FROM win) ORDER BY rank DESC, o.id DESC LIMIT ? OFFSET ?`
	args := append(append([]any{text}, f.args...), window, text, limit, offset)
	// QueryExecModeExec plans the statement with this query's values, as
	// the window needs: walking the primary key newest first suits common
	// words, the GIN index rare ones, and only the values tell which.
	return sql, append([]any{pgx.QueryExecModeExec}, args...), true
}

// walkOverGIN is what checking one row's text costs on a walk of the
// primary key against taking one match from the GIN index, measured at 100k
// observations (0.47 µs against 1.6 µs a row).
const walkOverGIN = 0.3

// fewMatches says, from the planner's own estimates (EXPLAIN, nothing run),
// whether the window is cheaper taken from the GIN index than by walking
// the primary key newest first. A walk reads about window·rows/m rows to
// find window of m matches, the index m matches: below m² = walkOverGIN ·
// window · rows the index wins. PostgreSQL's cost model misjudges both (its
// text match costs like a comparison, its GIN scans dear), so for two words
// of 3–5k matches at 100k it walked half the table, 20–32 ms against ~6:
// the tail of PostgreSQL's search p99 (docs/ARCHITECTURE.md §12). Without
// an estimate it leaves the choice to the planner.
func (p *Postgres) fewMatches(ctx context.Context, matches string, args []any, window int) bool {
	b := &pgx.Batch{}
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	var rows float64
	b.Queue(`EXPLAIN (FORMAT JSON) `+rebind(matches, args), args...).QueryRow(func(r pgx.Row) error { return r.Scan(&plan) })
	b.Queue(`SELECT reltuples::float8 FROM pg_class WHERE oid = 'observations'::regclass`).QueryRow(func(r pgx.Row) error { return r.Scan(&rows) })
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil || len(plan) == 0 || rows <= 0 {
		return false
	}
	m := plan[0].Plan.Rows
	return m*m < p.walkOverGIN*float64(window)*rows
}

// textMatch matches text against the table's generated tsvector column
// (search), ranked by ts_rank.
func (p *Postgres) textMatch(table, alias, text string) (textMatch, bool) {
	return textMatch{
		from:     `, websearch_to_tsquery('english', ?) AS query`,
		fromArgs: []any{text},
		cond:     alias + `.search @@ query`,
		rank:     `ts_rank(` + alias + `.search, query)::float8`,
	}, true
}

// size is the database's size on disk in bytes.
func (p *Postgres) size(ctx context.Context) (int64, error) {
	var n int64
	err := scanOne(ctx, p.reads(), `SELECT pg_database_size(current_database())`, nil, &n)
	return n, err
}

// Optimize analyzes the database, so the planner's estimates (which the
// search window's plan depends on) reflect a bulk load at once.
func (p *Postgres) Optimize(ctx context.Context) error {
	if _, err := p.pool.Exec(ctx, `ANALYZE`); err != nil {
		return p.fail("optimize", err)
	}
	return nil
}

// pgQuerier is what the pool and a transaction have in common.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// pgExec is PostgreSQL's executor: it numbers the ? placeholders and
// hands times in UTC and lists never nil.
type pgExec struct{ q pgQuerier }

func (x pgExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := x.q.Exec(ctx, rebind(q, args), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (x pgExec) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := x.q.Query(ctx, rebind(q, args), args...)
	if err != nil {
		return nil, err
	}
	return pgRows{r}, nil
}

// send queues the statements in one pgx batch: one round trip.
func (x pgExec) send(ctx context.Context, b []stmt) error {
	batch := &pgx.Batch{}
	for _, st := range b {
		q, dest := st.sql, st.dest
		if st.id != nil {
			q, dest = q+" RETURNING id", []any{st.id}
		}
		qq := batch.Queue(rebind(q, st.args), st.args...)
		if len(dest) > 0 {
			qq.QueryRow(func(row pgx.Row) error { return pgScan(row.Scan, dest) })
		}
	}
	return x.q.SendBatch(ctx, batch).Close()
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Scan(dest ...any) error { return pgScan(r.Rows.Scan, dest) }

func (r pgRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}

// pgScan scans with scan, then puts times in UTC and makes lists non-nil,
// as SQLite's executor reads them.
func pgScan(scan func(dest ...any) error, dest []any) error {
	if err := scan(dest...); err != nil {
		return err
	}
	for _, d := range dest {
		switch d := d.(type) {
		case *time.Time:
			*d = d.UTC()
		case **time.Time:
			if *d != nil {
				t := (*d).UTC()
				*d = &t
			}
		case *[]string:
			if *d == nil {
				*d = []string{}
			}
		}
	}
	return nil
}

// rebound caches rebind's results, up to maxRebound statement texts.
var (
	rebound     sync.Map
	reboundSize atomic.Int32
)

const maxRebound = 1024

// rebind numbers a statement's ? placeholders $1, $2, … as PostgreSQL
// wants them. A ? inside a quoted literal or identifier is left alone, and
// a statement without arguments is sent as written (a migration may hold
// several statements and any text).
func rebind(q string, args []any) string {
	if len(args) == 0 || !strings.Contains(q, "?") {
		return q
	}
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	if reboundSize.Add(1) <= maxRebound {
		rebound.Store(q, out)
	}
	return out
}
