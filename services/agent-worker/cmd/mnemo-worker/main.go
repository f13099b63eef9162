// Command mnemo-worker runs one Mnemo agent worker for a clustered deployment:
// it connects to NATS, Redis and the shared store, and processes the
// partitions it leases until SIGTERM.
package main

import (
	"errors"
	"flag"
	"os"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/llm"
)

func main() { daemon.Main("mnemo-worker", run) }

func run() error {
	cfg := worker.DefaultConfig()
	var ops daemon.Ops
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	ops.Bind(set, "MNEMO_WORKER_ADDR", "") // off by default: a machine may run several workers
	set.Reads(llm.EnvVars)
	set.Reads(embed.EnvVars)
	cmd, err := daemon.Start(set, os.Args[1:], "worker", daemon.Needs{Redis: "Redis URL", Store: true},
		func(p *config.Problems) { p.Add(cfg.Validate()); ops.Check(p) })
	if err != nil {
		return err
	}
	defer cmd.Stop()
	c, err := cmd.Backends.Open(cmd.Ctx, "worker", cmd.Log)
	if err != nil {
		return err
	}
	defer c.Close()
	comp, _, err := llm.FromEnv(cmd.Ctx, cmd.Log, c.Redis, config.Home())
	if err != nil {
		return err
	}
	reg := daemon.Registry()
	emb, err := embed.Open(os.Getenv)
	if err != nil {
		return err
	}
	w, err := worker.New(cfg, worker.Deps{NC: c.NC, JS: c.JS, Redis: c.Redis, Store: c.Store, Compressor: comp, Logger: cmd.Log,
		Metrics: worker.NewMetrics(reg), Embedder: emb})
	if err != nil {
		return err
	}
	_, stopOps, err := ops.Serve(cmd.Ctx, cmd.Log, reg, func() error {
		if !c.NC.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer stopOps()
	return w.Run(cmd.Ctx)
}
