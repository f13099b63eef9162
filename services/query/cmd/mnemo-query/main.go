// Command mnemo-query runs Mnemo's read side on its own for a clustered
// deployment: context, search, sessions, stats and the live stream over HTTP.
package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/services/query"
)

func main() { daemon.Main("mnemo-query", run) }

func run() error {
	cfg := query.DefaultConfig()
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	set.Reads(embed.EnvVars)
	cmd, err := daemon.Start(set, os.Args[1:], "query", daemon.Needs{Redis: "Redis URL (live workers, active sessions)", Store: true},
		func(p *config.Problems) { p.Add(cfg.Validate()); p.Add(cfg.ValidateBind()) })
	if err != nil {
		return err
	}
	defer cmd.Stop()
	ctx, log := cmd.Ctx, cmd.Log

	ln, err := daemon.Listen(cfg.Addr, "MNEMO_ADDR")
	if err != nil {
		return err
	}
	c, err := cmd.Backends.Open(ctx, "query", log)
	if err != nil {
		ln.Close()
		return err
	}
	defer c.Close()
	reg := daemon.Registry()
	emb, err := embed.Open(os.Getenv)
	if err != nil {
		ln.Close()
		return err
	}
	layout := bus.DefaultLayout()
	layout.Partitions = cfg.Partitions
	q, err := query.New(ctx, cfg, query.Deps{Store: c.Store, NC: c.NC, JS: c.JS, Layout: layout, Redis: c.Redis, Logger: log, Registry: reg, Embedder: emb})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", q.Handler())
	mux.Handle(daemon.MetricsRoute.Pattern, daemon.MetricsHandler(reg, cfg.Token))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("query listening", "addr", ln.Addr().String())
	return daemon.Serve(ctx, log, hs, ln, 10*time.Second, q.Close) // q.Close ends the event streams Shutdown would wait on
}
