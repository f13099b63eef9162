package store

import (
	"context"
	"strings"
	"time"
)

// Vectors of memories for semantic search (docs/ARCHITECTURE.md §14): one
// per memory (observation, summary or prompt) and model key, upserted,
// deleted with the memory by the foreign key's cascade. Each kind has its
// own table, so that cascade holds; one code path serves the three.

// Limits of the vector calls.
const (
	MaxVectorBytes    = 4 * 8192 // float32s of the largest vector embed accepts
	maxVectorModel    = 256
	defaultVectorPage = 1000
	maxVectorPage     = 10000
	maxVectorBatch    = 2048
)

// Kind is what a vector is of: IDs are unique within a kind only.
type Kind string

// The kinds of memory embedded.
const (
	KindObservation Kind = "observation"
	KindSummary     Kind = "summary"
	KindPrompt      Kind = "prompt"
)

// Kinds lists every kind embedded.
var Kinds = []Kind{KindObservation, KindSummary, KindPrompt}

// Vector is one memory's embedding in one vector space (model key).
type Vector struct {
	Kind  Kind
	ID    int64 // the observation's, summary's or prompt's ID
	Model string
	// Data is the vector as little-endian float32s (embed.Encode).
	Data []byte
	At   time.Time // when it was written
	// Project is the memory's project (read by Vectors, so an index can
	// filter by it; ignored by PutVectors).
	Project string
}

// VectorQuery pages through the stored vectors of one kind and model: by
// ID, or, since a time, in the order they were written.
type VectorQuery struct {
	Kind  Kind
	Model string
	// Since reads only the vectors written at or after it (zero = all),
	// in the order written (At, then ID): a page goes on after the last
	// one read, (AfterAt, AfterID).
	Since   time.Time
	AfterAt time.Time
	AfterID int64 // IDs above this (since a time: with AfterAt)
	Limit   int   // default 1000, at most 10000
	// IDs, when set, reads only these memories' vectors, by ID, at most
	// 10000 (Since is then ignored).
	IDs []int64
	// Stamps reads each vector's ID and At but not its Data nor Project:
	// what an index compares with what it holds before reading the
	// vectors it lacks (a vector read again costs its whole blob).
	Stamps bool
}

// EmbedQuery pages through the memories of a kind to embed under a model,
// by ID.
type EmbedQuery struct {
	Kind    Kind
	Model   string
	Project string // "" = every project
	// All includes memories that already have a vector under Model (a
	// reindex); otherwise only those without one.
	All     bool
	AfterID int64
	Limit   int // default 1000, at most 10000
}

// Embeddable is a memory to embed and the text embedded of it: an
// observation's title, subtitle, narrative and facts; a summary's request,
// investigated, learned, completed, next steps and notes; a prompt's text.
// A memory with no text (a private prompt) is never one.
type Embeddable struct {
	ID      int64
	Project string
	Text    string
}

// VectorCounts say how far embedding has come under one model.
type VectorCounts struct {
	Embedded int64 `json:"embedded"`
	Pending  int64 `json:"pending"`
}

// vectorKind is where a kind's memories and vectors are: one code path
// serves every kind with these names.
type vectorKind struct {
	vectors, id string // the vectors' table and its column of the memory's ID
	table       string // the memories, aliased as alias
	alias       string
	join        string // what else the memories' project needs
	project     string // the memory's project
	embeddable  string // " AND …": the memories that have text
	cols        string // what ToEmbed reads of a memory, for scan
	scan        func(rows) (Embeddable, error)
}

var vectorKinds = map[Kind]vectorKind{
	KindObservation: {vectors: "observation_vectors", id: "observation_id", table: "observations o", alias: "o",
		project: "o.project", cols: obsCols, scan: func(r rows) (Embeddable, error) {
			o, err := scanObservation(r)
			return Embeddable{ID: o.ID, Project: o.Project, Text: embedText(append([]string{o.Title, o.Subtitle, o.Narrative}, o.Facts...)...)}, err
		}},
	KindSummary: {vectors: "summary_vectors", id: "summary_id", table: "summaries m", alias: "m",
		project: "m.project", cols: `m.id, m.project, m.request, m.investigated, m.learned, m.completed, m.next_steps, m.notes`,
		embeddable: ` AND (m.request <> '' OR m.investigated <> '' OR m.learned <> '' OR m.completed <> '' OR m.next_steps <> '' OR m.notes <> '')`,
		scan: func(r rows) (Embeddable, error) {
			var e Embeddable
			f := make([]string, 6)
			err := r.Scan(&e.ID, &e.Project, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5])
			e.Text = embedText(f...)
			return e, err
		}},
	KindPrompt: {vectors: "prompt_vectors", id: "prompt_id", table: "prompts p", alias: "p",
		join: ` LEFT JOIN sessions s ON s.id = p.session_id`, project: "coalesce(s.project, '')",
		embeddable: ` AND p.text <> ''`, cols: `p.id, coalesce(s.project, ''), p.text`,
		scan: func(r rows) (Embeddable, error) {
			var e Embeddable
			err := r.Scan(&e.ID, &e.Project, &e.Text)
			return e, err
		}},
}

// embedText joins a memory's non-blank fields, one a line.
func embedText(fields ...string) string {
	var b strings.Builder
	for _, s := range fields {
		if s = strings.TrimSpace(s); s != "" {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// kindOf returns the tables of kind k for vectors of model, refusing an
// unknown kind or a model name the store cannot keep.
func kindOf(k Kind, model string) (vectorKind, error) {
	t, ok := vectorKinds[k]
	if !ok {
		return t, invalid("kind", "must be observation, summary or prompt (got %q)", k)
	}
	return t, validModel(model)
}

func validModel(model string) error {
	if model == "" || len(model) > maxVectorModel || !storable(model) {
		return invalid("model", "must be 1-%d bytes of text", maxVectorModel)
	}
	return nil
}

// PutVectors writes vectors, replacing any of the same memory and model; a
// vector of a memory deleted meanwhile is dropped.
func (s *sqlStore) PutVectors(ctx context.Context, vs []Vector) error {
	if len(vs) > maxVectorBatch {
		return invalid("vectors", "at most %d a call (got %d)", maxVectorBatch, len(vs))
	}
	now := utc(time.Now())
	b := make([]stmt, 0, len(vs))
	for _, v := range vs {
		t, err := kindOf(v.Kind, v.Model)
		if err != nil {
			return err
		}
		if len(v.Data) == 0 || len(v.Data)%4 != 0 || len(v.Data) > MaxVectorBytes {
			return invalid("vector", "must be 1-%d float32s (got %d bytes)", MaxVectorBytes/4, len(v.Data))
		}
		b = append(b, stmt{sql: `INSERT INTO ` + t.vectors + ` (` + t.id + `, model, dims, vec, at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM ` + t.table + ` WHERE ` + t.alias + `.id = ?)
			ON CONFLICT (` + t.id + `, model) DO UPDATE SET dims = excluded.dims, vec = excluded.vec, at = excluded.at`,
			args: []any{v.ID, v.Model, len(v.Data) / 4, v.Data, now, v.ID}})
	}
	if len(b) == 0 {
		return nil
	}
	if err := s.db.write(ctx, func(ctx context.Context, tx executor) error { return tx.send(ctx, b) }); err != nil {
		return s.fail("put vectors", err)
	}
	return nil
}

// ToEmbed returns memories of q.Kind to embed under q.Model, by ascending
// ID.
func (s *sqlStore) ToEmbed(ctx context.Context, q EmbedQuery) ([]Embeddable, error) {
	t, err := kindOf(q.Kind, q.Model)
	if err != nil {
		return nil, err
	}
	if !storable(q.Project) {
		return []Embeddable{}, nil
	}
	sql := `SELECT ` + t.cols + ` FROM ` + t.table + t.join + ` WHERE ` + t.alias + `.id > ?` + t.embeddable
	args := []any{q.AfterID}
	if q.Project != "" {
		sql += ` AND ` + t.project + ` = ?`
		args = append(args, q.Project)
	}
	if !q.All {
		sql += ` AND NOT EXISTS (SELECT 1 FROM ` + t.vectors + ` v WHERE v.` + t.id + ` = ` + t.alias + `.id AND v.model = ?)`
		args = append(args, q.Model)
	}
	sql += ` ORDER BY ` + t.alias + `.id LIMIT ?`
	return readAll(ctx, s, "memories to embed", t.scan, sql, append(args, clamp(q.Limit, defaultVectorPage, maxVectorPage))...)
}

// Vectors returns stored vectors of q.Kind and q.Model: by ascending ID, or,
// since q.Since, in the order written (at, then ID).
func (s *sqlStore) Vectors(ctx context.Context, q VectorQuery) ([]Vector, error) {
	t, err := kindOf(q.Kind, q.Model)
	if err != nil {
		return nil, err
	}
	if len(q.IDs) > maxVectorPage {
		return nil, invalid("ids", "at most %d a call (got %d)", maxVectorPage, len(q.IDs))
	}
	// All of a model's vectors are read in the order of the index by
	// model and ID; those written since a time in the order of the index
	// by model, time and ID (migration 15), which holds all a stamp is,
	// so a sync's stamps read no vector row (in SQLite, at lies past the
	// vector's overflow pages).
	cols, from := `v.vec, v.at, `+t.project, t.vectors+` v JOIN `+t.table+` ON `+t.alias+`.id = v.`+t.id+t.join
	if q.Stamps {
		cols, from = `NULL, v.at, ''`, t.vectors+` v`
	}
	where, args := ` WHERE v.model = ?`, []any{q.Model}
	order := ` ORDER BY v.` + t.id
	switch {
	case len(q.IDs) > 0:
		where, args = where+` AND v.`+t.id+s.d.anyOf+` AND v.`+t.id+` > ?`, append(args, q.IDs, q.AfterID)
	case !q.Since.IsZero():
		after, afterID := q.AfterAt, q.AfterID
		if after.Before(q.Since) {
			after, afterID = q.Since, 0
		}
		where += ` AND v.at >= ? AND (v.at, v.` + t.id + `) > (?, ?)`
		args = append(args, utc(q.Since), utc(after), afterID)
		order = ` ORDER BY v.at, v.` + t.id
	default:
		where, args = where+` AND v.`+t.id+` > ?`, append(args, q.AfterID)
	}
	sql := `SELECT v.` + t.id + `, ` + cols + ` FROM ` + from + where + order + ` LIMIT ?`
	return readAll(ctx, s, "vectors", func(r rows) (Vector, error) {
		v := Vector{Kind: q.Kind, Model: q.Model}
		return v, r.Scan(&v.ID, &v.Data, &v.At, &v.Project)
	}, sql, append(args, clamp(q.Limit, defaultVectorPage, maxVectorPage))...)
}

// VectorIDs returns the IDs of the memories of kind having a vector under
// model, ascending: what an index holding them compares itself with to drop
// the deleted.
func (s *sqlStore) VectorIDs(ctx context.Context, kind Kind, model string) ([]int64, error) {
	t, err := kindOf(kind, model)
	if err != nil {
		return nil, err
	}
	return readAll(ctx, s, "vector ids", func(r rows) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT `+t.id+` FROM `+t.vectors+` WHERE model = ? ORDER BY `+t.id, model)
}

// CountVectors says how many memories of kind (of project; "" = all) have
// a vector under model and how many wait for one.
func (s *sqlStore) CountVectors(ctx context.Context, kind Kind, model, project string) (VectorCounts, error) {
	t, err := kindOf(kind, model)
	if err != nil {
		return VectorCounts{}, err
	}
	var c VectorCounts
	var total int64
	where, args := t.embeddable, []any{model}
	if project != "" {
		where, args = where+` AND `+t.project+` = ?`, append(args, project)
	}
	err = scanOne(ctx, s.db.reads(), `SELECT count(v.`+t.id+`), count(*) FROM `+t.table+t.join+`
		LEFT JOIN `+t.vectors+` v ON v.`+t.id+` = `+t.alias+`.id AND v.model = ? WHERE true`+where, args, &c.Embedded, &total)
	if err != nil {
		return VectorCounts{}, s.fail("count vectors", err)
	}
	c.Pending = total - c.Embedded
	return c, nil
}

// DropVectors deletes the vectors of every kind and model but keep (after
// a model change, once the new model's are written) and says how many
// went.
func (s *sqlStore) DropVectors(ctx context.Context, keep string) (int64, error) {
	if err := validModel(keep); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.write(ctx, func(ctx context.Context, tx executor) error {
		n = 0
		for _, k := range Kinds {
			d, err := tx.exec(ctx, `DELETE FROM `+vectorKinds[k].vectors+` WHERE model <> ?`, keep)
			if err != nil {
				return err
			}
			n += d
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("drop vectors", err)
	}
	return n, nil
}
