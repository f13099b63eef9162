// Command mnemo-ingest runs Mnemo's ingest service on its own for a clustered
// deployment: HTTP intake of hook events into JetStream, persist first.
package main

import (
	"context"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	cfg := ingest.DefaultConfig()
	daemon.Run(daemon.Spec{
		Service: "ingest",
		Needs:   daemon.Needs{Redis: "Redis URL for session metadata (best effort); \"none\" disables it", RedisOptional: true},
		Bind:    cfg.Bind,
		Check:   func(p *config.Problems) { p.Add(cfg.Validate()); p.Add(cfg.ValidateBind()) },
		// In-flight publishes get 10s to finish at shutdown.
		API: func() daemon.API {
			return daemon.API{Addr: cfg.Addr, Variable: "MNEMO_ADDR", Token: cfg.Token, Grace: 10 * time.Second, ReadTimeout: 30 * time.Second}
		},
		New: func(ctx context.Context, cmd *daemon.Command, c *daemon.Conns, reg *prometheus.Registry) (daemon.Service, error) {
			deps := ingest.Deps{NC: c.NC, JS: c.JS, Logger: cmd.Log, Registry: reg}
			if c.Redis != nil {
				deps.Meta = session.NewMetaStore(c.Redis)
			}
			return ingest.New(ctx, cfg, deps)
		},
	})
}
