// Command mnemo-worker runs one Mnemo agent worker for a clustered deployment:
// it connects to NATS, Redis and the shared store, and processes the
// partitions it leases until SIGTERM.
package main

import (
	"context"
	"os"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	cfg := worker.DefaultConfig()
	daemon.Run(daemon.Spec{
		Service: "worker",
		Needs:   daemon.Needs{Redis: "Redis URL", Store: true},
		Bind:    func(s *config.Set) { cfg.Bind(s); s.Reads(llm.EnvVars); s.Reads(embed.EnvVars) },
		Check:   func(p *config.Problems) { p.Add(cfg.Validate()) },
		API:     func() daemon.API { return daemon.API{Addr: cfg.Addr, Variable: "MNEMO_WORKER_ADDR", Token: cfg.Token} },
		New: func(ctx context.Context, cmd *daemon.Command, c *daemon.Conns, reg *prometheus.Registry) (daemon.Service, error) {
			comp, _, err := llm.FromEnv(ctx, cmd.Log, c.Redis, config.Home())
			if err != nil {
				return nil, err
			}
			emb, err := embed.Open(os.Getenv)
			if err != nil {
				return nil, err
			}
			return worker.New(cfg, worker.Deps{NC: c.NC, JS: c.JS, Redis: c.Redis, Store: c.Store, Compressor: comp,
				Logger: cmd.Log, Registry: reg, Embedder: emb})
		},
	})
}
