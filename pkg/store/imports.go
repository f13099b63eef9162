package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Memory brought in from outside the event stream (a claude-mem database,
// another Mnemo's export) is written by Import, not Apply: it has no events
// and moves no cursor, so a live session that continues later goes on from
// where its own events left it. Every imported row has a stable key, so an
// import run twice, killed half-way and run again, or run on two machines'
// files writes each row once (docs/ARCHITECTURE.md §8).

// ImportedObservation is an observation with its stable import key.
type ImportedObservation struct {
	Key string `json:"key"`
	Observation
}

// ImportedSummary is a summary with its stable import key.
type ImportedSummary struct {
	Key string `json:"key"`
	Summary
}

// ImportBatch is one transaction's worth of imported memory. Sessions are
// keyed by ID (an existing session is left as it is), prompts by session
// and number, observations and summaries by Key.
type ImportBatch struct {
	Sessions     []Session
	Prompts      []Prompt
	Observations []ImportedObservation
	Summaries    []ImportedSummary
}

// ImportResult counts the rows an Import wrote, and those it found present.
type ImportResult struct {
	Sessions     int `json:"sessions"`
	Prompts      int `json:"prompts"`
	Observations int `json:"observations"`
	Summaries    int `json:"summaries"`
	Present      int `json:"present"` // rows already in the store, left as they were
}

// Add adds o's counts to r.
func (r *ImportResult) Add(o ImportResult) {
	r.Sessions += o.Sessions
	r.Prompts += o.Prompts
	r.Observations += o.Observations
	r.Summaries += o.Summaries
	r.Present += o.Present
}

// Written is the number of rows written.
func (r ImportResult) Written() int { return r.Sessions + r.Prompts + r.Observations + r.Summaries }

// SessionExport is one session's memory with the keys an import of it
// uses: a row that came by import keeps its key; a row this store made is
// keyed by this store's identity and the row's ID.
type SessionExport struct {
	Session      Session               `json:"session"`
	Prompts      []Prompt              `json:"prompts"`
	Observations []ImportedObservation `json:"observations"`
	Summaries    []ImportedSummary     `json:"summaries"`
}

// MaxImportBatch bounds the rows of one ImportBatch (one transaction).
const MaxImportBatch = 5000

// The columns of the imported tables, in the order of the statements below
// (a bulk insert takes its rows' values in that order).
var (
	importedSessionCols     = []string{"id", "project", "agent", "cwd", "status", "started_at", "ended_at", "last_event_at", "prompt_count"}
	importedPromptCols      = []string{"session_id", "number", "text", "at", "private"}
	importedObservationCols = []string{"session_id", "project", "type", "title", "subtitle", "narrative", "facts", "concepts",
		"files_read", "files_modified", "prompt_number", "accepted_at", "source_event_ids", "created_at", "import_key", "discovery_tokens"}
	importedSummaryCols = []string{"session_id", "project", "request", "investigated", "learned", "completed", "next_steps", "notes",
		"prompt_number", "accepted_at", "source_event_ids", "created_at", "import_key", "last_assistant_message"}
)

const (
	insertImportedSessionSQL = `INSERT INTO sessions (id, project, agent, cwd, status, started_at, ended_at, last_event_at, prompt_count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	insertImportedPromptSQL = `INSERT INTO prompts (session_id, number, text, at, private) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (session_id, number) DO NOTHING`
	insertImportedObservationSQL = `INSERT INTO observations (session_id, project, type, title, subtitle, narrative,
		facts, concepts, files_read, files_modified, prompt_number, accepted_at, source_event_ids, created_at, import_key,
		discovery_tokens)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertImportedSummarySQL = `INSERT INTO summaries (session_id, project, request, investigated, learned, completed,
		next_steps, notes, prompt_number, accepted_at, source_event_ids, created_at, import_key, last_assistant_message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// Import writes b in one transaction. Each session it touches is locked as
// Apply locks it (its cursor row, which Import never moves), so an import
// and a worker writing the same session take turns, and so do concurrent
// imports of the same rows.
func (s *sqlStore) Import(ctx context.Context, b ImportBatch) (ImportResult, error) {
	now := utc(time.Now())
	n, err := normalizeImport(stripImported(b), now)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = s.db.write(ctx, func(ctx context.Context, tx executor) error {
		res, err = s.importBatch(ctx, tx, n, now)
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func (s *sqlStore) importBatch(ctx context.Context, tx executor, b ImportBatch, now time.Time) (ImportResult, error) {
	var res ImportResult
	for _, id := range importSessions(b) {
		if _, err := tx.exec(ctx, createCursorSQL, id, now); err != nil {
			return res, s.fail("import: create cursor", err)
		}
		var seq uint64
		var fence int64
		if err := scanOne(ctx, tx, readCursorSQL+s.d.forUpdate, []any{id}, &seq, &fence); err != nil {
			return res, s.fail("import: lock session", err)
		}
	}
	self, err := s.storeID(ctx, tx)
	if err != nil {
		return res, err
	}
	sessions := make([][]any, len(b.Sessions))
	for i, x := range b.Sessions {
		sessions[i] = []any{x.ID, x.Project, x.Agent, x.Cwd, x.Status, x.StartedAt, x.EndedAt, x.LastEventAt, x.PromptCount}
	}
	n, err := s.importRows(ctx, tx, "sessions", importedSessionCols, sessions, insertImportedSessionSQL, "ON CONFLICT (id) DO NOTHING")
	if err != nil {
		return res, s.fail("import sessions", err)
	}
	res.Sessions, res.Present = n, len(sessions)-n
	prompts := make([][]any, len(b.Prompts))
	for i, p := range b.Prompts {
		prompts[i] = []any{p.SessionID, p.Number, p.Text, p.At, p.Private}
	}
	n, err = s.importRows(ctx, tx, "prompts", importedPromptCols, prompts, insertImportedPromptSQL, "ON CONFLICT (session_id, number) DO NOTHING")
	if err != nil {
		return res, s.fail("import prompts", err)
	}
	res.Prompts, res.Present = n, res.Present+len(prompts)-n
	obsKeys := make([]string, len(b.Observations))
	for i, o := range b.Observations {
		obsKeys[i] = o.Key
	}
	present, err := s.presentKeys(ctx, tx, "observations", self, obsKeys)
	if err != nil {
		return res, err
	}
	var st []stmt
	var fresh [][]any
	for i := range b.Observations {
		o := &b.Observations[i]
		if present[o.Key] {
			res.Present++
			continue
		}
		present[o.Key] = true // the same key twice in one batch is one row
		fresh = append(fresh, []any{o.SessionID, o.Project, o.Type, o.Title, o.Subtitle, o.Narrative, o.Facts, o.Concepts,
			o.FilesRead, o.FilesModified, o.PromptNumber, o.AcceptedAt, o.SourceEventIDs, o.CreatedAt, o.Key, o.DiscoveryTokens})
		if s.d.bulkInsert == nil {
			st = append(st, stmt{sql: insertImportedObservationSQL, args: fresh[len(fresh)-1]})
			st = s.observationFiles(st, &o.Observation)
		}
	}
	res.Observations = len(fresh)
	if s.d.bulkInsert != nil && len(fresh) > 0 {
		// The batch's rows get IDs above every ID there is (AUTOINCREMENT,
		// one writer), so the files statement finds them by ID range.
		var last int64
		if err := scanOne(ctx, tx, `SELECT coalesce(max(id), 0) FROM observations`, nil, &last); err != nil {
			return res, s.fail("import: last observation", err)
		}
		st = append(st, s.d.bulkInsert("observations", importedObservationCols, fresh, "")...)
		st = append(st, stmt{sql: importedFilesSQL, args: []any{last, last}})
		if s.d.bulkIndexed != "" {
			st = append(st, stmt{sql: s.d.bulkIndexed, args: []any{last}})
		}
	}
	sumKeys := make([]string, len(b.Summaries))
	for i, m := range b.Summaries {
		sumKeys[i] = m.Key
	}
	present, err = s.presentKeys(ctx, tx, "summaries", self, sumKeys)
	if err != nil {
		return res, err
	}
	var sums [][]any
	for _, m := range b.Summaries {
		if present[m.Key] {
			res.Present++
			continue
		}
		present[m.Key] = true
		sums = append(sums, []any{m.SessionID, m.Project, m.Request, m.Investigated, m.Learned, m.Completed, m.NextSteps,
			m.Notes, m.PromptNumber, m.AcceptedAt, m.SourceEventIDs, m.CreatedAt, m.Key, m.LastAssistantMessage})
	}
	res.Summaries = len(sums)
	st = append(st, s.rowStmts("summaries", importedSummaryCols, sums, insertImportedSummarySQL, "")...)
	if err := tx.send(ctx, st); err != nil {
		return res, s.fail("import", err)
	}
	return res, nil
}

// rowStmts writes rows (each the values of cols) into table: the driver's
// bulk statements where it has them, else single, one statement a row.
func (s *sqlStore) rowStmts(table string, cols []string, rows [][]any, single, tail string) []stmt {
	switch {
	case len(rows) == 0:
		return nil
	case s.d.bulkInsert != nil:
		return s.d.bulkInsert(table, cols, rows, tail)
	}
	out := make([]stmt, len(rows))
	for i, r := range rows {
		out[i] = stmt{sql: single, args: r}
	}
	return out
}

// importRows runs rowStmts and returns how many rows they wrote (rows an ON
// CONFLICT DO NOTHING left out are not).
func (s *sqlStore) importRows(ctx context.Context, tx executor, table string, cols []string, rows [][]any, single, tail string) (int, error) {
	written := 0
	for _, st := range s.rowStmts(table, cols, rows, single, tail) {
		n, err := tx.exec(ctx, st.sql, st.args...)
		if err != nil {
			return written, err
		}
		written += int(n)
	}
	return written, nil
}

// importedFilesSQL indexes the files of the observations a bulk import
// just wrote, those with an ID above the one bound (twice), as
// insertObservation does one by one. A path both read and modified is one
// row (ON CONFLICT).
const importedFilesSQL = `INSERT INTO observation_files (observation_id, path, project, accepted_at)
	SELECT o.id, f.value, o.project, o.accepted_at FROM observations o, json_each(o.files_read) AS f
		WHERE o.id > ? AND f.value <> ''
	UNION ALL
	SELECT o.id, f.value, o.project, o.accepted_at FROM observations o, json_each(o.files_modified) AS f
		WHERE o.id > ? AND f.value <> ''
	ON CONFLICT DO NOTHING`

// importSessions lists, sorted (so concurrent imports lock in one order),
// every session a batch writes to.
func importSessions(b ImportBatch) []string {
	seen := map[string]bool{}
	for _, x := range b.Sessions {
		seen[x.ID] = true
	}
	for _, p := range b.Prompts {
		seen[p.SessionID] = true
	}
	for _, o := range b.Observations {
		seen[o.SessionID] = true
	}
	for _, m := range b.Summaries {
		seen[m.SessionID] = true
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// presentKeys returns which keys of table's rows are in the store: rows
// imported under the key, and rows this store made whose own key
// (ownKey) names them.
func (s *sqlStore) presentKeys(ctx context.Context, x executor, table, self string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	found, err := queryMap[string, int64](ctx, x, `SELECT import_key, id FROM `+table+` WHERE import_key`+s.d.anyOf, keys)
	if err != nil {
		return nil, s.fail("import: look up keys", err)
	}
	var own []int64
	ownKeys := map[int64]string{}
	for _, k := range keys {
		if _, ok := found[k]; ok {
			out[k] = true
		} else if id, ok := parseOwnKey(k, self, table); ok {
			own = append(own, id)
			ownKeys[id] = k
		}
	}
	if len(own) > 0 {
		ids, err := queryMap[int64, int64](ctx, x, `SELECT id, id FROM `+table+` WHERE id`+s.d.anyOf, own)
		if err != nil {
			return nil, s.fail("import: look up rows", err)
		}
		for id := range ids {
			out[ownKeys[id]] = true
		}
	}
	return out, nil
}

// ownKey is the import key of a row this store made: its identity, the
// table and the row's ID.
func ownKey(self, table string, id int64) string {
	return "mnemo:" + self + ":" + table + ":" + strconv.FormatInt(id, 10)
}

func parseOwnKey(key, self, table string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, "mnemo:"+self+":"+table+":")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// storeID is this store's identity, made once by its migration.
func (s *sqlStore) storeID(ctx context.Context, x executor) (string, error) {
	var id string
	if err := scanOne(ctx, x, `SELECT v FROM store_meta WHERE k = 'id'`, nil, &id); err != nil {
		return "", s.fail("store identity", err)
	}
	return id, nil
}

// ExportSession returns one session's memory with the keys an import of it
// uses.
func (s *sqlStore) ExportSession(ctx context.Context, id string) (SessionExport, error) {
	var e SessionExport
	sess, err := s.Session(ctx, id)
	if err != nil {
		return e, err
	}
	e.Session = sess
	if e.Prompts, err = s.Prompts(ctx, id); err != nil {
		return e, err
	}
	x := s.db.reads()
	self, err := s.storeID(ctx, x)
	if err != nil {
		return e, err
	}
	e.Observations, err = queryAll(ctx, x, func(r rows) (ImportedObservation, error) {
		var key *string
		o, err := scanObservation(r, &key)
		return ImportedObservation{Key: keyOr(key, self, "observations", o.ID), Observation: o}, err
	}, `SELECT `+obsCols+`, o.import_key FROM observations o WHERE o.session_id = ? ORDER BY o.accepted_at, o.id`, id)
	if err != nil {
		return e, s.fail("export observations", err)
	}
	e.Summaries, err = queryAll(ctx, x, func(r rows) (ImportedSummary, error) {
		var m ImportedSummary
		var key *string
		err := r.Scan(&m.ID, &m.SessionID, &m.Project, &m.Request, &m.Investigated, &m.Learned, &m.Completed,
			&m.NextSteps, &m.Notes, &m.PromptNumber, &m.AcceptedAt, &m.SourceEventIDs, &m.CreatedAt, &m.LastAssistantMessage, &key)
		m.Key = keyOr(key, self, "summaries", m.ID)
		return m, err
	}, `SELECT `+summaryCols+`, import_key FROM summaries WHERE session_id = ? ORDER BY accepted_at, id`, id)
	if err != nil {
		return e, s.fail("export summaries", err)
	}
	return e, nil
}

func keyOr(key *string, self, table string, id int64) string {
	if key != nil && *key != "" {
		return *key
	}
	return ownKey(self, table, id)
}

// normalizeImport validates a batch as Apply validates its content: the
// same limits and cleaning, so imported text is stored as live text is.
func normalizeImport(b ImportBatch, now time.Time) (ImportBatch, error) {
	if rows := len(b.Sessions) + len(b.Prompts) + len(b.Observations) + len(b.Summaries); rows > MaxImportBatch {
		return b, invalid("import", "a batch of %d rows, more than %d", rows, MaxImportBatch)
	}
	n := ImportBatch{
		Sessions:     slices.Clone(b.Sessions),
		Prompts:      slices.Clone(b.Prompts),
		Observations: slices.Clone(b.Observations),
		Summaries:    slices.Clone(b.Summaries),
	}
	for i := range n.Sessions {
		x := &n.Sessions[i]
		f := fmt.Sprintf("sessions[%d]", i)
		if err := checkID(f+".id", x.ID); err != nil {
			return n, err
		}
		if err := texts([]textField{
			{f + ".project", &x.Project, MaxShortLen}, {f + ".agent", &x.Agent, MaxShortLen}, {f + ".cwd", &x.Cwd, MaxShortLen},
		}); err != nil {
			return n, err
		}
		switch x.Status {
		case "":
			x.Status = StatusCompleted
		case StatusActive, StatusCompleted, StatusAborted:
		default:
			return n, invalid(f+".status", "%q is not active, completed or aborted", x.Status)
		}
		x.StartedAt = utcOr(x.StartedAt, now)
		x.LastEventAt = utcOr(x.LastEventAt, x.StartedAt)
		if x.EndedAt != nil {
			t := utc(*x.EndedAt)
			x.EndedAt = &t
		}
	}
	for i := range n.Prompts {
		p := &n.Prompts[i]
		f := fmt.Sprintf("prompts[%d]", i)
		if err := checkID(f+".session_id", p.SessionID); err != nil {
			return n, err
		}
		if p.Number < 1 {
			return n, invalid(f+".number", "is %d, prompts count from 1", p.Number)
		}
		if err := text(f+".text", &p.Text, MaxTextLen); err != nil {
			return n, err
		}
		p.At = utcOr(p.At, now)
	}
	for i := range n.Observations {
		o := &n.Observations[i]
		f := fmt.Sprintf("observations[%d]", i)
		if err := importKey(f, o.Key); err != nil {
			return n, err
		}
		if err := checkID(f+".session_id", o.SessionID); err != nil {
			return n, err
		}
		if err := normalizeObservation(f, &o.Observation, now, now); err != nil {
			return n, err
		}
	}
	for i := range n.Summaries {
		m := &n.Summaries[i]
		f := fmt.Sprintf("summaries[%d]", i)
		if err := importKey(f, m.Key); err != nil {
			return n, err
		}
		if err := checkID(f+".session_id", m.SessionID); err != nil {
			return n, err
		}
		if err := normalizeSummary(f, &m.Summary, now, now); err != nil {
			return n, err
		}
	}
	return n, nil
}

func importKey(f, key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return invalid(f+".key", "an imported row needs its stable key")
	case len(key) > MaxShortLen:
		return invalid(f+".key", "is %d bytes, more than %d", len(key), MaxShortLen)
	case !storable(key):
		return invalid(f+".key", "holds a NUL byte or invalid UTF-8")
	}
	return nil
}
