// Command mnemo-reaper runs one Mnemo reaper for a clustered deployment. Run
// several: they elect a leader through Redis, and only the leader acts.
package main

import (
	"context"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/services/reaper"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	cfg := reaper.DefaultConfig()
	daemon.Run(daemon.Spec{
		Service: "reaper",
		Needs:   daemon.Needs{Redis: "Redis URL", Store: true},
		Bind:    cfg.Bind,
		Check:   func(p *config.Problems) { p.Add(cfg.Validate()) },
		API:     func() daemon.API { return daemon.API{Addr: cfg.Addr, Variable: "MNEMO_REAPER_ADDR", Token: cfg.Token} },
		New: func(_ context.Context, cmd *daemon.Command, c *daemon.Conns, reg *prometheus.Registry) (daemon.Service, error) {
			return reaper.New(cfg, reaper.Deps{NC: c.NC, JS: c.JS, Redis: c.Redis, Store: c.Store, Logger: cmd.Log, Registry: reg})
		},
	})
}
