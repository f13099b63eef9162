package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// SQLite is the embedded store: one file, WAL journal, FTS5 search. Writes
// go through a single connection whose transactions begin IMMEDIATE, so
// they are serialized in this process and against other processes on the
// same file; reads use a separate read-only pool that WAL lets run beside
// the writer.
type SQLite struct {
	w    *sql.DB // the single writer connection
	r    *sql.DB // read-only pool (the writer itself for :memory:)
	path string
	gc   *groupCommit
}

var _ Store = (*SQLite)(nil)

// sqlQuerier is what *sql.DB and *sql.Tx have in common.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
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
	s.startGroupCommit()
	return s, nil
}

// Close stops taking units, finishes the group being applied and closes
// both pools.
func (s *SQLite) Close() error {
	s.stopGroupCommit()
	var err error
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: sqlite: create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := s.migrateOne(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// migrateOne applies m unless recorded; the IMMEDIATE transaction makes
// concurrent opens of one file wait for each other.
func (s *SQLite) migrateOne(ctx context.Context, m migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: migration %d: %w", m.version, err)
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.version).Scan(&one); {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: sqlite: migration %d: %w", m.version, err)
	}
	if _, err := tx.ExecContext(ctx, m.sqlite); err != nil {
		return fmt.Errorf("store: sqlite: migration %d (%s): %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("store: sqlite: record migration %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: commit migration %d: %w", m.version, err)
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the database.
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: sqlite: schema version: %w", err)
	}
	return v, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func jsonList(l []string) string {
	if l == nil {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil { // []string always marshals
		return "[]"
	}
	return string(b)
}

func parseList(s string) ([]string, error) {
	l := []string{}
	if s == "" {
		return l, nil
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("store: sqlite: decode list: %w", err)
	}
	return l, nil
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Apply writes one unit atomically. Units of concurrent calls share
// IMMEDIATE transactions on the writer (groupCommit); Apply returns after
// the commit that holds its unit.
func (s *SQLite) Apply(ctx context.Context, u Unit) (ApplyResult, error) {
	now := utc(time.Now())
	n, err := normalizeUnit(u, now)
	if err != nil {
		return ApplyResult{}, err
	}
	return s.submit(ctx, n, now)
}

func (s *SQLite) apply(ctx context.Context, tx *sqliteTx, n *Unit, now time.Time) (ApplyResult, error) {
	var lastSeq, fence int64
	err := tx.QueryRowContext(ctx, `SELECT last_seq, fence FROM session_cursors WHERE session_id = ?`, n.SessionID).Scan(&lastSeq, &fence)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ApplyResult{}, fmt.Errorf("store: sqlite: read cursor: %w", err)
	}
	if n.Fence < fence {
		return ApplyResult{}, fmt.Errorf("%w: session %s: unit fence %d, stored fence %d", ErrStaleFence, n.SessionID, n.Fence, fence)
	}
	eventIDs := make([]string, len(n.Events))
	for i, e := range n.Events {
		eventIDs[i] = e.EventID
	}
	known, err := sqliteAppliedSeqs(ctx, tx, eventIDs)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_cursors (session_id, last_seq, fence, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (session_id) DO UPDATE SET last_seq = excluded.last_seq, fence = excluded.fence, updated_at = excluded.updated_at`,
			n.SessionID, int64(last), n.Fence, micros(now)); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: advance cursor past duplicates: %w", err)
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

	cur, err := sqliteSessionRow(ctx, tx, n.SessionID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ApplyResult{}, err
	}
	project := unitProject(n)
	if cur != nil {
		project = cur.Project
	}
	if n.Session != nil || len(n.Prompts) > 0 || (cur == nil && hasContent(n)) {
		m := mergeSession(n.SessionID, cur, n.Session, unitProject(n), maxPromptNumber(n.Prompts), first, last)
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions
			(id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET project = excluded.project, agent = excluded.agent,
				cwd = excluded.cwd, status = excluded.status, started_at = excluded.started_at,
				ended_at = excluded.ended_at, last_event_at = excluded.last_event_at,
				prompt_count = excluded.prompt_count`,
			m.ID, m.Project, m.Agent, m.Cwd, m.Status, micros(m.StartedAt), nullMicros(m.EndedAt),
			micros(m.LastEventAt), m.PromptCount); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: write session: %w", err)
		}
		project = m.Project
	}

	if n.ReplaceObservations {
		if _, err := tx.ExecContext(ctx, `DELETE FROM observations WHERE session_id = ?`, n.SessionID); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: replace observations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM summaries WHERE session_id = ?`, n.SessionID); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: replace summaries: %w", err)
		}
	}

	for _, p := range n.Prompts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO prompts (session_id, number, text, at, private) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (session_id, number) DO UPDATE SET text = excluded.text, private = excluded.private`,
			p.SessionID, p.Number, p.Text, micros(p.At), p.Private); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: write prompt %d: %w", p.Number, err)
		}
	}

	res := ApplyResult{LastSeq: n.Events[len(n.Events)-1].Seq}
	if len(n.Observations) > 0 {
		ins, err := tx.observationWriter(ctx)
		if err != nil {
			return ApplyResult{}, err
		}
		res.ObservationIDs = make([]int64, 0, len(n.Observations))
		for i := range n.Observations {
			o := &n.Observations[i]
			if o.Project == "" {
				o.Project = project
			}
			id, err := ins.insert(ctx, o)
			if err != nil {
				return ApplyResult{}, err
			}
			res.ObservationIDs = append(res.ObservationIDs, id)
		}
	}

	if m := n.Summary; m != nil {
		if m.Project == "" {
			m.Project = project
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO summaries (session_id, project, request, investigated, learned,
			completed, next_steps, notes, prompt_number, accepted_at, source_event_ids, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.SessionID, m.Project, m.Request, m.Investigated, m.Learned, m.Completed, m.NextSteps, m.Notes,
			m.PromptNumber, micros(m.AcceptedAt), jsonList(m.SourceEventIDs), micros(m.CreatedAt))
		if err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: write summary: %w", err)
		}
		if res.SummaryID, err = r.LastInsertId(); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: summary id: %w", err)
		}
	}

	for _, x := range n.Usage {
		if x.Project == "" {
			x.Project = project
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO llm_usage (session_id, project, provider, model, input_tokens, output_tokens, at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			x.SessionID, x.Project, x.Provider, x.Model, x.InputTokens, x.OutputTokens, micros(x.At)); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: write usage: %w", err)
		}
	}

	for i := range n.DeadLetters {
		if _, err := sqliteInsertDeadLetter(ctx, tx, &n.DeadLetters[i]); err != nil {
			return ApplyResult{}, err
		}
	}

	if c := n.Conversation; c != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (session_id, provider, state, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (session_id) DO UPDATE SET provider = excluded.provider, state = excluded.state, updated_at = excluded.updated_at`,
			c.SessionID, c.Provider, c.State, micros(c.UpdatedAt)); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: write conversation: %w", err)
		}
	}

	for _, e := range n.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO applied_events (event_id, session_id, seq, kind, accepted_at, dead, applied_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			e.EventID, n.SessionID, int64(e.Seq), e.Kind, micros(e.AcceptedAt), e.Dead, micros(now)); err != nil {
			return ApplyResult{}, fmt.Errorf("store: sqlite: record event %s: %w", e.EventID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO session_cursors (session_id, last_seq, fence, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET last_seq = excluded.last_seq, fence = excluded.fence, updated_at = excluded.updated_at`,
		n.SessionID, int64(res.LastSeq), n.Fence, micros(now)); err != nil {
		return ApplyResult{}, fmt.Errorf("store: sqlite: write cursor: %w", err)
	}
	return res, nil
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// sqliteObservationWriter inserts observations with their file rows through
// statements prepared once per transaction (or cached by the committer).
type sqliteObservationWriter struct {
	obs, file *sql.Stmt
	owned     bool // close the statements with the writer
}

const (
	sqliteInsertObservation = `INSERT INTO observations (session_id, project, type, title, subtitle,
		narrative, facts, concepts, files_read, files_modified, prompt_number, accepted_at, source_event_ids, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqliteInsertObservationFile = `INSERT OR IGNORE INTO observation_files (observation_id, path, project, accepted_at) VALUES (?, ?, ?, ?)`
)

func newSQLiteObservationWriter(ctx context.Context, tx *sql.Tx) (*sqliteObservationWriter, error) {
	obs, err := tx.PrepareContext(ctx, sqliteInsertObservation)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: prepare observation insert: %w", err)
	}
	file, err := tx.PrepareContext(ctx, sqliteInsertObservationFile)
	if err != nil {
		_ = obs.Close()
		return nil, fmt.Errorf("store: sqlite: prepare file insert: %w", err)
	}
	return &sqliteObservationWriter{obs: obs, file: file, owned: true}, nil
}

func (w *sqliteObservationWriter) close() {
	if w.owned {
		_ = w.obs.Close()
		_ = w.file.Close()
	}
}

func (w *sqliteObservationWriter) insert(ctx context.Context, o *Observation) (int64, error) {
	r, err := w.obs.ExecContext(ctx, o.SessionID, o.Project, o.Type, o.Title, o.Subtitle, o.Narrative,
		jsonList(o.Facts), jsonList(o.Concepts), jsonList(o.FilesRead), jsonList(o.FilesModified),
		o.PromptNumber, micros(o.AcceptedAt), jsonList(o.SourceEventIDs), micros(o.CreatedAt))
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: write observation: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: observation id: %w", err)
	}
	for _, p := range filesOf(o) {
		if _, err := w.file.ExecContext(ctx, id, p, o.Project, micros(o.AcceptedAt)); err != nil {
			return 0, fmt.Errorf("store: sqlite: write observation file: %w", err)
		}
	}
	return id, nil
}

func sqliteInsertDeadLetter(ctx context.Context, q sqlQuerier, d *DeadLetter) (int64, error) {
	if _, err := q.ExecContext(ctx, `INSERT INTO dead_letters (event_id, session_id, seq, reason, deliveries, payload, at, replayed_as)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, seq) DO NOTHING`,
		d.EventID, d.SessionID, int64(d.Seq), d.Reason, d.Deliveries, d.Payload, micros(d.At), d.ReplayedAs); err != nil {
		return 0, fmt.Errorf("store: sqlite: write dead letter: %w", err)
	}
	var id int64
	if err := q.QueryRowContext(ctx, `SELECT id FROM dead_letters WHERE event_id = ? AND seq = ?`, d.EventID, int64(d.Seq)).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: sqlite: read dead letter id: %w", err)
	}
	return id, nil
}

// sqliteAppliedSeqs looks event IDs up in applied_events, in chunks that
// stay far below SQLite's parameter limit.
func sqliteAppliedSeqs(ctx context.Context, q sqlQuerier, eventIDs []string) (map[string]uint64, error) {
	out := make(map[string]uint64)
	const chunk = 500
	for i := 0; i < len(eventIDs); i += chunk {
		part := eventIDs[i:min(i+chunk, len(eventIDs))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT event_id, seq FROM applied_events WHERE event_id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: look up applied events: %w", err)
		}
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("store: sqlite: scan applied event: %w", err)
			}
			out[id] = uint64(seq)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: sqlite: look up applied events: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: sqlite: look up applied events: %w", err)
		}
	}
	return out, nil
}

// Cursor returns the session's cursor, or a zero Cursor.
func (s *SQLite) Cursor(ctx context.Context, sessionID string) (Cursor, error) {
	var c Cursor
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT session_id, last_seq, fence FROM session_cursors WHERE session_id = ?`, sessionID).
		Scan(&c.SessionID, &seq, &c.Fence)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Cursor{}, nil
	case err != nil:
		return Cursor{}, fmt.Errorf("store: sqlite: read cursor: %w", err)
	}
	c.LastSeq = uint64(seq)
	return c, nil
}

// AppliedSeqs returns which of the event IDs are applied, with their seqs.
func (s *SQLite) AppliedSeqs(ctx context.Context, eventIDs []string) (map[string]uint64, error) {
	return sqliteAppliedSeqs(ctx, s.r, eventIDs)
}

const sqliteSessionCols = `id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count`

func scanSQLiteSession(sc interface{ Scan(...any) error }) (Session, error) {
	var x Session
	var started, last int64
	var ended sql.NullInt64
	if err := sc.Scan(&x.ID, &x.Project, &x.Agent, &x.Cwd, &x.Status, &started, &ended, &last, &x.PromptCount); err != nil {
		return Session{}, err
	}
	x.StartedAt, x.LastEventAt = fromMicros(started), fromMicros(last)
	if ended.Valid {
		t := fromMicros(ended.Int64)
		x.EndedAt = &t
	}
	return x, nil
}

func sqliteSessionRow(ctx context.Context, q sqlQuerier, id string) (*Session, error) {
	x, err := scanSQLiteSession(q.QueryRowContext(ctx, `SELECT `+sqliteSessionCols+` FROM sessions WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
	case err != nil:
		return nil, fmt.Errorf("store: sqlite: read session: %w", err)
	}
	return &x, nil
}

// Session returns one session, ErrNotFound when there is none.
func (s *SQLite) Session(ctx context.Context, id string) (Session, error) {
	x, err := sqliteSessionRow(ctx, s.r, id)
	if err != nil {
		return Session{}, err
	}
	return *x, nil
}

// Sessions lists sessions, most recently active first.
func (s *SQLite) Sessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	var where []string
	var args []any
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	q := `SELECT ` + sqliteSessionCols + ` FROM sessions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY last_event_at DESC, id LIMIT ? OFFSET ?`
	args = append(args, clamp(f.Limit, defaultSessionLimit, maxSessionLimit), offsetOf(f.Offset))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: list sessions: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		x, err := scanSQLiteSession(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: scan session: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: list sessions: %w", err)
	}
	return out, nil
}

// Prompts returns a session's prompts by number.
func (s *SQLite) Prompts(ctx context.Context, sessionID string) ([]Prompt, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT session_id, number, text, at, private FROM prompts WHERE session_id = ? ORDER BY number`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: list prompts: %w", err)
	}
	defer rows.Close()
	out := []Prompt{}
	for rows.Next() {
		var p Prompt
		var at int64
		if err := rows.Scan(&p.SessionID, &p.Number, &p.Text, &at, &p.Private); err != nil {
			return nil, fmt.Errorf("store: sqlite: scan prompt: %w", err)
		}
		p.At = fromMicros(at)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: list prompts: %w", err)
	}
	return out, nil
}

const sqliteObsCols = `o.id, o.session_id, o.project, o.type, o.title, o.subtitle, o.narrative, o.facts, o.concepts,
	o.files_read, o.files_modified, o.prompt_number, o.accepted_at, o.source_event_ids, o.created_at`

// scanSQLiteObservation scans sqliteObsCols followed by extra destinations.
func scanSQLiteObservation(sc interface{ Scan(...any) error }, extra ...any) (Observation, error) {
	var o Observation
	var facts, concepts, read, modified, src string
	var accepted, created int64
	dest := append([]any{&o.ID, &o.SessionID, &o.Project, &o.Type, &o.Title, &o.Subtitle, &o.Narrative,
		&facts, &concepts, &read, &modified, &o.PromptNumber, &accepted, &src, &created}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return Observation{}, err
	}
	var err error
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&o.Facts, facts}, {&o.Concepts, concepts}, {&o.FilesRead, read}, {&o.FilesModified, modified}, {&o.SourceEventIDs, src}} {
		if *l.dst, err = parseList(l.src); err != nil {
			return Observation{}, err
		}
	}
	o.AcceptedAt, o.CreatedAt = fromMicros(accepted), fromMicros(created)
	return o, nil
}

func (s *SQLite) observations(ctx context.Context, q string, args ...any) ([]Observation, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: query observations: %w", err)
	}
	defer rows.Close()
	out := []Observation{}
	for rows.Next() {
		o, err := scanSQLiteObservation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: scan observation: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: query observations: %w", err)
	}
	return out, nil
}

// SessionObservations returns a session's observations in accept order.
func (s *SQLite) SessionObservations(ctx context.Context, sessionID string) ([]Observation, error) {
	return s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o WHERE o.session_id = ? ORDER BY o.accepted_at, o.id`, sessionID)
}

const sqliteSummaryCols = `id, session_id, project, request, investigated, learned, completed, next_steps, notes,
	prompt_number, accepted_at, source_event_ids, created_at`

func (s *SQLite) summaries(ctx context.Context, q string, args ...any) ([]Summary, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: query summaries: %w", err)
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var m Summary
		var src string
		var accepted, created int64
		if err := rows.Scan(&m.ID, &m.SessionID, &m.Project, &m.Request, &m.Investigated, &m.Learned, &m.Completed,
			&m.NextSteps, &m.Notes, &m.PromptNumber, &accepted, &src, &created); err != nil {
			return nil, fmt.Errorf("store: sqlite: scan summary: %w", err)
		}
		if m.SourceEventIDs, err = parseList(src); err != nil {
			return nil, err
		}
		m.AcceptedAt, m.CreatedAt = fromMicros(accepted), fromMicros(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: query summaries: %w", err)
	}
	return out, nil
}

// SessionSummaries returns a session's summaries, oldest first.
func (s *SQLite) SessionSummaries(ctx context.Context, sessionID string) ([]Summary, error) {
	return s.summaries(ctx, `SELECT `+sqliteSummaryCols+` FROM summaries WHERE session_id = ? ORDER BY accepted_at, id`, sessionID)
}

// Observations returns the observations with the given IDs in ID order;
// unknown IDs are left out.
func (s *SQLite) Observations(ctx context.Context, ids []int64) ([]Observation, error) {
	out := []Observation{}
	const chunk = 500
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		got, err := s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o WHERE o.id IN (`+placeholders(len(part))+`) ORDER BY o.id`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	sortByID(out)
	return out, nil
}

// ObservationsByFile returns observations that read or modified path,
// newest first, accepted at or after since. An empty project means any.
func (s *SQLite) ObservationsByFile(ctx context.Context, project, path string, since time.Time, limit int) ([]Observation, error) {
	q := `SELECT ` + sqliteObsCols + ` FROM observation_files f JOIN observations o ON o.id = f.observation_id
		WHERE f.path = ? AND f.accepted_at >= ?`
	args := []any{path, micros(utc(since))}
	if project != "" {
		q += ` AND f.project = ?`
		args = append(args, project)
	}
	q += ` ORDER BY f.accepted_at DESC, f.observation_id DESC LIMIT ?`
	args = append(args, clamp(limit, defaultFileLimit, maxFileLimit))
	return s.observations(ctx, q, args...)
}

// RecentContext selects the newest observations, then summaries, of a
// project within the token budget. An empty project means all projects.
func (s *SQLite) RecentContext(ctx context.Context, q ContextQuery) (Context, error) {
	budget, nObs, nSums := contextLimits(q)
	obsWhere, where, args := "", "", []any{}
	if q.Project != "" {
		obsWhere, where, args = ` WHERE o.project = ?`, ` WHERE project = ?`, []any{q.Project}
	}
	obs, err := s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o`+obsWhere+
		` ORDER BY o.accepted_at DESC, o.id DESC LIMIT ?`, append(args, nObs)...)
	if err != nil {
		return Context{}, err
	}
	sums, err := s.summaries(ctx, `SELECT `+sqliteSummaryCols+` FROM summaries`+where+
		` ORDER BY accepted_at DESC, id DESC LIMIT ?`, append(args, nSums)...)
	if err != nil {
		return Context{}, err
	}
	return selectContext(obs, sums, budget), nil
}

// Search runs a full-text search (bm25 through FTS5's rank) with filters;
// empty text lists the filtered observations newest first.
func (s *SQLite) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	if err := validTypes(q.Types); err != nil {
		return nil, err
	}
	if len(q.Text) > MaxShortLen {
		return nil, invalid("text", "is %d bytes, more than %d", len(q.Text), MaxShortLen)
	}
	match := ""
	if strings.TrimSpace(q.Text) != "" {
		if match = ftsQuery(q.Text); match == "" {
			return []SearchHit{}, nil
		}
	}
	var where []string
	var args []any
	if match != "" {
		match = ftsScoped(match, q.Project)
	} else if q.Project != "" {
		where, args = append(where, "o.project = ?"), append(args, q.Project)
	}
	if len(q.Types) > 0 {
		where = append(where, "o.type IN ("+placeholders(len(q.Types))+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	if q.File != "" {
		sub := "o.id IN (SELECT observation_id FROM observation_files WHERE path = ?"
		args = append(args, q.File)
		if q.Project != "" {
			sub += " AND project = ?"
			args = append(args, q.Project)
		}
		where = append(where, sub+")")
	}
	if !q.Since.IsZero() {
		where, args = append(where, "o.accepted_at >= ?"), append(args, micros(utc(q.Since)))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "o.accepted_at < ?"), append(args, micros(utc(q.Until)))
	}
	limit, offset := clamp(q.Limit, defaultSearchLimit, maxSearchLimit), offsetOf(q.Offset)
	filters := ""
	if len(where) > 0 {
		filters = " AND " + strings.Join(where, " AND ")
	}
	var query string
	var all []any
	if match == "" {
		query = `SELECT ` + sqliteObsCols + `, 0.0 FROM observations o WHERE 1` + filters +
			` ORDER BY o.accepted_at DESC, o.id DESC LIMIT ? OFFSET ?`
		all = append(append(all, args...), limit, offset)
	} else {
		// Rank only the matches at or after the window's oldest one
		// (SearchQuery): FTS5 walks the rowids newest first cheaply and
		// takes the floor as a rowid bound, so bm25 runs on at most the
		// window.
		// The window's own walk joins observations only for filters the
		// index does not hold.
		windowFrom := `observations_fts w`
		if filters != "" {
			windowFrom += ` JOIN observations o ON o.id = w.rowid`
		}
		query = `SELECT ` + sqliteObsCols + `, -f.rank FROM observations_fts f
			JOIN observations o ON o.id = f.rowid
			WHERE f.observations_fts MATCH ? AND f.rowid >= coalesce((
				SELECT w.rowid FROM ` + windowFrom + `
				WHERE w.observations_fts MATCH ?` + filters + `
				ORDER BY w.rowid DESC LIMIT 1 OFFSET ?), 0)` + filters + `
			ORDER BY f.rank, o.id DESC LIMIT ? OFFSET ?`
		all = append(all, match, match)
		all = append(all, args...)
		all = append(all, searchWindow(limit, offset)-1)
		all = append(all, args...)
		all = append(all, limit, offset)
	}
	rows, err := s.r.QueryContext(ctx, query, all...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: search: %w", err)
	}
	defer rows.Close()
	out := []SearchHit{}
	for rows.Next() {
		var h SearchHit
		if h.Observation, err = scanSQLiteObservation(rows, &h.Rank); err != nil {
			return nil, fmt.Errorf("store: sqlite: scan search hit: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: search: %w", err)
	}
	return out, nil
}

// PartitionFloors returns the ack floors recorded for stream.
func (s *SQLite) PartitionFloors(ctx context.Context, stream string) (map[int]uint64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT partition, seq FROM partition_floors WHERE stream = ?`, stream)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: floors: %w", err)
	}
	defer rows.Close()
	f, err := scanFloors(rows)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: floors: %w", err)
	}
	return f, nil
}

// SavePartitionFloors records floors for stream, never lowering one.
func (s *SQLite) SavePartitionFloors(ctx context.Context, stream string, floors map[int]uint64) error {
	if err := validFloors(stream, floors); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: save floors: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for p, seq := range floors {
		if _, err := tx.ExecContext(ctx, `INSERT INTO partition_floors (stream, partition, seq) VALUES (?, ?, ?)
			ON CONFLICT (stream, partition) DO UPDATE SET seq = max(seq, excluded.seq)`, stream, p, int64(seq)); err != nil {
			return fmt.Errorf("store: sqlite: save floors: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: save floors: %w", err)
	}
	return nil
}

// Optimize merges the full-text index into one segment and lets SQLite
// refresh its statistics (PRAGMA optimize).
func (s *SQLite) Optimize(ctx context.Context) error {
	for _, q := range []string{`INSERT INTO observations_fts (observations_fts) VALUES ('optimize')`, `PRAGMA optimize`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: sqlite: optimize: %w", err)
		}
	}
	return nil
}

// Timeline returns up to before older and after newer observations of the
// same project around one, in accept order.
func (s *SQLite) Timeline(ctx context.Context, around int64, before, after int) ([]Observation, error) {
	mid, err := s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o WHERE o.id = ?`, around)
	if err != nil {
		return nil, err
	}
	if len(mid) == 0 {
		return nil, fmt.Errorf("%w: observation %d", ErrNotFound, around)
	}
	m := mid[0]
	before, after = min(max(before, 0), maxTimelineSide), min(max(after, 0), maxTimelineSide)
	older, err := s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o
		WHERE o.project = ? AND (o.accepted_at, o.id) < (?, ?) ORDER BY o.accepted_at DESC, o.id DESC LIMIT ?`,
		m.Project, micros(m.AcceptedAt), m.ID, before)
	if err != nil {
		return nil, err
	}
	newer, err := s.observations(ctx, `SELECT `+sqliteObsCols+` FROM observations o
		WHERE o.project = ? AND (o.accepted_at, o.id) > (?, ?) ORDER BY o.accepted_at, o.id LIMIT ?`,
		m.Project, micros(m.AcceptedAt), m.ID, after)
	if err != nil {
		return nil, err
	}
	return timeline(older, m, newer), nil
}

// Counts returns figures for a project ("" = all), in one read transaction.
func (s *SQLite) Counts(ctx context.Context, project string, since time.Time) (Counts, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Counts{}, fmt.Errorf("store: sqlite: counts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var c Counts
	scoped := func(q, scope string) (string, []any) {
		if project == "" {
			return q, nil
		}
		return q + scope, []any{project}
	}
	queries := []struct {
		q, scope string
		dest     []any
	}{
		{`SELECT count(*), coalesce(sum(status = 'active'), 0) FROM sessions`, ` WHERE project = ?`, []any{&c.Sessions, &c.ActiveSessions}},
		{`SELECT count(*) FROM observations`, ` WHERE project = ?`, []any{&c.Observations}},
		{`SELECT count(*) FROM summaries`, ` WHERE project = ?`, []any{&c.Summaries}},
		{`SELECT count(*) FROM prompts p`, ` JOIN sessions s ON s.id = p.session_id WHERE s.project = ?`, []any{&c.Prompts}},
		{`SELECT count(*) FROM dead_letters d`, ` JOIN sessions s ON s.id = d.session_id WHERE s.project = ?`, []any{&c.DeadLetters}},
	}
	for _, x := range queries {
		q, args := scoped(x.q, x.scope)
		if err := tx.QueryRowContext(ctx, q, args...).Scan(x.dest...); err != nil {
			return Counts{}, fmt.Errorf("store: sqlite: counts: %w", err)
		}
	}
	q := `SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM llm_usage WHERE at >= ?`
	args := []any{micros(utc(since))}
	if project != "" {
		q += ` AND project = ?`
		args = append(args, project)
	}
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&c.InputTokens, &c.OutputTokens); err != nil {
		return Counts{}, fmt.Errorf("store: sqlite: counts: %w", err)
	}
	return c, nil
}

// AddMemory stores a manual observation.
func (s *SQLite) AddMemory(ctx context.Context, o Observation) (int64, error) {
	o, err := normalizeMemory(o, utc(time.Now()))
	if err != nil {
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: begin add memory: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	w, err := newSQLiteObservationWriter(ctx, tx)
	if err != nil {
		return 0, err
	}
	defer w.close()
	id, err := w.insert(ctx, &o)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: sqlite: commit add memory: %w", err)
	}
	return id, nil
}

// DeleteObservation deletes one observation (its file rows and index entry
// with it).
func (s *SQLite) DeleteObservation(ctx context.Context, id int64) error {
	r, err := s.w.ExecContext(ctx, `DELETE FROM observations WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: sqlite: delete observation: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("store: sqlite: delete observation: %w", err)
	} else if n == 0 {
		return fmt.Errorf("%w: observation %d", ErrNotFound, id)
	}
	return nil
}

// DeleteSession marks a session aborted; purge also deletes its prompts,
// observations, summaries and conversation.
func (s *SQLite) DeleteSession(ctx context.Context, id string, purge bool) error {
	now := utc(time.Now())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: begin delete session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	r, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'aborted', ended_at = coalesce(ended_at, ?) WHERE id = ?`, micros(now), id)
	if err != nil {
		return fmt.Errorf("store: sqlite: abort session: %w", err)
	}
	found, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: sqlite: abort session: %w", err)
	}
	if purge {
		for _, q := range []string{
			`DELETE FROM prompts WHERE session_id = ?`,
			`DELETE FROM observations WHERE session_id = ?`,
			`DELETE FROM summaries WHERE session_id = ?`,
			`DELETE FROM conversations WHERE session_id = ?`,
		} {
			r, err := tx.ExecContext(ctx, q, id)
			if err != nil {
				return fmt.Errorf("store: sqlite: purge session: %w", err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: sqlite: purge session: %w", err)
			}
			found += n
		}
	}
	if found == 0 {
		return fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: commit delete session: %w", err)
	}
	return nil
}

// AddDeadLetter records a dead letter; adding the same (event ID, seq)
// again returns the first one's ID.
func (s *SQLite) AddDeadLetter(ctx context.Context, d DeadLetter) (int64, error) {
	if err := normalizeDeadLetter("dead_letter", &d, utc(time.Now())); err != nil {
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: begin add dead letter: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	id, err := sqliteInsertDeadLetter(ctx, tx, &d)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: sqlite: commit dead letter: %w", err)
	}
	return id, nil
}

const sqliteDeadLetterCols = `id, event_id, session_id, seq, reason, deliveries, payload, at, replayed_as`

func scanSQLiteDeadLetter(sc interface{ Scan(...any) error }) (DeadLetter, error) {
	var d DeadLetter
	var seq, at int64
	if err := sc.Scan(&d.ID, &d.EventID, &d.SessionID, &seq, &d.Reason, &d.Deliveries, &d.Payload, &at, &d.ReplayedAs); err != nil {
		return DeadLetter{}, err
	}
	d.Seq, d.At = uint64(seq), fromMicros(at)
	return d, nil
}

// DeadLetters lists dead letters, newest first.
func (s *SQLite) DeadLetters(ctx context.Context, limit, offset int) ([]DeadLetter, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqliteDeadLetterCols+` FROM dead_letters ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
		clamp(limit, defaultDeadLetterLimit, maxDeadLetterLimit), offsetOf(offset))
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: list dead letters: %w", err)
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		d, err := scanSQLiteDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: scan dead letter: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: list dead letters: %w", err)
	}
	return out, nil
}

// DeadLetter returns one dead letter, ErrNotFound when there is none.
func (s *SQLite) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	d, err := scanSQLiteDeadLetter(s.r.QueryRowContext(ctx, `SELECT `+sqliteDeadLetterCols+` FROM dead_letters WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
	case err != nil:
		return DeadLetter{}, fmt.Errorf("store: sqlite: read dead letter: %w", err)
	}
	return d, nil
}

// MarkReplayed records the event ID a dead letter was replayed as.
func (s *SQLite) MarkReplayed(ctx context.Context, id int64, newEventID string) error {
	if err := checkID("new_event_id", newEventID); err != nil {
		return err
	}
	r, err := s.w.ExecContext(ctx, `UPDATE dead_letters SET replayed_as = ? WHERE id = ?`, newEventID, id)
	if err != nil {
		return fmt.Errorf("store: sqlite: mark replayed: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("store: sqlite: mark replayed: %w", err)
	} else if n == 0 {
		return fmt.Errorf("%w: dead letter %d", ErrNotFound, id)
	}
	return nil
}

// Conversation returns a session's LLM conversation state, ErrNotFound when
// none is stored.
func (s *SQLite) Conversation(ctx context.Context, sessionID string) (Conversation, error) {
	var c Conversation
	var at int64
	err := s.r.QueryRowContext(ctx, `SELECT session_id, provider, state, updated_at FROM conversations WHERE session_id = ?`, sessionID).
		Scan(&c.SessionID, &c.Provider, &c.State, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Conversation{}, fmt.Errorf("%w: conversation of %s", ErrNotFound, sessionID)
	case err != nil:
		return Conversation{}, fmt.Errorf("store: sqlite: read conversation: %w", err)
	}
	if c.State == nil {
		c.State = []byte{}
	}
	c.UpdatedAt = fromMicros(at)
	return c, nil
}
