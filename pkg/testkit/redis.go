package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/redisserver"
	"github.com/redis/go-redis/v9"
)

// Redis is a real redis-server child process.
type Redis struct {
	t   testing.TB
	srv *redisserver.Server
}

// StartRedis starts redis-server on a free loopback port with its files in
// t.TempDir(); t.Cleanup kills it. It fails the test, naming the package to
// install, when redis-server is missing (never a silent skip).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	srv, err := redisserver.Start(context.Background(), redisserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	r := &Redis{t: t, srv: srv}
	t.Cleanup(r.Kill)
	return r
}

// Addr is host:port of the server; it stays the same across Restart.
func (r *Redis) Addr() string { return r.srv.Addr() }

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return r.srv.URL() }

// Kill stops the server with SIGKILL (its in-memory data is lost). It is safe
// to call more than once.
func (r *Redis) Kill() { r.srv.Kill() }

// Start starts a killed server again on the same port.
func (r *Redis) Start() {
	r.t.Helper()
	if r.srv.Running() {
		return
	}
	if err := r.srv.Restart(context.Background()); err != nil {
		r.t.Fatalf("testkit: %v", err)
	}
}

// Restart kills the server and starts it again, empty, on the same port.
func (r *Redis) Restart() {
	r.t.Helper()
	if err := r.srv.Restart(context.Background()); err != nil {
		r.t.Fatalf("testkit: %v", err)
	}
}

// Client returns a go-redis client for the server, closed by t.Cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("testkit: ping redis %s: %v", r.Addr(), err)
	}
	return c
}
