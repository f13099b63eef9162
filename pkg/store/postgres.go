package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the shared store of a multi-machine deployment: a pgx pool,
// a generated tsvector column with a GIN index for search, and row locks on
// the session cursor so that concurrent writers of one session serialize.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ Store = (*Postgres)(nil)

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
	p := &Postgres{pool: pool}
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
	for _, m := range migrations {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
			return fmt.Errorf("store: postgres: migration %d: %w", m.version, err)
		}
		if done {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// An empty migration changes nothing in this dialect; its
			// version is still recorded so both stores number alike.
			if m.postgres != "" {
				if _, err := tx.Exec(ctx, m.postgres); err != nil {
					return fmt.Errorf("store: postgres: migration %d (%s): %w", m.version, m.name, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("store: postgres: record migration %d: %w", m.version, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the database.
func (p *Postgres) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := p.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: postgres: schema version: %w", err)
	}
	return v, nil
}

// pgArgs numbers query arguments as they are added.
type pgArgs []any

func (a *pgArgs) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// storable reports whether s can be a PostgreSQL text value; a lookup by a
// value that cannot be stored finds nothing.
func storable(s string) bool {
	return clean(s) == s
}

// Apply writes one unit in one transaction that holds the session's cursor
// row lock: concurrent appliers of one session run one after the other.
func (p *Postgres) Apply(ctx context.Context, u Unit) (ApplyResult, error) {
	now := utc(time.Now())
	n, err := normalizeUnit(u, now)
	if err != nil {
		return ApplyResult{}, err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("store: postgres: begin apply: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	res, err := p.apply(ctx, tx, &n, now)
	if err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return ApplyResult{}, fmt.Errorf("store: postgres: commit apply: %w", err)
	}
	return res, nil
}

func (p *Postgres) apply(ctx context.Context, tx pgx.Tx, n *Unit, now time.Time) (ApplyResult, error) {
	// The first writer of a session creates its cursor row; a concurrent
	// one waits on the insert, then on the row lock.
	if _, err := tx.Exec(ctx, `INSERT INTO session_cursors (session_id, updated_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, n.SessionID, now); err != nil {
		return ApplyResult{}, fmt.Errorf("store: postgres: create cursor: %w", err)
	}
	var lastSeq, fence int64
	if err := tx.QueryRow(ctx, `SELECT last_seq, fence FROM session_cursors WHERE session_id = $1 FOR UPDATE`, n.SessionID).Scan(&lastSeq, &fence); err != nil {
		return ApplyResult{}, fmt.Errorf("store: postgres: lock cursor: %w", err)
	}
	if n.Fence < fence {
		return ApplyResult{}, fmt.Errorf("%w: session %s: unit fence %d, stored fence %d", ErrStaleFence, n.SessionID, n.Fence, fence)
	}
	eventIDs := make([]string, len(n.Events))
	for i, e := range n.Events {
		eventIDs[i] = e.EventID
	}
	known, err := pgAppliedSeqs(ctx, tx, eventIDs)
	if err != nil {
		return ApplyResult{}, err
	}
	if len(known) == len(eventIDs) {
		// Every event is applied already. When they come back under newer
		// sequences (re-published after the dedupe window), the cursor
		// moves past them so the session goes on; nothing else is written.
		last := n.Events[len(n.Events)-1].Seq
		if last <= uint64(lastSeq) {
			return ApplyResult{Duplicate: true, LastSeq: uint64(lastSeq)}, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE session_cursors SET last_seq = $2, fence = $3, updated_at = $4 WHERE session_id = $1`,
			n.SessionID, int64(last), n.Fence, now); err != nil {
			return ApplyResult{}, fmt.Errorf("store: postgres: advance cursor past duplicates: %w", err)
		}
		return ApplyResult{Duplicate: true, LastSeq: last}, nil
	}
	if len(known) > 0 {
		return ApplyResult{}, fmt.Errorf("%w: session %s: %d of %d events", ErrPartialDuplicate, n.SessionID, len(known), len(eventIDs))
	}
	if n.Events[0].Seq <= uint64(lastSeq) {
		return ApplyResult{}, fmt.Errorf("%w: session %s: seq %d at or below cursor %d", ErrCursorBackwards, n.SessionID, n.Events[0].Seq, lastSeq)
	}
	first, last := n.Events[0].AcceptedAt, n.Events[len(n.Events)-1].AcceptedAt

	cur, err := pgSessionRow(ctx, tx, n.SessionID, true)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ApplyResult{}, err
	}
	project := unitProject(n)
	if cur != nil {
		project = cur.Project
	}
	b := &pgx.Batch{}
	if n.Session != nil || len(n.Prompts) > 0 || (cur == nil && hasContent(n)) {
		m := mergeSession(n.SessionID, cur, n.Session, unitProject(n), maxPromptNumber(n.Prompts), first, last)
		b.Queue(`INSERT INTO sessions (id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET project = excluded.project, agent = excluded.agent,
				cwd = excluded.cwd, status = excluded.status, started_at = excluded.started_at,
				ended_at = excluded.ended_at, last_event_at = excluded.last_event_at,
				prompt_count = excluded.prompt_count`,
			m.ID, m.Project, m.Agent, m.Cwd, m.Status, m.StartedAt, m.EndedAt, m.LastEventAt, m.PromptCount)
		project = m.Project
	}
	if n.ReplaceObservations {
		b.Queue(`DELETE FROM observations WHERE session_id = $1`, n.SessionID)
		b.Queue(`DELETE FROM summaries WHERE session_id = $1`, n.SessionID)
	}
	for _, x := range n.Prompts {
		b.Queue(`INSERT INTO prompts (session_id, number, text, at, private) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (session_id, number) DO UPDATE SET text = excluded.text, private = excluded.private`,
			x.SessionID, x.Number, x.Text, x.At, x.Private)
	}
	res := ApplyResult{LastSeq: n.Events[len(n.Events)-1].Seq}
	if len(n.Observations) > 0 {
		res.ObservationIDs = make([]int64, len(n.Observations))
	}
	for i := range n.Observations {
		o := &n.Observations[i]
		if o.Project == "" {
			o.Project = project
		}
		queueObservation(b, o).QueryRow(func(row pgx.Row) error { return row.Scan(&res.ObservationIDs[i]) })
	}
	if m := n.Summary; m != nil {
		if m.Project == "" {
			m.Project = project
		}
		b.Queue(`INSERT INTO summaries (session_id, project, request, investigated, learned, completed, next_steps,
			notes, prompt_number, accepted_at, source_event_ids, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			m.SessionID, m.Project, m.Request, m.Investigated, m.Learned, m.Completed, m.NextSteps, m.Notes,
			m.PromptNumber, m.AcceptedAt, m.SourceEventIDs, m.CreatedAt).
			QueryRow(func(row pgx.Row) error { return row.Scan(&res.SummaryID) })
	}
	for _, x := range n.Usage {
		if x.Project == "" {
			x.Project = project
		}
		b.Queue(`INSERT INTO llm_usage (session_id, project, provider, model, input_tokens, output_tokens, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			x.SessionID, x.Project, x.Provider, x.Model, x.InputTokens, x.OutputTokens, x.At)
	}
	for i := range n.DeadLetters {
		d := &n.DeadLetters[i]
		b.Queue(pgInsertDeadLetter, d.EventID, d.SessionID, int64(d.Seq), d.Reason, d.Deliveries, d.Payload, d.At, d.ReplayedAs)
	}
	if c := n.Conversation; c != nil {
		b.Queue(`INSERT INTO conversations (session_id, provider, state, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (session_id) DO UPDATE SET provider = excluded.provider, state = excluded.state, updated_at = excluded.updated_at`,
			c.SessionID, c.Provider, c.State, c.UpdatedAt)
	}
	seqs, kinds, accepted, dead := make([]int64, len(n.Events)), make([]string, len(n.Events)), make([]time.Time, len(n.Events)), make([]bool, len(n.Events))
	for i, e := range n.Events {
		seqs[i], kinds[i], accepted[i], dead[i] = int64(e.Seq), e.Kind, e.AcceptedAt, e.Dead
	}
	b.Queue(`INSERT INTO applied_events (event_id, session_id, seq, kind, accepted_at, dead, applied_at)
		SELECT e, $2, s, k, a, d, $7 FROM unnest($1::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::boolean[]) AS t (e, s, k, a, d)`,
		eventIDs, n.SessionID, seqs, kinds, accepted, dead, now)
	b.Queue(`UPDATE session_cursors SET last_seq = $2, fence = $3, updated_at = $4 WHERE session_id = $1`,
		n.SessionID, int64(res.LastSeq), n.Fence, now)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return ApplyResult{}, fmt.Errorf("store: postgres: write unit: %w", err)
	}
	return res, nil
}

// queueObservation queues the insert of an observation and its file rows as
// one statement returning the new ID.
func queueObservation(b *pgx.Batch, o *Observation) *pgx.QueuedQuery {
	return b.Queue(`WITH o AS (
			INSERT INTO observations (session_id, project, type, title, subtitle, narrative, facts, concepts,
				files_read, files_modified, prompt_number, accepted_at, source_event_ids, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			RETURNING id, project, accepted_at
		), f AS (
			INSERT INTO observation_files (observation_id, path, project, accepted_at)
			SELECT o.id, p, o.project, o.accepted_at FROM o, unnest($15::text[]) AS p
		)
		SELECT id FROM o`,
		o.SessionID, o.Project, o.Type, o.Title, o.Subtitle, o.Narrative, o.Facts, o.Concepts,
		o.FilesRead, o.FilesModified, o.PromptNumber, o.AcceptedAt, o.SourceEventIDs, o.CreatedAt, filesOf(o))
}

const pgInsertDeadLetter = `INSERT INTO dead_letters (event_id, session_id, seq, reason, deliveries, payload, at, replayed_as)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id, seq) DO NOTHING`

// pgQuerier is what the pool, a connection and a transaction have in common.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func pgAppliedSeqs(ctx context.Context, q pgQuerier, eventIDs []string) (map[string]uint64, error) {
	out := make(map[string]uint64)
	ids := make([]string, 0, len(eventIDs))
	for _, id := range eventIDs {
		if storable(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT event_id, seq FROM applied_events WHERE event_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: look up applied events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("store: postgres: scan applied event: %w", err)
		}
		out[id] = uint64(seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: look up applied events: %w", err)
	}
	return out, nil
}

// Cursor returns the session's cursor, or a zero Cursor.
func (p *Postgres) Cursor(ctx context.Context, sessionID string) (Cursor, error) {
	if !storable(sessionID) {
		return Cursor{}, nil
	}
	var c Cursor
	var seq int64
	err := p.pool.QueryRow(ctx, `SELECT session_id, last_seq, fence FROM session_cursors WHERE session_id = $1`, sessionID).
		Scan(&c.SessionID, &seq, &c.Fence)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Cursor{}, nil
	case err != nil:
		return Cursor{}, fmt.Errorf("store: postgres: read cursor: %w", err)
	}
	c.LastSeq = uint64(seq)
	return c, nil
}

// AppliedSeqs returns which of the event IDs are applied, with their seqs.
func (p *Postgres) AppliedSeqs(ctx context.Context, eventIDs []string) (map[string]uint64, error) {
	return pgAppliedSeqs(ctx, p.pool, eventIDs)
}

const pgSessionCols = `id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count`

func scanPgSession(row pgx.Row) (Session, error) {
	var x Session
	var ended *time.Time
	if err := row.Scan(&x.ID, &x.Project, &x.Agent, &x.Cwd, &x.Status, &x.StartedAt, &ended, &x.LastEventAt, &x.PromptCount); err != nil {
		return Session{}, err
	}
	x.StartedAt, x.LastEventAt = x.StartedAt.UTC(), x.LastEventAt.UTC()
	if ended != nil {
		t := ended.UTC()
		x.EndedAt = &t
	}
	return x, nil
}

func pgSessionRow(ctx context.Context, q pgQuerier, id string, lock bool) (*Session, error) {
	if !storable(id) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	sql := `SELECT ` + pgSessionCols + ` FROM sessions WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	x, err := scanPgSession(q.QueryRow(ctx, sql, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
	case err != nil:
		return nil, fmt.Errorf("store: postgres: read session: %w", err)
	}
	return &x, nil
}

// Session returns one session, ErrNotFound when there is none.
func (p *Postgres) Session(ctx context.Context, id string) (Session, error) {
	x, err := pgSessionRow(ctx, p.pool, id, false)
	if err != nil {
		return Session{}, err
	}
	return *x, nil
}

// Sessions lists sessions, most recently active first.
func (p *Postgres) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	if !storable(f.Project) || !storable(f.Status) {
		return []Session{}, nil
	}
	var a pgArgs
	var where []string
	if f.Project != "" {
		where = append(where, "project = "+a.add(f.Project))
	}
	if f.Status != "" {
		where = append(where, "status = "+a.add(f.Status))
	}
	q := `SELECT ` + pgSessionCols + ` FROM sessions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY last_event_at DESC, id LIMIT ` + a.add(clamp(f.Limit, defaultSessionLimit, maxSessionLimit)) +
		` OFFSET ` + a.add(offsetOf(f.Offset))
	rows, err := p.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list sessions: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		x, err := scanPgSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: scan session: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: list sessions: %w", err)
	}
	return out, nil
}

// Prompts returns a session's prompts by number.
func (p *Postgres) Prompts(ctx context.Context, sessionID string) ([]Prompt, error) {
	out := []Prompt{}
	if !storable(sessionID) {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT session_id, number, text, at, private FROM prompts WHERE session_id = $1 ORDER BY number`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list prompts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Prompt
		if err := rows.Scan(&x.SessionID, &x.Number, &x.Text, &x.At, &x.Private); err != nil {
			return nil, fmt.Errorf("store: postgres: scan prompt: %w", err)
		}
		x.At = x.At.UTC()
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: list prompts: %w", err)
	}
	return out, nil
}

const pgObsCols = `o.id, o.session_id, o.project, o.type, o.title, o.subtitle, o.narrative, o.facts, o.concepts,
	o.files_read, o.files_modified, o.prompt_number, o.accepted_at, o.source_event_ids, o.created_at`

func scanPgObservation(row pgx.Row, extra ...any) (Observation, error) {
	var o Observation
	dest := append([]any{&o.ID, &o.SessionID, &o.Project, &o.Type, &o.Title, &o.Subtitle, &o.Narrative,
		&o.Facts, &o.Concepts, &o.FilesRead, &o.FilesModified, &o.PromptNumber, &o.AcceptedAt, &o.SourceEventIDs, &o.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Observation{}, err
	}
	o.AcceptedAt, o.CreatedAt = o.AcceptedAt.UTC(), o.CreatedAt.UTC()
	for _, l := range []*[]string{&o.Facts, &o.Concepts, &o.FilesRead, &o.FilesModified, &o.SourceEventIDs} {
		if *l == nil {
			*l = []string{}
		}
	}
	return o, nil
}

func (p *Postgres) observations(ctx context.Context, q string, args ...any) ([]Observation, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: query observations: %w", err)
	}
	defer rows.Close()
	out := []Observation{}
	for rows.Next() {
		o, err := scanPgObservation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: scan observation: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: query observations: %w", err)
	}
	return out, nil
}

// SessionObservations returns a session's observations in accept order.
func (p *Postgres) SessionObservations(ctx context.Context, sessionID string) ([]Observation, error) {
	if !storable(sessionID) {
		return []Observation{}, nil
	}
	return p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o WHERE o.session_id = $1 ORDER BY o.accepted_at, o.id`, sessionID)
}

const pgSummaryCols = `id, session_id, project, request, investigated, learned, completed, next_steps, notes,
	prompt_number, accepted_at, source_event_ids, created_at`

func (p *Postgres) summaries(ctx context.Context, q string, args ...any) ([]Summary, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: query summaries: %w", err)
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var m Summary
		if err := rows.Scan(&m.ID, &m.SessionID, &m.Project, &m.Request, &m.Investigated, &m.Learned, &m.Completed,
			&m.NextSteps, &m.Notes, &m.PromptNumber, &m.AcceptedAt, &m.SourceEventIDs, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: postgres: scan summary: %w", err)
		}
		m.AcceptedAt, m.CreatedAt = m.AcceptedAt.UTC(), m.CreatedAt.UTC()
		if m.SourceEventIDs == nil {
			m.SourceEventIDs = []string{}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: query summaries: %w", err)
	}
	return out, nil
}

// SessionSummaries returns a session's summaries, oldest first.
func (p *Postgres) SessionSummaries(ctx context.Context, sessionID string) ([]Summary, error) {
	if !storable(sessionID) {
		return []Summary{}, nil
	}
	return p.summaries(ctx, `SELECT `+pgSummaryCols+` FROM summaries WHERE session_id = $1 ORDER BY accepted_at, id`, sessionID)
}

// Observations returns the observations with the given IDs in ID order;
// unknown IDs are left out.
func (p *Postgres) Observations(ctx context.Context, ids []int64) ([]Observation, error) {
	if len(ids) == 0 {
		return []Observation{}, nil
	}
	return p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o WHERE o.id = ANY($1) ORDER BY o.id`, ids)
}

// ObservationsByFile returns observations that read or modified path,
// newest first, accepted at or after since. An empty project means any.
func (p *Postgres) ObservationsByFile(ctx context.Context, project, path string, since time.Time, limit int) ([]Observation, error) {
	if !storable(project) || !storable(path) {
		return []Observation{}, nil
	}
	var a pgArgs
	q := `SELECT ` + pgObsCols + ` FROM observation_files f JOIN observations o ON o.id = f.observation_id
		WHERE f.path = ` + a.add(path) + ` AND f.accepted_at >= ` + a.add(utc(since))
	if project != "" {
		q += ` AND f.project = ` + a.add(project)
	}
	q += ` ORDER BY f.accepted_at DESC, f.observation_id DESC LIMIT ` + a.add(clamp(limit, defaultFileLimit, maxFileLimit))
	return p.observations(ctx, q, a...)
}

// RecentContext selects the newest observations, then summaries, of a
// project within the token budget. An empty project means all projects.
func (p *Postgres) RecentContext(ctx context.Context, q ContextQuery) (Context, error) {
	if !storable(q.Project) {
		return selectContext(nil, nil, 0), nil
	}
	budget, nObs, nSums := contextLimits(q)
	obsWhere, where, args := "", "", []any{}
	if q.Project != "" {
		obsWhere, where, args = ` WHERE o.project = $2`, ` WHERE project = $2`, []any{q.Project}
	}
	obs, err := p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o`+obsWhere+
		` ORDER BY o.accepted_at DESC, o.id DESC LIMIT $1`, append([]any{nObs}, args...)...)
	if err != nil {
		return Context{}, err
	}
	sums, err := p.summaries(ctx, `SELECT `+pgSummaryCols+` FROM summaries`+where+
		` ORDER BY accepted_at DESC, id DESC LIMIT $1`, append([]any{nSums}, args...)...)
	if err != nil {
		return Context{}, err
	}
	return selectContext(obs, sums, budget), nil
}

// Search runs a full-text search (ts_rank over websearch_to_tsquery) with
// filters; empty text lists the filtered observations newest first.
func (p *Postgres) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	if err := validTypes(q.Types); err != nil {
		return nil, err
	}
	if len(q.Text) > MaxShortLen {
		return nil, invalid("text", "is %d bytes, more than %d", len(q.Text), MaxShortLen)
	}
	if !storable(q.Project) || !storable(q.File) {
		return []SearchHit{}, nil
	}
	var a pgArgs
	var where []string
	text := strings.TrimSpace(clean(q.Text))
	from := `observations o`
	rank := `0.0::float8`
	if text != "" {
		from += `, websearch_to_tsquery('english', ` + a.add(text) + `) AS query`
		where = append(where, `o.search @@ query`)
		rank = `ts_rank(o.search, query)::float8`
	}
	if q.Project != "" {
		where = append(where, "o.project = "+a.add(q.Project))
	}
	if len(q.Types) > 0 {
		where = append(where, "o.type = ANY("+a.add(q.Types)+")")
	}
	if q.File != "" {
		sub := "o.id IN (SELECT observation_id FROM observation_files WHERE path = " + a.add(q.File)
		if q.Project != "" {
			sub += " AND project = " + a.add(q.Project)
		}
		where = append(where, sub+")")
	}
	if !q.Since.IsZero() {
		where = append(where, "o.accepted_at >= "+a.add(utc(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "o.accepted_at < "+a.add(utc(q.Until)))
	}
	limit, offset := clamp(q.Limit, defaultSearchLimit, maxSearchLimit), offsetOf(q.Offset)
	var sql string
	if text == "" {
		sql = `SELECT ` + pgObsCols + `, ` + rank + ` AS rank FROM ` + from
		if len(where) > 0 {
			sql += " WHERE " + strings.Join(where, " AND ")
		}
		sql += ` ORDER BY o.accepted_at DESC, o.id DESC`
	} else {
		// Rank only the newest matches (SearchQuery's window): the window
		// is found from the indexes without ranking, and ts_rank runs on
		// it alone.
		sql = `WITH win AS MATERIALIZED (SELECT o.id FROM ` + from + ` WHERE ` + strings.Join(where, " AND ") +
			` ORDER BY o.id DESC LIMIT ` + a.add(searchWindow(limit, offset)) + `)
			SELECT ` + pgObsCols + `, ` + rank + ` AS rank FROM ` + from + ` WHERE o.id IN (SELECT id FROM win) ORDER BY rank DESC, o.id DESC`
	}
	sql += ` LIMIT ` + a.add(limit) + ` OFFSET ` + a.add(offset)
	// QueryExecModeExec plans the statement with this query's values, as
	// the window needs: walking the primary key newest first suits common
	// words, the GIN index rare ones, and only the values tell which.
	args := append([]any{pgx.QueryExecModeExec}, a...)
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: search: %w", err)
	}
	defer rows.Close()
	out := []SearchHit{}
	for rows.Next() {
		var h SearchHit
		if h.Observation, err = scanPgObservation(rows, &h.Rank); err != nil {
			return nil, fmt.Errorf("store: postgres: scan search hit: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: search: %w", err)
	}
	return out, nil
}

// PartitionFloors returns the ack floors recorded for stream.
func (p *Postgres) PartitionFloors(ctx context.Context, stream string) (map[int]uint64, error) {
	rows, err := p.pool.Query(ctx, `SELECT partition, seq FROM partition_floors WHERE stream = $1`, stream)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: floors: %w", err)
	}
	defer rows.Close()
	f, err := scanFloors(rows)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: floors: %w", err)
	}
	return f, nil
}

// SavePartitionFloors records floors for stream, never lowering one.
func (p *Postgres) SavePartitionFloors(ctx context.Context, stream string, floors map[int]uint64) error {
	if err := validFloors(stream, floors); err != nil {
		return err
	}
	b := &pgx.Batch{}
	for part, seq := range floors {
		b.Queue(`INSERT INTO partition_floors (stream, partition, seq) VALUES ($1, $2, $3)
			ON CONFLICT (stream, partition) DO UPDATE SET seq = GREATEST(partition_floors.seq, excluded.seq)`, stream, part, int64(seq))
	}
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: postgres: save floors: %w", err)
	}
	return nil
}

// Optimize analyzes the database, so the planner's estimates (which the
// search window's plan depends on) reflect a bulk load at once.
func (p *Postgres) Optimize(ctx context.Context) error {
	if _, err := p.pool.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("store: postgres: optimize: %w", err)
	}
	return nil
}

// Timeline returns up to before older and after newer observations of the
// same project around one, in accept order.
func (p *Postgres) Timeline(ctx context.Context, around int64, before, after int) ([]Observation, error) {
	mid, err := p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o WHERE o.id = $1`, around)
	if err != nil {
		return nil, err
	}
	if len(mid) == 0 {
		return nil, fmt.Errorf("%w: observation %d", ErrNotFound, around)
	}
	m := mid[0]
	before, after = min(max(before, 0), maxTimelineSide), min(max(after, 0), maxTimelineSide)
	older, err := p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o
		WHERE o.project = $1 AND (o.accepted_at, o.id) < ($2, $3) ORDER BY o.accepted_at DESC, o.id DESC LIMIT $4`,
		m.Project, m.AcceptedAt, m.ID, before)
	if err != nil {
		return nil, err
	}
	newer, err := p.observations(ctx, `SELECT `+pgObsCols+` FROM observations o
		WHERE o.project = $1 AND (o.accepted_at, o.id) > ($2, $3) ORDER BY o.accepted_at, o.id LIMIT $4`,
		m.Project, m.AcceptedAt, m.ID, after)
	if err != nil {
		return nil, err
	}
	return timeline(older, m, newer), nil
}

// Counts returns figures for a project ("" = all) from one snapshot.
func (p *Postgres) Counts(ctx context.Context, project string, since time.Time) (Counts, error) {
	if !storable(project) {
		return Counts{}, nil
	}
	var c Counts
	err := p.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM sessions WHERE $1 = '' OR project = $1),
		(SELECT count(*) FROM sessions WHERE status = 'active' AND ($1 = '' OR project = $1)),
		(SELECT count(*) FROM observations WHERE $1 = '' OR project = $1),
		(SELECT count(*) FROM summaries WHERE $1 = '' OR project = $1),
		(SELECT count(*) FROM prompts p WHERE $1 = '' OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = p.session_id AND s.project = $1)),
		(SELECT count(*) FROM dead_letters d WHERE $1 = '' OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = d.session_id AND s.project = $1)),
		(SELECT coalesce(sum(input_tokens), 0)::bigint FROM llm_usage WHERE at >= $2 AND ($1 = '' OR project = $1)),
		(SELECT coalesce(sum(output_tokens), 0)::bigint FROM llm_usage WHERE at >= $2 AND ($1 = '' OR project = $1))`,
		project, utc(since)).Scan(&c.Sessions, &c.ActiveSessions, &c.Observations, &c.Summaries, &c.Prompts,
		&c.DeadLetters, &c.InputTokens, &c.OutputTokens)
	if err != nil {
		return Counts{}, fmt.Errorf("store: postgres: counts: %w", err)
	}
	return c, nil
}

// AddMemory stores a manual observation.
func (p *Postgres) AddMemory(ctx context.Context, o Observation) (int64, error) {
	o, err := normalizeMemory(o, utc(time.Now()))
	if err != nil {
		return 0, err
	}
	var id int64
	b := &pgx.Batch{}
	queueObservation(b, &o).QueryRow(func(row pgx.Row) error { return row.Scan(&id) })
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("store: postgres: add memory: %w", err)
	}
	return id, nil
}

// DeleteObservation deletes one observation (and its file rows).
func (p *Postgres) DeleteObservation(ctx context.Context, id int64) error {
	tag, err := p.pool.Exec(ctx, `DELETE FROM observations WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: postgres: delete observation: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: observation %d", ErrNotFound, id)
	}
	return nil
}

// DeleteSession marks a session aborted; purge also deletes its prompts,
// observations, summaries and conversation.
func (p *Postgres) DeleteSession(ctx context.Context, id string, purge bool) error {
	if !storable(id) {
		return fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	now := utc(time.Now())
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET status = 'aborted', ended_at = coalesce(ended_at, $2) WHERE id = $1`, id, now)
		if err != nil {
			return fmt.Errorf("store: postgres: abort session: %w", err)
		}
		found := tag.RowsAffected()
		if purge {
			for _, q := range []string{
				`DELETE FROM prompts WHERE session_id = $1`,
				`DELETE FROM observations WHERE session_id = $1`,
				`DELETE FROM summaries WHERE session_id = $1`,
				`DELETE FROM conversations WHERE session_id = $1`,
			} {
				tag, err := tx.Exec(ctx, q, id)
				if err != nil {
					return fmt.Errorf("store: postgres: purge session: %w", err)
				}
				found += tag.RowsAffected()
			}
		}
		if found == 0 {
			return fmt.Errorf("%w: session %s", ErrNotFound, id)
		}
		return nil
	})
}

// AddDeadLetter records a dead letter; adding the same (event ID, seq)
// again returns the first one's ID.
func (p *Postgres) AddDeadLetter(ctx context.Context, d DeadLetter) (int64, error) {
	if err := normalizeDeadLetter("dead_letter", &d, utc(time.Now())); err != nil {
		return 0, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, pgInsertDeadLetter, d.EventID, d.SessionID, int64(d.Seq), d.Reason, d.Deliveries, d.Payload, d.At, d.ReplayedAs); err != nil {
			return fmt.Errorf("store: postgres: write dead letter: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT id FROM dead_letters WHERE event_id = $1 AND seq = $2`, d.EventID, int64(d.Seq)).Scan(&id); err != nil {
			return fmt.Errorf("store: postgres: read dead letter id: %w", err)
		}
		return nil
	})
	return id, err
}

const pgDeadLetterCols = `id, event_id, session_id, seq, reason, deliveries, payload, at, replayed_as`

func scanPgDeadLetter(row pgx.Row) (DeadLetter, error) {
	var d DeadLetter
	var seq int64
	if err := row.Scan(&d.ID, &d.EventID, &d.SessionID, &seq, &d.Reason, &d.Deliveries, &d.Payload, &d.At, &d.ReplayedAs); err != nil {
		return DeadLetter{}, err
	}
	d.Seq, d.At = uint64(seq), d.At.UTC()
	return d, nil
}

// DeadLetters lists dead letters, newest first.
func (p *Postgres) DeadLetters(ctx context.Context, limit, offset int) ([]DeadLetter, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+pgDeadLetterCols+` FROM dead_letters ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2`,
		clamp(limit, defaultDeadLetterLimit, maxDeadLetterLimit), offsetOf(offset))
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list dead letters: %w", err)
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		d, err := scanPgDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: scan dead letter: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: list dead letters: %w", err)
	}
	return out, nil
}

// DeadLetter returns one dead letter, ErrNotFound when there is none.
func (p *Postgres) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	d, err := scanPgDeadLetter(p.pool.QueryRow(ctx, `SELECT `+pgDeadLetterCols+` FROM dead_letters WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
	case err != nil:
		return DeadLetter{}, fmt.Errorf("store: postgres: read dead letter: %w", err)
	}
	return d, nil
}

// MarkReplayed records the event ID a dead letter was replayed as.
func (p *Postgres) MarkReplayed(ctx context.Context, id int64, newEventID string) error {
	if err := checkID("new_event_id", newEventID); err != nil {
		return err
	}
	tag, err := p.pool.Exec(ctx, `UPDATE dead_letters SET replayed_as = $2 WHERE id = $1`, id, newEventID)
	if err != nil {
		return fmt.Errorf("store: postgres: mark replayed: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
	}
	return nil
}

// Conversation returns a session's LLM conversation state, ErrNotFound when
// none is stored.
func (p *Postgres) Conversation(ctx context.Context, sessionID string) (Conversation, error) {
	if !storable(sessionID) {
		return Conversation{}, fmt.Errorf("%w: conversation of %q", ErrNotFound, sessionID)
	}
	var c Conversation
	err := p.pool.QueryRow(ctx, `SELECT session_id, provider, state, updated_at FROM conversations WHERE session_id = $1`, sessionID).
		Scan(&c.SessionID, &c.Provider, &c.State, &c.UpdatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Conversation{}, fmt.Errorf("%w: conversation of %s", ErrNotFound, sessionID)
	case err != nil:
		return Conversation{}, fmt.Errorf("store: postgres: read conversation: %w", err)
	}
	if c.State == nil {
		c.State = []byte{}
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}
