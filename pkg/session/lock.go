package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/lease"
	"github.com/redis/go-redis/v9"
)

// LockKey is the session lock; FenceKey the session's fence counter. Both use
// the {sid} hash tag so a Lua script may touch both on a Redis Cluster.
func LockKey(sid string) string  { return "mnemo:{" + sid + "}:lock" }
func FenceKey(sid string) string { return "mnemo:{" + sid + "}:fence" }

// WorkerLocksKey is the set of sessions whose lock a worker holds, so that the
// reaper can release a dead worker's locks at once.
func WorkerLocksKey(workerID string) string { return "mnemo:wlocks:" + workerID }

// ErrLockHeld means another owner holds the session lock.
var ErrLockHeld = errors.New("session: lock held by another owner")

// ErrLockLost means the lock expired or was taken over: the owner must stop
// writing and acquire it again (with a new fence).
var ErrLockLost = errors.New("session: lock lost")

// acquireScript takes the lock when it is free (or already ours), and grants
// a fence that is greater than both the previous one and the store's fence,
// so fences keep rising even after Redis lost its data.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return {0, 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local f = redis.call('INCR', KEYS[2])
local min = tonumber(ARGV[3])
if f <= min then
  f = min + 1
  redis.call('SET', KEYS[2], f)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
return {1, f}
`)

var releaseScript = redis.NewScript(`
local ok = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  ok = 1
end
redis.call('SREM', KEYS[2], ARGV[2])
return ok
`)

// fenceTTL bounds how long an idle session's fence counter is kept; the
// store's fence is the floor when it is gone.
const fenceTTL = 7 * 24 * time.Hour

// Locks grants session locks with fences (docs/ARCHITECTURE.md §5).
type Locks struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// NewLocks returns Locks whose leases last ttl unless renewed.
func NewLocks(rdb redis.UniversalClient, ttl time.Duration) *Locks {
	return &Locks{rdb: rdb, ttl: ttl}
}

// TTL is the lock lease time.
func (l *Locks) TTL() time.Duration { return l.ttl }

// Token is the owner value stored in a session lock: the worker's ID and a
// per-acquisition nonce, so the reaper can tell whose lock it is.
func Token(workerID, nonce string) string { return workerID + "/" + nonce }

// Acquire takes the session lock for token and returns a new fence greater
// than storeFence. ErrLockHeld when someone else holds it.
func (l *Locks) Acquire(ctx context.Context, sid, workerID, token string, storeFence int64) (int64, error) {
	res, err := acquireScript.Run(ctx, l.rdb,
		[]string{LockKey(sid), FenceKey(sid), WorkerLocksKey(workerID)},
		token, l.ttl.Milliseconds(), storeFence, fenceTTL.Milliseconds(), sid).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("session: acquire lock of %s: %w", sid, err)
	}
	if len(res) != 2 || res[0] != 1 {
		return 0, ErrLockHeld
	}
	return res[1], nil
}

// Renew extends the lock; ErrLockLost when it is no longer held by token.
func (l *Locks) Renew(ctx context.Context, sid, token string) error {
	ok, err := lease.Extend(ctx, l.rdb, LockKey(sid), token, l.ttl)
	if err != nil {
		return fmt.Errorf("session: renew lock of %s: %w", sid, err)
	}
	if !ok {
		return ErrLockLost
	}
	return nil
}

// Release deletes the lock if token still holds it.
func (l *Locks) Release(ctx context.Context, sid, workerID, token string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{LockKey(sid), WorkerLocksKey(workerID)}, token, sid).Err(); err != nil {
		return fmt.Errorf("session: release lock of %s: %w", sid, err)
	}
	return nil
}

// ReleaseWorker force-releases every session lock a (dead) worker holds. It
// returns the sessions released.
func (l *Locks) ReleaseWorker(ctx context.Context, workerID string) ([]string, error) {
	sids, err := l.rdb.SMembers(ctx, WorkerLocksKey(workerID)).Result()
	if err != nil {
		return nil, fmt.Errorf("session: list locks of worker %s: %w", workerID, err)
	}
	var released []string
	prefix := workerID + "/"
	for _, sid := range sids {
		ok, err := releaseIfPrefix.Run(ctx, l.rdb, []string{LockKey(sid), WorkerLocksKey(workerID)}, prefix, sid).Int()
		if err != nil {
			return released, fmt.Errorf("session: release lock of %s: %w", sid, err)
		}
		if ok == 1 {
			released = append(released, sid)
		}
	}
	return released, nil
}

var releaseIfPrefix = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local ok = 0
if cur and string.sub(cur, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  ok = 1
end
redis.call('SREM', KEYS[2], ARGV[2])
return ok
`)
