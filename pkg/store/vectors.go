package store

import (
	"context"
	"time"
)

// Vectors of observations for semantic search (docs/ARCHITECTURE.md §14):
// one per observation and model key, upserted, deleted with the observation
// by the foreign key's cascade.

// Limits of the vector calls.
const (
	MaxVectorBytes    = 4 * 8192 // float32s of the largest vector embed accepts
	maxVectorModel    = 256
	defaultVectorPage = 1000
	maxVectorPage     = 10000
	maxVectorBatch    = 2048
)

// Vector is one observation's embedding in one vector space (model key).
type Vector struct {
	ObservationID int64
	Model         string
	// Data is the vector as little-endian float32s (embed.Encode).
	Data []byte
	At   time.Time // when it was written
	// Project is the observation's project (read by Vectors, so an index
	// can filter by it; ignored by PutVectors).
	Project string
}

// VectorQuery pages through the stored vectors of one model, by
// observation ID.
type VectorQuery struct {
	Model   string
	Since   time.Time // written at or after; zero = all
	AfterID int64     // observation IDs above this
	Limit   int       // default 1000, at most 10000
}

// EmbedQuery pages through the observations to embed under a model, by ID.
type EmbedQuery struct {
	Model   string
	Project string // "" = every project
	// All includes observations that already have a vector under Model
	// (a reindex); otherwise only those without one.
	All     bool
	AfterID int64
	Limit   int // default 1000, at most 10000
}

// VectorCounts say how far embedding has come under one model.
type VectorCounts struct {
	Embedded int64 `json:"embedded"`
	Pending  int64 `json:"pending"`
}

func validModel(model string) error {
	if model == "" || len(model) > maxVectorModel || !storable(model) {
		return invalid("model", "must be 1-%d bytes of text", maxVectorModel)
	}
	return nil
}

// PutVectors writes vectors, replacing any of the same observation and
// model; a vector of an observation deleted meanwhile is dropped.
func (s *sqlStore) PutVectors(ctx context.Context, vs []Vector) error {
	if len(vs) > maxVectorBatch {
		return invalid("vectors", "at most %d a call (got %d)", maxVectorBatch, len(vs))
	}
	now := utc(time.Now())
	b := make([]stmt, 0, len(vs))
	for _, v := range vs {
		if err := validModel(v.Model); err != nil {
			return err
		}
		if len(v.Data) == 0 || len(v.Data)%4 != 0 || len(v.Data) > MaxVectorBytes {
			return invalid("vector", "must be 1-%d float32s (got %d bytes)", MaxVectorBytes/4, len(v.Data))
		}
		b = append(b, stmt{sql: `INSERT INTO observation_vectors (observation_id, model, dims, vec, at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM observations WHERE id = ?)
			ON CONFLICT (observation_id, model) DO UPDATE SET dims = excluded.dims, vec = excluded.vec, at = excluded.at`,
			args: []any{v.ObservationID, v.Model, len(v.Data) / 4, v.Data, now, v.ObservationID}})
	}
	if len(b) == 0 {
		return nil
	}
	if err := s.db.write(ctx, func(ctx context.Context, tx executor) error { return tx.send(ctx, b) }); err != nil {
		return s.fail("put vectors", err)
	}
	return nil
}

// ToEmbed returns observations to embed under q.Model, by ascending ID.
func (s *sqlStore) ToEmbed(ctx context.Context, q EmbedQuery) ([]Observation, error) {
	if err := validModel(q.Model); err != nil {
		return nil, err
	}
	if !storable(q.Project) {
		return []Observation{}, nil
	}
	sql := `SELECT ` + obsCols + ` FROM observations o WHERE o.id > ?`
	args := []any{q.AfterID}
	if q.Project != "" {
		sql += ` AND o.project = ?`
		args = append(args, q.Project)
	}
	if !q.All {
		sql += ` AND NOT EXISTS (SELECT 1 FROM observation_vectors v WHERE v.observation_id = o.id AND v.model = ?)`
		args = append(args, q.Model)
	}
	sql += ` ORDER BY o.id LIMIT ?`
	return s.observations(ctx, sql, append(args, clamp(q.Limit, defaultVectorPage, maxVectorPage))...)
}

// Vectors returns stored vectors of q.Model by ascending observation ID.
func (s *sqlStore) Vectors(ctx context.Context, q VectorQuery) ([]Vector, error) {
	if err := validModel(q.Model); err != nil {
		return nil, err
	}
	// All of a model's vectors are read in the order of the index by
	// model and ID. Those written since a time are found by the index by
	// model and time (migration 12): the unary + keeps the planner from
	// walking the first index for its order and reading every row, which
	// in SQLite means every vector's overflow pages.
	sql := `SELECT v.observation_id, v.vec, v.at, o.project FROM observation_vectors v JOIN observations o ON o.id = v.observation_id
		WHERE v.model = ? AND v.observation_id > ? ORDER BY v.observation_id LIMIT ?`
	args := []any{q.Model, q.AfterID, clamp(q.Limit, defaultVectorPage, maxVectorPage)}
	if !q.Since.IsZero() {
		sql = `SELECT v.observation_id, v.vec, v.at, o.project FROM observation_vectors v JOIN observations o ON o.id = v.observation_id
		WHERE v.model = ? AND v.at >= ? AND +v.observation_id > ? ORDER BY +v.observation_id LIMIT ?`
		args = []any{q.Model, utc(q.Since), q.AfterID, args[2]}
	}
	out, err := queryAll(ctx, s.db.reads(), func(r rows) (Vector, error) {
		v := Vector{Model: q.Model}
		return v, r.Scan(&v.ObservationID, &v.Data, &v.At, &v.Project)
	}, sql, args...)
	if err != nil {
		return nil, s.fail("vectors", err)
	}
	return out, nil
}

// VectorIDs returns the IDs of the observations having a vector under
// model, ascending: what an index holding them compares itself with to drop
// the deleted.
func (s *sqlStore) VectorIDs(ctx context.Context, model string) ([]int64, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db.reads(), func(r rows) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT observation_id FROM observation_vectors WHERE model = ? ORDER BY observation_id`, model)
	if err != nil {
		return nil, s.fail("vector ids", err)
	}
	return out, nil
}

// CountVectors says how many observations (of project; "" = all) have a
// vector under model and how many wait for one.
func (s *sqlStore) CountVectors(ctx context.Context, model, project string) (VectorCounts, error) {
	if err := validModel(model); err != nil {
		return VectorCounts{}, err
	}
	var c VectorCounts
	var total int64
	where, args := ``, []any{model}
	if project != "" {
		where, args = ` AND o.project = ?`, append(args, project)
	}
	err := scanOne(ctx, s.db.reads(), `SELECT count(v.observation_id), count(*) FROM observations o
		LEFT JOIN observation_vectors v ON v.observation_id = o.id AND v.model = ? WHERE true`+where, args, &c.Embedded, &total)
	if err != nil {
		return VectorCounts{}, s.fail("count vectors", err)
	}
	c.Pending = total - c.Embedded
	return c, nil
}

// DropVectors deletes the vectors of every model but keep (after a model
// change, once the new model's are written) and says how many went.
func (s *sqlStore) DropVectors(ctx context.Context, keep string) (int64, error) {
	if err := validModel(keep); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.write(ctx, func(ctx context.Context, tx executor) error {
		var err error
		n, err = tx.exec(ctx, `DELETE FROM observation_vectors WHERE model <> ?`, keep)
		return err
	})
	if err != nil {
		return 0, s.fail("drop vectors", err)
	}
	return n, nil
}
