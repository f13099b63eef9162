package session

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/lease"
	"github.com/redis/go-redis/v9"
)

// PartitionKey is the lease of one partition.
func PartitionKey(p int) string { return fmt.Sprintf("mnemo:part:%02d", p) }

// PartitionLeases are one worker's leases on stream partitions: a worker
// pulls a partition only while it holds its lease.
type PartitionLeases struct {
	rdb redis.UniversalClient
	id  string
	ttl time.Duration
}

// NewPartitionLeases returns the partition leases of worker id, which last
// ttl unless renewed.
func NewPartitionLeases(rdb redis.UniversalClient, id string, ttl time.Duration) *PartitionLeases {
	return &PartitionLeases{rdb: rdb, id: id, ttl: ttl}
}

// Acquire takes or renews partition p's lease; false when another worker
// holds it.
func (l *PartitionLeases) Acquire(ctx context.Context, p int) (bool, error) {
	ok, err := lease.Take(ctx, l.rdb, PartitionKey(p), l.id, l.ttl)
	if err != nil {
		return false, fmt.Errorf("session: lease partition %d: %w", p, err)
	}
	return ok, nil
}

// Release gives partition p's lease up if this worker holds it.
func (l *PartitionLeases) Release(ctx context.Context, p int) error {
	if _, err := lease.Release(ctx, l.rdb, PartitionKey(p), l.id); err != nil {
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
