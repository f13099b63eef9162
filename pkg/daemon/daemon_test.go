package daemon_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/prometheus/client_golang/prometheus"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func parse(t *testing.T, needs daemon.Needs, args ...string) (*daemon.Backends, error) {
	t.Helper()
	var b daemon.Backends
	set := config.NewSet(flag.NewFlagSet("test", flag.ContinueOnError))
	b.Bind(set, needs)
	if err := set.Parse(args); err != nil {
		t.Fatal(err)
	}
	var p config.Problems
	b.Check(&p)
	return &b, p.Err()
}

func TestCheckSaysWhatToSet(t *testing.T) {
	t.Setenv("MNEMO_STORE", "")
	_, err := parse(t, daemon.Needs{Redis: "Redis URL", Store: true})
	if err == nil || !strings.Contains(err.Error(), "MNEMO_STORE") {
		t.Fatalf("no store: %v, want a problem naming MNEMO_STORE", err)
	}
	if _, err := parse(t, daemon.Needs{Redis: "Redis URL"}, "-redis", ""); err == nil || !strings.Contains(err.Error(), "MNEMO_REDIS_URL") {
		t.Fatalf("empty Redis URL: %v, want a problem naming MNEMO_REDIS_URL", err)
	}
	if _, err := parse(t, daemon.Needs{}); err != nil {
		t.Fatalf("NATS only, defaults: %v", err)
	}
}

func TestOpenConnectsWhatIsNeededAndCloseReleasesIt(t *testing.T) {
	n := testkit.StartNATS(t)
	r := testkit.StartRedis(t)
	b, err := parse(t, daemon.Needs{Redis: "Redis URL", Store: true},
		"-nats", n.URL(), "-redis", "redis://"+r.Addr()+"/0", "-store", filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := b.Open(ctx, "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Redis.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis: %v", err)
	}
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	if _, err := c.Store.Cursor(ctx, "s"); err != nil {
		t.Fatalf("store: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !c.NC.IsClosed() {
		t.Fatal("NATS connection still open after Close")
	}
	if err := c.Redis.Ping(ctx).Err(); err == nil {
		t.Fatal("Redis client still usable after Close")
	}

	// Redis "none" is honoured only where the command allows it.
	opt, _ := parse(t, daemon.Needs{Redis: "Redis URL", RedisOptional: true}, "-nats", n.URL(), "-redis", "none")
	c, err = opt.Open(ctx, "test", quiet)
	if err != nil || c.Redis != nil || c.Store != nil {
		t.Fatalf("optional Redis off: %+v, %v; want NATS only", c, err)
	}
	c.Close()
	req, _ := parse(t, daemon.Needs{Redis: "Redis URL"}, "-nats", n.URL(), "-redis", "none")
	if _, err := req.Open(ctx, "test", quiet); err == nil {
		t.Fatal(`Redis "none" accepted by a command that needs Redis`)
	}
}

func TestOpenFailureLeavesNothingOpen(t *testing.T) {
	n := testkit.StartNATS(t)
	b, _ := parse(t, daemon.Needs{Store: true}, "-nats", n.URL(), "-store", "postgres://127.0.0.1:1/none?connect_timeout=1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.Open(ctx, "test", quiet); err == nil {
		t.Fatal("Open succeeded with an unreachable store")
	}
	for deadline := time.Now().Add(5 * time.Second); n.Server().NumClients() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d NATS clients left connected after a failed Open", n.Server().NumClients())
		}
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	ln, err := daemon.Listen("127.0.0.1:0", "MNEMO_ADDR")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	inFlight := make(chan struct{}, 1)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		<-release // a long-lived request, ended by stopping
		w.WriteHeader(http.StatusNoContent)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := false
	go func() {
		done <- daemon.Serve(ctx, quiet, hs, ln, 5*time.Second, func() { stopped = true; close(release) })
	}()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if !stopped {
		t.Fatal("stopping was not called")
	}
	if code := <-answered; code != http.StatusNoContent {
		t.Fatalf("in-flight request answered %d, want it finished (204)", code)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Fatal("still accepting after Serve returned")
	}
}

func TestListenSaysWhatToSet(t *testing.T) {
	ln, err := daemon.Listen("127.0.0.1:0", "MNEMO_ADDR")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = daemon.Listen(ln.Addr().String(), "MNEMO_ADDR")
	if err == nil || !strings.Contains(err.Error(), "MNEMO_ADDR") {
		t.Fatalf("taken address: %v, want an error naming MNEMO_ADDR", err)
	}
	if errors.Unwrap(err) == nil {
		t.Fatal("the listen error is not wrapped")
	}
}

func TestStartReportsEveryProblemAtOnce(t *testing.T) {
	t.Setenv("MNEMO_STORE", "")
	set := config.NewSet(flag.NewFlagSet("test", flag.ContinueOnError))
	var workers int
	set.Int(&workers, "workers", "MNEMO_TEST_WORKERS", 0, "workers")
	_, err := daemon.Start(set, nil, "test", daemon.Needs{Store: true}, func(p *config.Problems) {
		p.Addf(workers < 1, "MNEMO_TEST_WORKERS must be at least 1")
	})
	if err == nil || !strings.Contains(err.Error(), "MNEMO_TEST_WORKERS") || !strings.Contains(err.Error(), "MNEMO_STORE") {
		t.Fatalf("err = %v, want both the command's problem and the missing store", err)
	}
	cmd, err := daemon.Start(config.NewSet(flag.NewFlagSet("ok", flag.ContinueOnError)), []string{"-nats", "nats://127.0.0.1:1"}, "test", daemon.Needs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Stop()
	if cmd.Backends.NATSURL != "nats://127.0.0.1:1" || cmd.Log == nil || cmd.Ctx.Err() != nil {
		t.Fatalf("started command: %+v", cmd)
	}
}

func TestAPIServesMetricsBehindTheTokenBesideTheHandler(t *testing.T) {
	reg := daemon.Registry()
	applied := prometheus.NewCounter(prometheus.CounterOpts{Name: "mnemo_test_applied_total", Help: "test"})
	reg.MustRegister(applied)
	applied.Add(3)
	var sick atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", daemon.Health(quiet, func() error {
		if sick.Load() {
			return errors.New("not connected to NATS")
		}
		return nil
	}))
	api := daemon.API{Addr: "127.0.0.1:0", Variable: "MNEMO_TEST_ADDR", Token: "s3cret"}.WithRegistry(reg)
	addr, stop, err := api.Start(context.Background(), quiet, mux, "test listening")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", code)
	}
	if code, body := get("/metrics", "s3cret"); code != 200 || !strings.Contains(body, "mnemo_test_applied_total 3") {
		t.Fatalf("/metrics with the token: %d %.200s", code, body)
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Fatalf("/healthz healthy: %d", code)
	}
	sick.Store(true)
	if code, body := get("/healthz", ""); code != http.StatusServiceUnavailable || strings.Contains(body, "NATS") {
		t.Fatalf("/healthz unhealthy: %d %s", code, body)
	}
	taken := api
	taken.Addr = addr
	if _, _, err := taken.Start(context.Background(), quiet, mux, "test listening"); err == nil || !strings.Contains(err.Error(), "MNEMO_TEST_ADDR") {
		t.Fatalf("second server on %s: %v, want an error naming MNEMO_TEST_ADDR", addr, err)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("API still answering after stop")
	}
}
