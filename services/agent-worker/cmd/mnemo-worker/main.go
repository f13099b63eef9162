// Command mnemo-worker runs one Mnemo agent worker for a clustered deployment:
// it connects to NATS, Redis and the shared store, and processes the
// partitions it leases until SIGTERM.
package main

import (
	"flag"
	"os"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/llm"
)

func main() { daemon.Main("mnemo-worker", run) }

func run() error {
	cfg := worker.DefaultConfig()
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	cmd, err := daemon.Start(set, os.Args[1:], "worker", daemon.Needs{Redis: "Redis URL", Store: true},
		func(p *config.Problems) { p.Add(cfg.Validate()) })
	if err != nil {
		return err
	}
	defer cmd.Stop()
	c, err := cmd.Backends.Open(cmd.Ctx, "worker", cmd.Log)
	if err != nil {
		return err
	}
	defer c.Close()
	comp, err := llm.FromEnv(cmd.Log)
	if err != nil {
		return err
	}
	daily, err := llm.DailyTokensFromEnv()
	if err != nil {
		return err
	}
	comp = llm.WithBudget(comp, c.Redis, daily, cmd.Log)
	w, err := worker.New(cfg, worker.Deps{NC: c.NC, JS: c.JS, Redis: c.Redis, Store: c.Store, Compressor: comp, Logger: cmd.Log})
	if err != nil {
		return err
	}
	return w.Run(cmd.Ctx)
}
