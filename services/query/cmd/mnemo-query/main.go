// Command mnemo-query runs Mnemo's read side on its own for a clustered
// deployment: context, search, sessions, stats and the live stream over HTTP.
package main

import (
	"context"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	cfg := query.DefaultConfig()
	daemon.Run(daemon.Spec{
		Service: "query",
		Needs:   daemon.Needs{Redis: "Redis URL (live workers, active sessions)", Store: true},
		Bind:    func(s *config.Set) { cfg.Bind(s); s.Reads(embed.EnvVars) },
		Check:   func(p *config.Problems) { p.Add(cfg.Validate()); p.Add(cfg.ValidateBind()) },
		API: func() daemon.API {
			return daemon.API{Addr: cfg.Addr, Variable: "MNEMO_ADDR", Token: cfg.Token, Grace: 10 * time.Second}
		},
		New: func(ctx context.Context, cmd *daemon.Command, c *daemon.Conns, reg *prometheus.Registry) (daemon.Service, error) {
			emb, err := embed.Open(os.Getenv)
			if err != nil {
				return nil, err
			}
			layout := bus.DefaultLayout()
			layout.Partitions = cfg.Partitions
			return query.New(ctx, cfg, query.Deps{Store: c.Store, NC: c.NC, JS: c.JS, Layout: layout, Redis: c.Redis,
				Logger: cmd.Log, Registry: reg, Embedder: emb})
		},
	})
}
