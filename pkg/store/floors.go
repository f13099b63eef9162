package store

import (
	"context"
	"math"
)

// PartitionFloors returns the ack floors recorded for stream.
func (s *sqlStore) PartitionFloors(ctx context.Context, stream string) (map[int]uint64, error) {
	f, err := queryMap[int, uint64](ctx, s.db.reads(), `SELECT partition, seq FROM partition_floors WHERE stream = ?`, stream)
	if err != nil {
		return nil, s.fail("floors", err)
	}
	return f, nil
}

// SavePartitionFloors records floors for stream, never lowering one.
func (s *sqlStore) SavePartitionFloors(ctx context.Context, stream string, floors map[int]uint64) error {
	if err := validFloors(stream, floors); err != nil {
		return err
	}
	b := make([]stmt, 0, len(floors))
	for p, seq := range floors {
		b = append(b, stmt{sql: `INSERT INTO partition_floors (stream, partition, seq) VALUES (?, ?, ?)
			ON CONFLICT (stream, partition) DO UPDATE SET seq = excluded.seq WHERE partition_floors.seq < excluded.seq`,
			args: []any{stream, p, int64(seq)}})
	}
	err := s.db.write(ctx, func(ctx context.Context, tx executor) error { return tx.send(ctx, b) })
	if err != nil {
		return s.fail("save floors", err)
	}
	return nil
}

// validFloors checks partition floors before they are recorded.
func validFloors(stream string, floors map[int]uint64) error {
	if stream == "" || len(stream) > MaxIDLen {
		return invalid("stream", "must be 1-%d bytes", MaxIDLen)
	}
	for p, seq := range floors {
		if p < 0 || p > 1<<16 {
			return invalid("partition", "%d is out of range", p)
		}
		if seq > math.MaxInt64 {
			return invalid("seq", "%d is out of range", seq)
		}
	}
	return nil
}
