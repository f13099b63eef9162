// Command mnemo-worker runs one Mnemo agent worker for a clustered deployment:
// it connects to NATS, Redis and the shared store, and processes the
// partitions it leases until SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/logging"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mnemo-worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := worker.DefaultConfig()
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
	log, err := logging.FromEnv("worker")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: natsURL, Service: "worker", Token: natsToken, Logger: log})
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
	comp, err := llm.FromEnv(log)
	if err != nil {
		return err
	}
	daily, err := llm.DailyTokensFromEnv()
	if err != nil {
		return err
	}
	comp = llm.WithBudget(comp, rdb, daily, log)
	w, err := worker.New(cfg, worker.Deps{NC: nc, JS: js, Redis: rdb, Store: st, Compressor: comp, Logger: log})
	if err != nil {
		return err
	}
	err = w.Run(ctx)
	_ = nc.Drain()
	return err
}
