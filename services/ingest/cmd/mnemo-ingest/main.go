// Command mnemo-ingest runs Mnemo's ingest service on its own for a clustered
// deployment: HTTP intake of hook events into JetStream, persist first.
package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

func main() { daemon.Main("mnemo-ingest", run) }

func run() error {
	cfg := ingest.DefaultConfig()
	set := config.NewSet(flag.CommandLine)
	cfg.Bind(set)
	cmd, err := daemon.Start(set, os.Args[1:], "ingest",
		daemon.Needs{Redis: "Redis URL for session metadata (best effort); \"none\" disables it", RedisOptional: true},
		func(p *config.Problems) { p.Add(cfg.Validate()); p.Add(cfg.ValidateBind()) })
	if err != nil {
		return err
	}
	defer cmd.Stop()
	ctx, log, b := cmd.Ctx, cmd.Log, &cmd.Backends

	ln, err := daemon.Listen(cfg.Addr, "MNEMO_ADDR")
	if err != nil {
		return err
	}
	c, err := b.Open(ctx, "ingest", log)
	if err != nil {
		ln.Close()
		return err
	}
	reg := daemon.Registry()
	deps := ingest.Deps{NC: c.NC, JS: c.JS, Logger: log, Registry: reg}
	if c.Redis != nil {
		deps.Meta = session.NewMetaStore(c.Redis)
	}
	srv, err := ingest.New(ctx, cfg, deps)
	if err != nil {
		ln.Close()
		c.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.Handle(daemon.MetricsRoute.Pattern, daemon.MetricsHandler(reg, cfg.Token))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	log.Info("ingest listening", "addr", ln.Addr().String(), "nats", b.NATSURL)
	err = daemon.Serve(ctx, log, hs, ln, 10*time.Second, nil) // in-flight publishes finish
	srv.Close()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}
