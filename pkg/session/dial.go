package session

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Dial returns a Redis client for url (redis:// or rediss://) with short
// timeouts: Redis holds coordination state only, and a slow Redis must not
// stall the pipeline. It does not require Redis to be up.
func Dial(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("session: MNEMO_REDIS_URL %q: %w", url, err)
	}
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.MaxRetries = 1
	return redis.NewClient(opt), nil
}

// Ping reports whether Redis answers within the context's deadline.
func Ping(ctx context.Context, rdb redis.UniversalClient) error {
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("session: redis ping: %w", err)
	}
	return nil
}
