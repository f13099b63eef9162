package session

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/lease"
	"github.com/redis/go-redis/v9"
)

// WorkersKey is the sorted set of workers by last heartbeat (ms).
const WorkersKey = "mnemo:workers"

// WorkerKey is a worker's heartbeat key (PX ttl).
func WorkerKey(id string) string { return "mnemo:worker:" + id }

// InflightKey is the hash of a worker's in-flight messages: stream sequence →
// ack reply subject, so the reaper can NAK a dead worker's work at once.
func InflightKey(id string) string { return "mnemo:inflight:" + id }

// PartitionKey is the lease of one partition.
func PartitionKey(p int) string { return fmt.Sprintf("mnemo:part:%02d", p) }

// Membership keeps a worker's heartbeat, its partition leases and its
// in-flight registry.
type Membership struct {
	rdb redis.UniversalClient
	id  string
	ttl time.Duration
}

// NewMembership returns the membership of worker id whose heartbeat and
// leases last ttl unless refreshed.
func NewMembership(rdb redis.UniversalClient, id string, ttl time.Duration) *Membership {
	return &Membership{rdb: rdb, id: id, ttl: ttl}
}

// ID is the worker ID.
func (m *Membership) ID() string { return m.id }

// Heartbeat refreshes the worker's liveness.
func (m *Membership) Heartbeat(ctx context.Context) error {
	now := time.Now().UnixMilli()
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, WorkerKey(m.id), now, m.ttl)
		p.ZAdd(ctx, WorkersKey, redis.Z{Score: float64(now), Member: m.id})
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: heartbeat of %s: %w", m.id, err)
	}
	return nil
}

// Leave removes the worker's heartbeat (clean shutdown).
func (m *Membership) Leave(ctx context.Context) error {
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, WorkerKey(m.id), InflightKey(m.id))
		p.ZRem(ctx, WorkersKey, m.id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: leave %s: %w", m.id, err)
	}
	return nil
}

// LiveWorkers returns the IDs of workers whose heartbeat is younger than the
// ttl, sorted.
func LiveWorkers(ctx context.Context, rdb redis.UniversalClient, ttl time.Duration) ([]string, error) {
	min := time.Now().Add(-ttl).UnixMilli()
	ids, err := rdb.ZRangeByScore(ctx, WorkersKey, &redis.ZRangeBy{Min: strconv.FormatInt(min, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("session: live workers: %w", err)
	}
	sort.Strings(ids)
	return ids, nil
}

// DeadWorkers returns workers in the registry whose heartbeat key expired.
func DeadWorkers(ctx context.Context, rdb redis.UniversalClient, ttl time.Duration) ([]string, error) {
	max := time.Now().Add(-ttl).UnixMilli()
	ids, err := rdb.ZRangeByScore(ctx, WorkersKey, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(max, 10)}).Result()
	if err != nil {
		return nil, fmt.Errorf("session: dead workers: %w", err)
	}
	var dead []string
	for _, id := range ids {
		n, err := rdb.Exists(ctx, WorkerKey(id)).Result()
		if err != nil {
			return dead, fmt.Errorf("session: check worker %s: %w", id, err)
		}
		if n == 0 {
			dead = append(dead, id)
		}
	}
	return dead, nil
}

// ForgetWorker removes a dead worker from the registry with its in-flight hash.
func ForgetWorker(ctx context.Context, rdb redis.UniversalClient, id string) error {
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, WorkersKey, id)
		p.Del(ctx, InflightKey(id))
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: forget worker %s: %w", id, err)
	}
	return nil
}

// FairShare returns the partitions worker id should hold among the live
// workers: partition p goes to the worker at index p mod len(live).
func FairShare(id string, live []string, partitions int) []int {
	idx := -1
	for i, w := range live {
		if w == id {
			idx = i
		}
	}
	if idx < 0 {
		// Not registered yet: behave as if alone at the end of the list.
		live = append(append([]string(nil), live...), id)
		sort.Strings(live)
		return FairShare(id, live, partitions)
	}
	var out []int
	for p := 0; p < partitions; p++ {
		if p%len(live) == idx {
			out = append(out, p)
		}
	}
	return out
}

// AcquireLease takes or renews partition p's lease; false when another worker
// holds it.
func (m *Membership) AcquireLease(ctx context.Context, p int) (bool, error) {
	ok, err := lease.Take(ctx, m.rdb, PartitionKey(p), m.id, m.ttl)
	if err != nil {
		return false, fmt.Errorf("session: lease partition %d: %w", p, err)
	}
	return ok, nil
}

// ReleaseLease gives partition p's lease up if this worker holds it.
func (m *Membership) ReleaseLease(ctx context.Context, p int) error {
	if _, err := lease.Release(ctx, m.rdb, PartitionKey(p), m.id); err != nil {
		return fmt.Errorf("session: release partition %d: %w", p, err)
	}
	return nil
}

// LeaseHolder returns which worker holds partition p ("" for none).
func LeaseHolder(ctx context.Context, rdb redis.UniversalClient, p int) (string, error) {
	v, err := rdb.Get(ctx, PartitionKey(p)).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("session: partition %d holder: %w", p, err)
	}
	return v, nil
}

// ReleaseWorkerLeases force-releases the partitions a (dead) worker holds.
func ReleaseWorkerLeases(ctx context.Context, rdb redis.UniversalClient, id string, partitions int) (int, error) {
	n := 0
	for p := 0; p < partitions; p++ {
		ok, err := lease.Release(ctx, rdb, PartitionKey(p), id)
		if err != nil {
			return n, fmt.Errorf("session: release partition %d of %s: %w", p, id, err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// TrackInflight records a message this worker holds; reply is its ack subject.
func (m *Membership) TrackInflight(ctx context.Context, seq uint64, reply string) error {
	return m.rdb.HSet(ctx, InflightKey(m.id), strconv.FormatUint(seq, 10), reply).Err()
}

// UntrackInflight forgets messages once acknowledged or nak'ed.
func (m *Membership) UntrackInflight(ctx context.Context, seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	fields := make([]string, len(seqs))
	for i, s := range seqs {
		fields[i] = strconv.FormatUint(s, 10)
	}
	return m.rdb.HDel(ctx, InflightKey(m.id), fields...).Err()
}

// Inflight returns a worker's registered in-flight messages (seq → reply).
func Inflight(ctx context.Context, rdb redis.UniversalClient, id string) (map[string]string, error) {
	h, err := rdb.HGetAll(ctx, InflightKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("session: in-flight of %s: %w", id, err)
	}
	return h, nil
}
