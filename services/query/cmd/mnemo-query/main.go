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
	"github.com/mnemo-dev/mnemo/services/query"
)

func main() { daemon.Main("mnemo-query", run) }

func run() error {
	var cfg query.Config
	var addr string
	var partitions int
	set := config.NewSet(flag.CommandLine)
	set.String(&addr, "addr", "MNEMO_ADDR", "127.0.0.1:37802", "HTTP listen address")
	set.String(&cfg.Token, "token", "MNEMO_cfg.Token", "", "bearer token required of clients (required off loopback)")
	set.Int(&partitions, "partitions", "MNEMO_PARTITIONS", bus.DefaultLayout().Partitions, "partitions of the event stream")
	set.Duration(&cfg.MemberTTL, "member-ttl", "MNEMO_MEMBER_TTL", 15*time.Second, "the workers' heartbeat TTL")
	cmd, err := daemon.Start(set, os.Args[1:], "query", daemon.Needs{Redis: "Redis URL (live workers, active sessions)", Store: true},
		func(p *config.Problems) {
			p.Add(config.CheckBind(addr, cfg.Token))
			p.Addf(partitions < 1, "MNEMO_PARTITIONS must be at least 1")
		})
	if err != nil {
		return err
	}
	defer cmd.Stop()
	ctx, log := cmd.Ctx, cmd.Log

	ln, err := daemon.Listen(addr, "MNEMO_ADDR")
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
	layout := bus.DefaultLayout()
	layout.Partitions = partitions
	q, err := query.New(cfg, query.Deps{Store: c.Store, NC: c.NC, JS: c.JS, Layout: layout, Redis: c.Redis, Logger: log, Registry: reg})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", q.Handler())
	mux.Handle("GET /metrics", daemon.MetricsHandler(reg, cfg.Token))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("query listening", "addr", ln.Addr().String())
	return daemon.Serve(ctx, log, hs, ln, 10*time.Second, q.Close) // q.Close ends the event streams Shutdown would wait on
}
