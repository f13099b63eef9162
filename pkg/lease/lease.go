// Package lease is Mnemo's one Redis lease primitive: a key that holds one
// owner's token for a TTL, taken when free, extended and released only by
// the token that holds it (compare-and-set in Lua, docs/ARCHITECTURE.md §5).
// Session locks, partition leases and the reaper's leadership all use it.
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript sets KEYS[1] to ARGV[1] for ARGV[2] ms when it is free or
// already holds ARGV[1].
var takeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// extendScript extends KEYS[1] to ARGV[2] ms only while it holds ARGV[1].
var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseScript deletes KEYS[1] only while it holds ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// Take takes key for token for ttl, or renews it when token holds it
// already. It reports false when another token holds it.
func Take(ctx context.Context, rdb redis.Scripter, key, token string, ttl time.Duration) (bool, error) {
	n, err := takeScript.Run(ctx, rdb, []string{key}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease: take %s: %w", key, err)
	}
	return n == 1, nil
}

// Extend extends key to ttl only while token holds it; false when it does
// not (expired, or taken by another).
func Extend(ctx context.Context, rdb redis.Scripter, key, token string, ttl time.Duration) (bool, error) {
	n, err := extendScript.Run(ctx, rdb, []string{key}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease: extend %s: %w", key, err)
	}
	return n == 1, nil
}

// Release deletes key only while token holds it, and reports whether it did.
func Release(ctx context.Context, rdb redis.Scripter, key, token string) (bool, error) {
	n, err := releaseScript.Run(ctx, rdb, []string{key}, token).Int()
	if err != nil {
		return false, fmt.Errorf("lease: release %s: %w", key, err)
	}
	return n == 1, nil
}
