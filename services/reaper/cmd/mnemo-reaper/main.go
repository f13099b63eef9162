// Command mnemo-reaper runs one Mnemo reaper for a clustered deployment. Run
// several: they elect a leader through Redis, and only the leader acts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/logging"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/reaper"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnemo-reaper:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := reaper.DefaultConfig()
	var natsURL, redisURL, storeDSN, natsToken string
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	set.String(&natsURL, "nats", "MNEMO_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s)")
	set.String(&natsToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	set.String(&redisURL, "redis", "MNEMO_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL")
	set.String(&storeDSN, "store", "MNEMO_STORE", "", "memory store: postgres://… or a SQLite path")
	if err := set.Parse(os.Args[1:]); err != nil {
		return err
	}
	var p config.Problems
	p.Add(cfg.Validate())
	p.Addf(storeDSN == "", "no store configured: set MNEMO_STORE to a postgres:// URL (shared) or a SQLite path")
	if err := p.Err(); err != nil {
		return err
	}
	log, err := logging.FromEnv("reaper")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: natsURL, Service: "reaper", Token: natsToken, Logger: log})
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
	r, err := reaper.New(cfg, reaper.Deps{NC: nc, JS: js, Redis: rdb, Store: st, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	err = r.Run(ctx)
	_ = nc.Drain()
	return err
}
