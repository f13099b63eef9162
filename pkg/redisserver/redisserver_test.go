package redisserver_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/redisserver"
	"github.com/redis/go-redis/v9"
)

// A port another redis-server already serves is not taken for our own: the
// child fails to bind, and Start says so instead of handing out the other
// server's address. With no port given, Start binds one itself and answers
// from its own child.
func TestStartTalksToItsOwnChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first, err := redisserver.Start(ctx, redisserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Kill)
	c := redis.NewClient(&redis.Options{Addr: first.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pid := first.PID(); !strings.Contains(info, "process_id:"+strconv.Itoa(pid)+"\r\n") {
		t.Fatalf("%s is not served by the child %d:\n%s", first.Addr(), pid, info)
	}
	port, _ := strconv.Atoi(first.Addr()[strings.LastIndex(first.Addr(), ":")+1:])
	second, err := redisserver.Start(ctx, redisserver.Options{Dir: t.TempDir(), Port: port})
	if err == nil {
		second.Kill()
		t.Fatalf("Start on %d, which another redis-server holds, succeeded", port)
	}
	if !errors.Is(err, redisserver.ErrNotOurs) && !errors.Is(err, redisserver.ErrExited) {
		t.Fatalf("Start on a taken port: %v, want ErrNotOurs or ErrExited", err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the first server after the failed start: %v", err)
	}
}
