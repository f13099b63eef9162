// Command mnemo-query runs Mnemo's read side on its own for a clustered
// deployment: context, search, sessions, stats and the live stream over HTTP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/logging"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnemo-query:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg query.Config
	var addr, natsURL, natsToken, redisURL, storeDSN string
	var partitions int
	set := config.NewSet(flag.CommandLine)
	set.String(&addr, "addr", "MNEMO_ADDR", "127.0.0.1:37802", "HTTP listen address")
	set.String(&cfg.Token, "token", "MNEMO_TOKEN", "", "bearer token required of clients (required off loopback)")
	set.String(&natsURL, "nats", "MNEMO_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s)")
	set.String(&natsToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	set.String(&redisURL, "redis", "MNEMO_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL (live workers, active sessions)")
	set.String(&storeDSN, "store", "MNEMO_STORE", "", "memory store: postgres://… (shared) or a SQLite path")
	set.Int(&partitions, "partitions", "MNEMO_PARTITIONS", bus.DefaultLayout().Partitions, "partitions of the event stream")
	set.Duration(&cfg.MemberTTL, "member-ttl", "MNEMO_MEMBER_TTL", 15*time.Second, "the workers' heartbeat TTL")
	if err := set.Parse(os.Args[1:]); err != nil {
		return err
	}
	var p config.Problems
	p.Add(config.CheckBind(addr, cfg.Token))
	p.Addf(storeDSN == "", "no store configured: set MNEMO_STORE to a postgres:// URL (shared) or a SQLite path")
	p.Addf(partitions < 1, "MNEMO_PARTITIONS must be at least 1")
	if err := p.Err(); err != nil {
		return err
	}
	log, err := logging.FromEnv("query")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set MNEMO_ADDR): %w", addr, err)
	}
	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: natsURL, Service: "query", Token: natsToken, Logger: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	rdb, err := session.Dial(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := store.Open(octx, storeDSN)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	layout := bus.DefaultLayout()
	layout.Partitions = partitions
	q, err := query.New(cfg, query.Deps{Store: st, NC: nc, JS: js, Layout: layout, Redis: rdb, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", q.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("query listening", "addr", ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			q.Close()
			return fmt.Errorf("serve: %w", err)
		}
	}
	q.Close() // ends SSE streams so Shutdown does not wait on them
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	return nc.Drain()
}
