package reaper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/lease"
	"github.com/redis/go-redis/v9"
)

// LeaderKey is the reaper leadership lock (docs/ARCHITECTURE.md §5).
const LeaderKey = "mnemo:reaper:leader"

// leadership holds or seeks the reaper lock: SET NX PX to take it, a Lua
// compare-and-extend (pkg/lease) to keep it. Leader reports true only while the last
// successful take or renewal is younger than the TTL less a margin, so a
// reaper cut off from Redis stops acting before another may start.
type leadership struct {
	rdb   redis.UniversalClient
	key   string
	token string
	ttl   time.Duration

	mu    sync.Mutex
	until time.Time // leader until then (local clock)
}

func newLeadership(rdb redis.UniversalClient, key, token string, ttl time.Duration) *leadership {
	return &leadership{rdb: rdb, key: key, token: token, ttl: ttl}
}

// errNotLeader means another reaper holds the lock.
var errNotLeader = errors.New("reaper: not the leader")

// eachWhileLeader runs do on every item while this reaper leads, going on
// past failures; it returns them joined, or errNotLeader as soon as the
// lead is lost.
func (r *Reaper) eachWhileLeader(items []string, do func(string) error) error {
	var errs []error
	for _, it := range items {
		if !r.lead.Leader() {
			return errNotLeader
		}
		if err := do(it); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tryLead takes or renews the lock. It returns whether this reaper leads now.
func (l *leadership) tryLead(ctx context.Context) (bool, error) {
	start := time.Now()
	// Renew first (it is ours when we lead), then try to take it.
	ok, err := lease.Extend(ctx, l.rdb, l.key, l.token, l.ttl)
	if err != nil {
		return l.Leader(), fmt.Errorf("reaper: renew leadership: %w", err)
	}
	if !ok {
		took, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
		if err != nil {
			l.lose()
			return false, fmt.Errorf("reaper: take leadership: %w", err)
		}
		ok = took
	}
	if !ok {
		l.lose()
		return false, nil
	}
	l.mu.Lock()
	// Count from before the request: the key may expire that early.
	l.until = start.Add(l.ttl - l.ttl/5)
	l.mu.Unlock()
	return true, nil
}

// Leader reports whether this reaper may act now.
func (l *leadership) Leader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until)
}

func (l *leadership) lose() {
	l.mu.Lock()
	l.until = time.Time{}
	l.mu.Unlock()
}

// resign gives the lock up (clean shutdown) so another reaper takes over at
// once.
func (l *leadership) resign(ctx context.Context) error {
	l.lose()
	if _, err := lease.Release(ctx, l.rdb, l.key, l.token); err != nil {
		return fmt.Errorf("reaper: resign leadership: %w", err)
	}
	return nil
}

// leaderToken is the lock value of one reaper process: its ID and a nonce,
// so that two processes given the same ID never both lead.
func leaderToken(id, nonce string) string { return id + "/" + nonce }

// LeaderID returns the ID of the current leader ("" for none).
func LeaderID(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	v, err := rdb.Get(ctx, LeaderKey).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reaper: read leader: %w", err)
	}
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	return v, nil
}
