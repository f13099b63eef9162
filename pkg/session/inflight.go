package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// InflightKey is the hash of a worker's in-flight messages: stream sequence →
// ack reply subject, so the reaper can NAK a dead worker's work at once.
func InflightKey(id string) string { return "mnemo:inflight:" + id }

// inflightTTL bounds how long a registry outlives its last write, should
// neither its worker nor the reaper delete it.
const inflightTTL = 24 * time.Hour

// InflightChange adds (Reply != "") or removes (Reply == "") one message of
// a worker's in-flight registry.
type InflightChange struct {
	Seq   uint64
	Reply string
}

// InflightRegistry is one worker's in-flight registry. It only speeds up
// recovery; correctness never depends on it.
type InflightRegistry struct {
	rdb redis.UniversalClient
	key string
}

// NewInflightRegistry returns the in-flight registry of worker id.
func NewInflightRegistry(rdb redis.UniversalClient, id string) *InflightRegistry {
	return &InflightRegistry{rdb: rdb, key: InflightKey(id)}
}

// Apply writes changes in order in one round trip.
func (r *InflightRegistry) Apply(ctx context.Context, changes ...InflightChange) error {
	if len(changes) == 0 {
		return nil
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range changes {
			f := strconv.FormatUint(c.Seq, 10)
			if c.Reply != "" {
				p.HSet(ctx, r.key, f, c.Reply)
			} else {
				p.HDel(ctx, r.key, f)
			}
		}
		p.Expire(ctx, r.key, inflightTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: in-flight registry %s: %w", r.key, err)
	}
	return nil
}

// Inflight returns a worker's registered in-flight messages (seq → reply).
func Inflight(ctx context.Context, rdb redis.UniversalClient, id string) (map[string]string, error) {
	h, err := rdb.HGetAll(ctx, InflightKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("session: in-flight of %s: %w", id, err)
	}
	return h, nil
}
