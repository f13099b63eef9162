package session

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// WorkersKey is the sorted set of workers by last heartbeat (ms).
const WorkersKey = "mnemo:workers"

// WorkerKey is a worker's heartbeat key (PX ttl).
func WorkerKey(id string) string { return "mnemo:worker:" + id }

// Membership is one worker's place in the worker registry: its heartbeat,
// which the reaper reads to find dead workers.
type Membership struct {
	rdb redis.UniversalClient
	id  string
	ttl time.Duration
}

// NewMembership returns the membership of worker id whose heartbeat lasts
// ttl unless refreshed.
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

// Leave removes the worker's heartbeat and its in-flight registry (clean
// shutdown: nothing of it is left for the reaper).
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

// ForgetWorker removes a dead worker from the registry with its in-flight
// registry.
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
