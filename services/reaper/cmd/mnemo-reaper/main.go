// Command mnemo-reaper runs one Mnemo reaper for a clustered deployment. Run
// several: they elect a leader through Redis, and only the leader acts.
package main

import (
	"flag"
	"os"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/services/reaper"
)

func main() { daemon.Main("mnemo-reaper", run) }

func run() error {
	cfg := reaper.DefaultConfig()
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	cmd, err := daemon.Start(set, os.Args[1:], "reaper", daemon.Needs{Redis: "Redis URL", Store: true},
		func(p *config.Problems) { p.Add(cfg.Validate()) })
	if err != nil {
		return err
	}
	defer cmd.Stop()
	c, err := cmd.Backends.Open(cmd.Ctx, "reaper", cmd.Log)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := reaper.New(cfg, reaper.Deps{NC: c.NC, JS: c.JS, Redis: c.Redis, Store: c.Store, Logger: cmd.Log, Registry: daemon.Registry()})
	if err != nil {
		return err
	}
	if cfg.Addr != "" {
		_, stop, err := daemon.ServeHandler(cmd.Ctx, cmd.Log, cfg.Addr, "MNEMO_REAPER_ADDR", r.Handler(), "reaper listening")
		if err != nil {
			return err
		}
		defer stop()
	}
	return r.Run(cmd.Ctx)
}
