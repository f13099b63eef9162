// Command mnemo-ingest runs Mnemo's ingest service on its own for a clustered
// deployment: HTTP intake of hook events into JetStream, persist first.
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
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnemo-ingest:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := ingest.DefaultConfig()
	var natsURL, natsToken, redisURL string
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	set.String(&natsURL, "nats", "MNEMO_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s)")
	set.String(&natsToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	set.String(&redisURL, "redis", "MNEMO_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL for session metadata (best effort); \"none\" disables it")
	if err := set.Parse(os.Args[1:]); err != nil {
		return err
	}
	var p config.Problems
	p.Add(cfg.Validate())
	p.Add(cfg.ValidateBind())
	if err := p.Err(); err != nil {
		return err
	}
	log, err := logging.FromEnv("ingest")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set MNEMO_ADDR): %w", cfg.Addr, err)
	}
	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: natsURL, Service: "ingest", Token: natsToken, Logger: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	deps := ingest.Deps{NC: nc, JS: js, Logger: log}
	if redisURL != "none" {
		rdb, err := session.Dial(redisURL)
		if err != nil {
			return err
		}
		defer rdb.Close()
		deps.Meta = session.NewMetaStore(rdb)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps.Registry = reg
	srv, err := ingest.New(cfg, deps)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("ingest listening", "addr", ln.Addr().String(), "nats", natsURL)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("ingest stopping: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // stop accepting; in-flight publishes finish
	srv.Close()
	return nc.Drain()
}
