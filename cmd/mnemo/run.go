package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	worker "github.com/mnemo-dev/mnemo/services/agent-worker"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/mnemo-dev/mnemo/services/reaper"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/logging"
	"github.com/mnemo-dev/mnemo/pkg/natsembed"
	"github.com/mnemo-dev/mnemo/pkg/redisserver"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func init() {
	register("run", command{
		summary: "run Mnemo on this machine: embedded NATS, a Redis child, SQLite, every service",
		run:     runAll,
	})
}

// runConfig is the all-in-one runner's configuration: its own settings and
// every service's, bound to the same flags and variables as the service
// binaries (a name shared by several services sets each of them).
type runConfig struct {
	Addr         string
	Home         string
	RedisURL     string
	Store        string
	Token        string
	NATSPort     int
	NATSHTTPPort int
	LogLevel     string
	Ingest       ingest.Config
	Query        query.Config
	Worker       worker.Config
	Reaper       reaper.Config
	// Upstream, when set, is a shared cluster this machine's events are
	// forwarded to (a laptop feeding the team's memory, offline-tolerant).
	Upstream      string
	UpstreamToken string
}

func (c *runConfig) bind(s *config.Set) {
	s.String(&c.Addr, "addr", "MNEMO_ADDR", "127.0.0.1:37800", "HTTP listen address")
	s.String(&c.Home, "home", "MNEMO_HOME", config.Home(), "data directory")
	s.String(&c.RedisURL, "redis", "MNEMO_REDIS_URL", "", "Redis URL; empty starts a redis-server child")
	s.String(&c.Store, "store", "MNEMO_STORE", "", "memory store: a SQLite path (default $MNEMO_HOME/mnemo.db) or postgres://…")
	s.String(&c.Token, "token", "MNEMO_TOKEN", "", "bearer token required of HTTP clients (required off loopback)")
	s.Int(&c.NATSPort, "nats-port", "MNEMO_NATS_PORT", 0, "embedded NATS client port on 127.0.0.1 (0 = a free port)")
	s.Int(&c.NATSHTTPPort, "nats-http-port", "MNEMO_NATS_HTTP_PORT", 0, "embedded NATS monitoring port for dashboards (0 = off)")
	s.String(&c.LogLevel, "log-level", "MNEMO_LOG_LEVEL", "info", "debug, info, warn or error")
	c.Ingest = ingest.DefaultConfig()
	c.Ingest.Bind(s)
	c.Query = query.DefaultConfig()
	c.Query.Bind(s)
	c.Worker = worker.DefaultConfig()
	c.Worker.WorkerID = "local"
	c.Worker.Bind(s)
	c.Reaper = reaper.DefaultConfig()
	c.Reaper.ID, c.Reaper.Addr = "local", "" // the reaper's routes are served on --addr
	c.Reaper.Bind(s)
	s.String(&c.Upstream, "upstream", "MNEMO_UPSTREAM", "", "NATS URL of a shared Mnemo cluster to forward this machine's events to (events wait locally while it is unreachable)")
	s.String(&c.UpstreamToken, "upstream-token", "MNEMO_UPSTREAM_TOKEN", "", "token for the upstream cluster")
	s.Reads(llm.EnvVars)
	s.Reads(embed.EnvVars)
	s.Reads(map[string]string{"MNEMO_REDIS_SERVER": "path of the redis-server started when MNEMO_REDIS_URL is empty"})
	for _, d := range settings.Defs { // the settings file's, read by the services and the hook
		s.Reads(map[string]string{d.Key: d.Help})
	}
}

// reaperConfig runs the reaper with the worker's layout and timings, so it
// detects a dead worker and releases exactly what the worker held.
func (c *runConfig) reaperConfig() reaper.Config {
	r := c.Reaper
	r.Layout, r.MemberTTL, r.LockTTL = c.Worker.Layout, c.Worker.MemberTTL, c.Worker.LockTTL
	return r
}

func (c *runConfig) validate() error {
	var p config.Problems
	p.Add(config.CheckBind(c.Addr, c.Token))
	p.Addf(c.Home == "", "no data directory: set MNEMO_HOME")
	p.Addf(c.NATSPort < 0 || c.NATSPort > 65535, "MNEMO_NATS_PORT must be 0..65535")
	p.Add(c.Ingest.Validate())
	p.Add(c.Query.Validate())
	p.Add(c.Worker.Validate())
	p.Add(c.reaperConfig().Validate())
	_, err := logging.ParseLevel(c.LogLevel)
	p.Add(err)
	return p.Err()
}

// runInfo is written to $MNEMO_HOME/run.json so admin commands find the
// running instance.
type runInfo struct {
	PID      int    `json:"pid"`
	Addr     string `json:"addr"`
	NATSURL  string `json:"nats_url"`
	RedisURL string `json:"redis_url"`
	Store    string `json:"store"`
	// Compressor names the worker's compressor, for `mnemo status`.
	Compressor string `json:"compressor,omitempty"`
	// CompressorChoice says which compressor, why, and its budget
	// (llm.Choice), for `mnemo doctor`.
	CompressorChoice string `json:"compressor_choice,omitempty"`
}

func runAll(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	// The home (flag or variable) says where settings.json is; its values
	// then become the defaults under the variables and flags.
	userSettings, err := openRunSettings(args)
	if err != nil {
		return err
	}
	var cfg runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := config.NewSet(fs)
	cfg.bind(set)
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	level, _ := logging.ParseLevel(cfg.LogLevel)
	log := logging.New(stderr, "mnemo", level)
	log.Info("settings", "file", userSettings.Path())
	if err := userSettings.Err(); err != nil {
		log.Warn("settings file unreadable; using the variables and defaults", "err", err)
	}
	daemon.WarnUnknown(log, set)
	// Take the HTTP port first: a second `mnemo run` fails here, before it
	// touches the first one's data.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (is another mnemo running? set --addr or MNEMO_ADDR): %w", cfg.Addr, err)
	}
	defer ln.Close()

	ns, err := natsembed.Start(natsembed.Config{
		Port: cfg.NATSPort, StoreDir: filepath.Join(cfg.Home, "nats"), HTTPPort: cfg.NATSHTTPPort, Name: "mnemo-local",
	})
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	log.Info("embedded NATS started", "url", ns.ClientURL(), "store", filepath.Join(cfg.Home, "nats"))

	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: ns.ClientURL(), Service: "run", Logger: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	// The streams now, for ingest; the worker creates the consumers, from
	// the ack floors recorded in the store.
	err = bus.EnsureStreams(ectx, js, cfg.Worker.Layout)
	cancel()
	if err != nil {
		return err
	}

	redisURL := cfg.RedisURL
	if redisURL == "" {
		rs, err := redisserver.Start(ctx, redisserver.Options{Dir: filepath.Join(cfg.Home, "redis"), Persist: true})
		if err != nil {
			return fmt.Errorf("start a local redis-server (or set MNEMO_REDIS_URL): %w", err)
		}
		defer rs.Stop()
		redisURL = rs.URL()
		log.Info("redis-server child started", "url", redisURL)
	}
	rdb, err := session.Dial(redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()

	dsn := cfg.Store
	if dsn == "" {
		dsn = filepath.Join(cfg.Home, "mnemo.db")
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	st, err := store.Open(octx, dsn)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store opened", "store", redactDSN(dsn))

	comp, choice, err := llm.FromEnv(ctx, log, rdb, cfg.Home)
	if err != nil {
		return err
	}
	reg := daemon.Registry()
	emb, err := embed.Open(os.Getenv)
	if err != nil {
		return err
	}
	if emb != nil {
		log.Info("semantic search on", "embed", emb.Key())
	}

	w, err := worker.New(cfg.Worker, worker.Deps{
		NC: nc, JS: js, Redis: rdb, Store: st, Compressor: comp, Logger: log, Registry: reg, Embedder: emb,
	})
	if err != nil {
		return err
	}

	rp, err := reaper.New(cfg.reaperConfig(), reaper.Deps{NC: nc, JS: js, Redis: rdb, Store: st, Logger: log, Registry: reg})
	if err != nil {
		return err
	}

	// Everything is served on --addr; MNEMO_WORKER_ADDR and MNEMO_REAPER_ADDR
	// (off by default) add the worker's and the reaper's own, as their
	// commands serve them.
	api := daemon.API{Token: cfg.Token}.WithRegistry(reg)
	for _, own := range []struct {
		name, addr, variable string
		svc                  daemon.Service
	}{{"worker", cfg.Worker.Addr, "MNEMO_WORKER_ADDR", w}, {"reaper", cfg.Reaper.Addr, "MNEMO_REAPER_ADDR", rp}} {
		api.Addr, api.Variable = own.addr, own.variable
		_, stop, err := api.Start(ctx, log, own.svc.Handler(), own.name+" listening")
		if err != nil {
			return err
		}
		defer stop()
	}

	mux := http.NewServeMux()
	rp.Register(mux)
	closeServices, err := mountServices(ctx, mux, services{log: log, nc: nc, js: js, rdb: rdb, store: st, reg: reg,
		ingest: cfg.Ingest, query: cfg.Query, layout: cfg.Worker.Layout, settings: userSettings,
		compressor: query.Compressor{Choice: choice.String(), Budget: choice.Budget()}, embedder: emb,
		natsMonitor: natsMonitorURL(ns.MonitorAddr())})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api.Handler(mux), ReadHeaderTimeout: 5 * time.Second}

	info := runInfo{PID: os.Getpid(), Addr: ln.Addr().String(), NATSURL: ns.ClientURL(), RedisURL: redisURL, Store: redactDSN(dsn),
		Compressor: comp.Name(), CompressorChoice: choice.String()}
	if err := writeRunInfo(cfg.Home, info); err != nil {
		log.Warn("write run.json", "err", err)
	}
	defer os.Remove(filepath.Join(cfg.Home, "run.json"))

	var fw *bus.Forwarder
	if cfg.Upstream != "" {
		unc, ujs, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: cfg.Upstream, Service: "upstream", Token: cfg.UpstreamToken, Logger: log})
		if err != nil {
			return err
		}
		defer unc.Close()
		fw = &bus.Forwarder{Local: js, Upstream: ujs, Log: log}
		log.Info("forwarding events upstream", "upstream", redactDSN(cfg.Upstream))
	}

	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	// failed carries the first component that ended on its own: mnemo run
	// then stops the rest and exits non-zero with its reason, rather than
	// accept events nothing would process.
	failed := make(chan error, 4)
	component := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := run(wctx)
			if wctx.Err() != nil {
				return // stopping: not a failure
			}
			if err == nil {
				err = errors.New("stopped on its own")
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				err = fmt.Errorf("%s: %w", name, err)
			}
			failed <- err
		}()
	}
	if fw != nil {
		component("upstream forwarding", fw.Run)
	}
	component("worker", w.Run)
	component("reaper", rp.Run)
	component("http", func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	log.Info("mnemo is running", "addr", "http://"+ln.Addr().String(), "home", cfg.Home)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: no new requests, finishing in-flight work")
	case runErr = <-failed:
		log.Error("a component failed for good; stopping the others", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopWorker() // before Shutdown: the http component's return is then no failure
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	closeServices()
	wg.Wait()
	if err := nc.Drain(); err != nil {
		log.Debug("drain", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// openRunSettings opens the settings file of the home the arguments or the
// environment name (seeding it on first run) and exports its values under
// the variables, so that flag > variable > file > default.
func openRunSettings(args []string) (*settings.Settings, error) {
	var home string
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	set := config.NewSet(fs)
	var cfg runConfig
	cfg.bind(set)
	_ = set.Parse(args) // errors are reported by the real parse
	home = cfg.Home
	if home == "" {
		return nil, errors.New("no data directory: set MNEMO_HOME")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", home, err)
	}
	s, err := settings.Open(home)
	if err != nil {
		return nil, err
	}
	if err := s.Export(); err != nil {
		return nil, fmt.Errorf("fix or remove these settings: %w", err)
	}
	return s, nil
}

func writeRunInfo(home string, info runInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(home, "run.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(home, "run.json"))
}

// natsMonitorURL is the embedded NATS server's monitoring base URL, "" when
// monitoring is off (MNEMO_NATS_HTTP_PORT=0).
func natsMonitorURL(addr *net.TCPAddr) string {
	if addr == nil {
		return ""
	}
	return "http://" + addr.String()
}

// redactDSN hides a password in a store URL for logs.
func redactDSN(dsn string) string {
	if u, err := urlParse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsn
}
