// Package claudemem reads a claude-mem database (~/.claude-mem/claude-mem.db)
// so its memory can be imported into Mnemo. It opens the file read-only, so
// claude-mem may keep running and writing it (WAL, busy timeout), reads only
// the columns the file has (older claude-mem releases lack several) and gives
// every row a stable key made of claude-mem's own stable identifiers, never
// its integer ids, so importing twice, or two machines' databases, never
// writes a row twice.
package claudemem

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go "sqlite" driver
)

// DefaultPath is where claude-mem keeps its database.
func DefaultPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".claude-mem/claude-mem.db"
	}
	return home + "/.claude-mem/claude-mem.db"
}

// ErrNotClaudeMem: the file is not a claude-mem database (a table it always
// has is missing, or it is not SQLite at all).
var ErrNotClaudeMem = errors.New("not a claude-mem database")

// Session is one claude-mem session (sdk_sessions). Its ID is Claude Code's
// session id (content_session_id), which is also Mnemo's session id, so a
// resumed Claude Code session continues the imported one.
type Session struct {
	ID              string
	MemorySessionID string
	Project         string
	PlatformSource  string
	FirstPrompt     string
	Status          string // active, completed, failed
	StartedAt       time.Time
	CompletedAt     *time.Time
}

// Prompt is one user prompt (user_prompts). Key: session and prompt number.
type Prompt struct {
	SessionID string
	Number    int
	Text      string
	At        time.Time
}

// Key is the prompt's stable import key.
func (p Prompt) Key() string {
	return "claude-mem:prompt:" + p.SessionID + ":" + strconv.Itoa(p.Number)
}

// Observation is one claude-mem observation. Project is merged_into_project
// when claude-mem merged it into another project.
type Observation struct {
	Key             string // stable: memory session id and content hash
	SessionID       string // content_session_id of its session ("" if its session is gone)
	MemorySessionID string
	Project         string
	PlatformSource  string
	Type            string
	Title           string
	Subtitle        string
	Narrative       string
	Text            string
	Facts           []string
	Concepts        []string
	FilesRead       []string
	FilesModified   []string
	PromptNumber    int
	DiscoveryTokens int64
	At              time.Time
}

// Summary is one session summary (session_summaries).
type Summary struct {
	Key             string // stable: memory session id, prompt number, creation time
	SessionID       string
	MemorySessionID string
	Project         string
	Request         string
	Investigated    string
	Learned         string
	Completed       string
	NextSteps       string
	Notes           string
	FilesRead       []string
	FilesEdited     []string
	PromptNumber    int
	DiscoveryTokens int64
	At              time.Time
}

// Counts are the rows a database holds (for one project, or all).
type Counts struct {
	Sessions     int
	Prompts      int
	Observations int
	Summaries    int
}

// DB is an open claude-mem database.
type DB struct {
	db      *sql.DB
	cols    map[string]map[string]bool // table → columns present
	missing []string
}

// optional are the columns newer claude-mem releases added, by table; a file
// without them is read all the same.
var optional = map[string][]string{
	"sdk_sessions":      {"platform_source", "memory_session_id", "user_prompt", "completed_at_epoch", "status"},
	"observations":      {"subtitle", "narrative", "text", "facts", "concepts", "files_read", "files_modified", "prompt_number", "discovery_tokens", "content_hash", "merged_into_project"},
	"session_summaries": {"investigated", "learned", "completed", "next_steps", "notes", "files_read", "files_edited", "prompt_number", "discovery_tokens", "merged_into_project"},
	"user_prompts":      {},
}

// required are the columns without which the file is not one claude-mem wrote.
var required = map[string][]string{
	"sdk_sessions":      {"content_session_id", "project", "started_at_epoch"},
	"observations":      {"memory_session_id", "project", "type", "title", "created_at_epoch"},
	"session_summaries": {"memory_session_id", "project", "request", "created_at_epoch"},
	"user_prompts":      {"content_session_id", "prompt_number", "prompt_text", "created_at_epoch"},
}

// Open opens path read-only. A database claude-mem is writing is read as of
// each statement's snapshot; a lock is waited on for up to five seconds.
func Open(ctx context.Context, path string) (*DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("claude-mem database: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("claude-mem database: %s is a directory", path)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("claude-mem database %s: %w", path, err)
	}
	d := &DB{db: db, cols: map[string]map[string]bool{}}
	if err := d.readSchema(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Missing names, as table.column, the optional columns this file lacks:
// fields an older claude-mem did not record, imported empty.
func (d *DB) Missing() []string { return d.missing }

func (d *DB) readSchema(ctx context.Context) error {
	for table := range required {
		rows, err := d.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotClaudeMem, err)
		}
		cols := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("%w: %v", ErrNotClaudeMem, err)
			}
			cols[name] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotClaudeMem, err)
		}
		if len(cols) == 0 {
			return fmt.Errorf("%w: no table %s", ErrNotClaudeMem, table)
		}
		for _, c := range required[table] {
			if !cols[c] {
				return fmt.Errorf("%w: table %s has no column %s", ErrNotClaudeMem, table, c)
			}
		}
		d.cols[table] = cols
	}
	for table, cs := range optional {
		for _, c := range cs {
			if !d.cols[table][c] {
				d.missing = append(d.missing, table+"."+c)
			}
		}
	}
	sort.Strings(d.missing)
	return nil
}

// col is the column's expression when the table has it, else a NULL.
func (d *DB) col(table, alias, name string) string {
	if d.cols[table][name] {
		return alias + "." + name
	}
	return "NULL"
}

// Projects lists the projects the database holds memory for.
func (d *DB) Projects(ctx context.Context) ([]string, error) {
	q := "SELECT DISTINCT project FROM sdk_sessions UNION SELECT DISTINCT " + d.obsProject("o") + " FROM observations o ORDER BY 1"
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("claude-mem projects: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("claude-mem projects: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (d *DB) obsProject(alias string) string {
	if d.cols["observations"]["merged_into_project"] {
		return "COALESCE(NULLIF(" + alias + ".merged_into_project, ''), " + alias + ".project)"
	}
	return alias + ".project"
}

func (d *DB) sumProject(alias string) string {
	if d.cols["session_summaries"]["merged_into_project"] {
		return "COALESCE(NULLIF(" + alias + ".merged_into_project, ''), " + alias + ".project)"
	}
	return alias + ".project"
}

// memoryJoin joins a table keyed by memory_session_id to its session.
func (d *DB) memoryJoin(alias string) string {
	if !d.cols["sdk_sessions"]["memory_session_id"] {
		return " LEFT JOIN sdk_sessions s ON 0"
	}
	return " LEFT JOIN sdk_sessions s ON s.memory_session_id = " + alias + ".memory_session_id"
}

// Count counts what an import of project ("" = all) reads.
func (d *DB) Count(ctx context.Context, project string) (Counts, error) {
	var c Counts
	where, args := projectWhere("s.project", project)
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM sdk_sessions s"+where, args...).Scan(&c.Sessions); err != nil {
		return c, fmt.Errorf("claude-mem count sessions: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM user_prompts p JOIN sdk_sessions s ON s.content_session_id = p.content_session_id"+where, args...).Scan(&c.Prompts); err != nil {
		return c, fmt.Errorf("claude-mem count prompts: %w", err)
	}
	where, args = projectWhere(d.obsProject("o"), project)
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM observations o"+where, args...).Scan(&c.Observations); err != nil {
		return c, fmt.Errorf("claude-mem count observations: %w", err)
	}
	where, args = projectWhere(d.sumProject("m"), project)
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM session_summaries m"+where, args...).Scan(&c.Summaries); err != nil {
		return c, fmt.Errorf("claude-mem count summaries: %w", err)
	}
	return c, nil
}

func projectWhere(expr, project string) (string, []any) {
	if project == "" {
		return "", nil
	}
	return " WHERE " + expr + " = ?", []any{project}
}

// Sessions calls fn for each session of project ("" = all), oldest first.
func (d *DB) Sessions(ctx context.Context, project string, fn func(Session) error) error {
	t := "sdk_sessions"
	where, args := projectWhere("s.project", project)
	q := "SELECT s.content_session_id, " + d.col(t, "s", "memory_session_id") + ", s.project, " +
		d.col(t, "s", "platform_source") + ", " + d.col(t, "s", "user_prompt") + ", " + d.col(t, "s", "status") +
		", s.started_at_epoch, " + d.col(t, "s", "completed_at_epoch") + " FROM sdk_sessions s" + where + " ORDER BY s.started_at_epoch, s.id"
	return d.each(ctx, "sessions", q, args, func(rows *sql.Rows) error {
		var s Session
		var mem, platform, prompt, status sql.NullString
		var started int64
		var completed sql.NullInt64
		if err := rows.Scan(&s.ID, &mem, &s.Project, &platform, &prompt, &status, &started, &completed); err != nil {
			return err
		}
		s.MemorySessionID, s.PlatformSource, s.FirstPrompt, s.Status = mem.String, platform.String, prompt.String, status.String
		if s.PlatformSource == "" {
			s.PlatformSource = "claude"
		}
		s.StartedAt = epoch(started)
		if completed.Valid && completed.Int64 > 0 {
			at := epoch(completed.Int64)
			s.CompletedAt = &at
		}
		return fn(s)
	})
}

// Prompts calls fn for each prompt of project's sessions, in session and
// prompt order.
func (d *DB) Prompts(ctx context.Context, project string, fn func(Prompt) error) error {
	where, args := projectWhere("s.project", project)
	q := "SELECT p.content_session_id, p.prompt_number, p.prompt_text, p.created_at_epoch FROM user_prompts p" +
		" JOIN sdk_sessions s ON s.content_session_id = p.content_session_id" + where + " ORDER BY p.content_session_id, p.prompt_number, p.id"
	return d.each(ctx, "prompts", q, args, func(rows *sql.Rows) error {
		var p Prompt
		var at int64
		if err := rows.Scan(&p.SessionID, &p.Number, &p.Text, &at); err != nil {
			return err
		}
		p.At = epoch(at)
		return fn(p)
	})
}

// Observations calls fn for each observation of project, oldest first.
func (d *DB) Observations(ctx context.Context, project string, fn func(Observation) error) error {
	t := "observations"
	proj := d.obsProject("o")
	where, args := projectWhere(proj, project)
	q := "SELECT o.memory_session_id, COALESCE(s.content_session_id, ''), " + proj + ", " + d.col("sdk_sessions", "s", "platform_source") +
		", o.type, COALESCE(o.title, ''), " + d.col(t, "o", "subtitle") + ", " + d.col(t, "o", "narrative") + ", " + d.col(t, "o", "text") +
		", " + d.col(t, "o", "facts") + ", " + d.col(t, "o", "concepts") + ", " + d.col(t, "o", "files_read") + ", " + d.col(t, "o", "files_modified") +
		", " + d.col(t, "o", "prompt_number") + ", " + d.col(t, "o", "discovery_tokens") + ", " + d.col(t, "o", "content_hash") +
		", o.created_at_epoch FROM observations o" + d.memoryJoin("o") + where + " ORDER BY o.created_at_epoch, o.id"
	return d.each(ctx, "observations", q, args, func(rows *sql.Rows) error {
		var o Observation
		var platform, subtitle, narrative, text, facts, concepts, read, modified, hash sql.NullString
		var prompt, tokens sql.NullInt64
		var at int64
		if err := rows.Scan(&o.MemorySessionID, &o.SessionID, &o.Project, &platform, &o.Type, &o.Title, &subtitle, &narrative, &text,
			&facts, &concepts, &read, &modified, &prompt, &tokens, &hash, &at); err != nil {
			return err
		}
		o.PlatformSource, o.Subtitle, o.Narrative, o.Text = platform.String, subtitle.String, narrative.String, text.String
		o.Facts, o.Concepts, o.FilesRead, o.FilesModified = list(facts), list(concepts), list(read), list(modified)
		o.PromptNumber, o.DiscoveryTokens, o.At = int(prompt.Int64), tokens.Int64, epoch(at)
		h := hash.String
		if h == "" {
			h = o.fieldsHash()
		}
		o.Key = "claude-mem:obs:" + o.MemorySessionID + ":" + h
		return fn(o)
	})
}

// fieldsHash stands in for content_hash where an older claude-mem did not
// record one: a hash of the observation's own content, so the key is as
// stable as the row.
func (o Observation) fieldsHash() string {
	h := sha256.New()
	for _, f := range []string{o.Type, o.Title, o.Subtitle, o.Narrative, o.Text, strings.Join(o.Facts, "\x1f"),
		strings.Join(o.Concepts, "\x1f"), strings.Join(o.FilesRead, "\x1f"), strings.Join(o.FilesModified, "\x1f"),
		strconv.Itoa(o.PromptNumber), strconv.FormatInt(o.At.UnixMilli(), 10)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "f" + hex.EncodeToString(h.Sum(nil))[:16]
}

// Summaries calls fn for each summary of project, oldest first.
func (d *DB) Summaries(ctx context.Context, project string, fn func(Summary) error) error {
	t := "session_summaries"
	proj := d.sumProject("m")
	where, args := projectWhere(proj, project)
	q := "SELECT m.memory_session_id, COALESCE(s.content_session_id, ''), " + proj + ", COALESCE(m.request, ''), " +
		d.col(t, "m", "investigated") + ", " + d.col(t, "m", "learned") + ", " + d.col(t, "m", "completed") + ", " +
		d.col(t, "m", "next_steps") + ", " + d.col(t, "m", "notes") + ", " + d.col(t, "m", "files_read") + ", " +
		d.col(t, "m", "files_edited") + ", " + d.col(t, "m", "prompt_number") + ", " + d.col(t, "m", "discovery_tokens") +
		", m.created_at_epoch FROM session_summaries m" + d.memoryJoin("m") + where + " ORDER BY m.created_at_epoch, m.id"
	return d.each(ctx, "summaries", q, args, func(rows *sql.Rows) error {
		var m Summary
		var inv, learned, completed, next, notes, read, edited sql.NullString
		var prompt, tokens sql.NullInt64
		var at int64
		if err := rows.Scan(&m.MemorySessionID, &m.SessionID, &m.Project, &m.Request, &inv, &learned, &completed, &next, &notes,
			&read, &edited, &prompt, &tokens, &at); err != nil {
			return err
		}
		m.Investigated, m.Learned, m.Completed, m.NextSteps, m.Notes = inv.String, learned.String, completed.String, next.String, notes.String
		m.FilesRead, m.FilesEdited = list(read), list(edited)
		m.PromptNumber, m.DiscoveryTokens, m.At = int(prompt.Int64), tokens.Int64, epoch(at)
		m.Key = "claude-mem:sum:" + m.MemorySessionID + ":" + strconv.Itoa(m.PromptNumber) + ":" + strconv.FormatInt(at, 10)
		return fn(m)
	})
}

func (d *DB) each(ctx context.Context, what, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("claude-mem %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("claude-mem %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("claude-mem %s: %w", what, err)
	}
	return nil
}

// epoch reads claude-mem's *_epoch columns: milliseconds (seconds in rows
// written by its oldest releases).
func epoch(v int64) time.Time {
	if v > 0 && v < 100_000_000_000 {
		return time.Unix(v, 0).UTC()
	}
	return time.UnixMilli(v).UTC()
}

// list reads a JSON array kept in TEXT; anything else is one item, or none.
func list(s sql.NullString) []string {
	v := strings.TrimSpace(s.String)
	if v == "" || v == "null" {
		return nil
	}
	var out []string
	if strings.HasPrefix(v, "[") {
		var raw []any
		if err := json.Unmarshal([]byte(v), &raw); err == nil {
			for _, x := range raw {
				switch x := x.(type) {
				case string:
					if x != "" {
						out = append(out, x)
					}
				case nil:
				default:
					b, _ := json.Marshal(x)
					out = append(out, string(b))
				}
			}
			return out
		}
	}
	return []string{v}
}
