// Package daemon is what the clustered service commands (mnemo-ingest,
// mnemo-worker, mnemo-reaper, mnemo-query) share around their service: the
// flags of the backends they connect to, opening and closing those
// connections, their metrics registry, and serving a service's API with
// /metrics until a signal (Spec).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/logging"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// storeOpenTimeout bounds opening the store (a PostgreSQL pool and its
// migrations, or a SQLite file).
const storeOpenTimeout = 30 * time.Second

// Main runs a command's run function and exits 1 with its error, prefixed by
// the command's name.
func Main(name string, run func() error) {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Command is a service command once its command line is read: a context that
// ends on SIGINT or SIGTERM, its logger and its backends.
type Command struct {
	Ctx      context.Context
	Log      *slog.Logger
	Backends Backends
	stop     context.CancelFunc
}

// Start binds the backends' flags and the log level on set (the command has
// bound its own), parses args, reports every problem found by the backends'
// check and by check (nil for none) in one error, and makes the logger named
// service. It then warns, one line each, about MNEMO_* variables in the
// environment the command does not read. Call Stop when done.
func Start(set *config.Set, args []string, service string, needs Needs, check func(*config.Problems)) (*Command, error) {
	c := &Command{}
	c.Backends.Bind(set, needs)
	var level string
	set.String(&level, "log-level", "MNEMO_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := set.Parse(args); err != nil {
		return nil, err
	}
	var p config.Problems
	if check != nil {
		check(&p)
	}
	c.Backends.Check(&p)
	lvl, err := logging.ParseLevel(level)
	p.Add(err)
	if err := p.Err(); err != nil {
		return nil, err
	}
	c.Log = logging.New(os.Stderr, service, lvl)
	WarnUnknown(c.Log, set)
	c.Ctx, c.stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return c, nil
}

// WarnUnknown logs one warning per MNEMO_* variable in the environment that
// nothing bound on set reads (a typo or a leftover shows up at start).
func WarnUnknown(log *slog.Logger, set *config.Set) {
	for _, name := range set.Unknown(os.Environ()) {
		log.Warn("unknown variable "+name+" ignored: this command does not read it", "variable", name)
	}
}

// Stop releases the signal handlers.
func (c *Command) Stop() { c.stop() }

// Needs says which backends besides NATS a command connects to.
type Needs struct {
	// Redis is the help text of the Redis URL flag; empty means no Redis.
	Redis string
	// RedisOptional lets MNEMO_REDIS_URL=none run the command without Redis.
	RedisOptional bool
	// Store requires a memory store.
	Store bool
}

// Backends are where a command finds NATS, Redis and the memory store.
type Backends struct {
	NATSURL      string
	NATSToken    string
	NATSUser     string
	NATSPassword string
	RedisURL     string
	StoreDSN     string
	needs        Needs
}

// Bind registers the backends' flags and MNEMO_* variables on set.
func (b *Backends) Bind(set *config.Set, needs Needs) {
	b.needs = needs
	set.String(&b.NATSURL, "nats", "MNEMO_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s)")
	set.String(&b.NATSToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	set.String(&b.NATSUser, "nats-user", "MNEMO_NATS_USER", "", "NATS user (each service its own; see deploy/nats/nats.conf)")
	set.String(&b.NATSPassword, "nats-password", "MNEMO_NATS_PASSWORD", "", "the NATS user's password")
	if needs.Redis != "" {
		set.String(&b.RedisURL, "redis", "MNEMO_REDIS_URL", "redis://127.0.0.1:6379/0", needs.Redis)
	}
	if needs.Store {
		set.String(&b.StoreDSN, "store", "MNEMO_STORE", "", "memory store: postgres://… (shared) or a SQLite path")
	}
}

// Check adds a problem for each backend the command needs and was not given.
func (b *Backends) Check(p *config.Problems) {
	p.Addf(b.NATSURL == "", "no NATS configured: set MNEMO_NATS_URL")
	p.Addf(b.NATSUser != "" && b.NATSToken != "", "MNEMO_NATS_USER and MNEMO_NATS_TOKEN are both set: use one")
	p.Addf(b.NATSUser == "" && b.NATSPassword != "", "MNEMO_NATS_PASSWORD is set without MNEMO_NATS_USER")
	p.Addf(b.needs.Redis != "" && b.RedisURL == "", "no Redis configured: set MNEMO_REDIS_URL")
	p.Addf(b.needs.Store && b.StoreDSN == "", "no store configured: set MNEMO_STORE to a postgres:// URL (shared) or a SQLite path")
}

// Conns are a command's open connections; Close releases them.
type Conns struct {
	NC *nats.Conn
	JS jetstream.JetStream
	// Redis is nil when the command needs none or was told "none".
	Redis *redis.Client
	// Store is nil when the command needs none.
	Store store.Store
}

// Open connects to the backends the command needs, as service (the name its
// NATS connection carries). On error nothing stays open.
func (b *Backends) Open(ctx context.Context, service string, log *slog.Logger) (c *Conns, err error) {
	c = &Conns{}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: b.NATSURL, Service: service, Token: b.NATSToken,
		User: b.NATSUser, Password: b.NATSPassword, Logger: log})
	if err != nil {
		return c, err
	}
	c.NC, c.JS = nc, js
	if b.needs.Redis != "" && !(b.needs.RedisOptional && b.RedisURL == "none") {
		rdb, err := session.Dial(b.RedisURL)
		if err != nil {
			return c, err
		}
		c.Redis = rdb
	}
	if b.needs.Store {
		octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
		defer cancel()
		st, err := store.Open(octx, b.StoreDSN)
		if err != nil {
			return c, err
		}
		c.Store = st
	}
	return c, nil
}

// drainWait bounds how long Close waits for the NATS connection to drain.
const drainWait = 5 * time.Second

// Close drains the NATS connection (its subscriptions finish what they hold,
// what it published is flushed), waiting up to drainWait, then closes the
// store, Redis and NATS. It returns the drain's error.
func (c *Conns) Close() error {
	var err error
	if c.NC != nil {
		if err = c.NC.Drain(); err == nil {
			for deadline := time.Now().Add(drainWait); !c.NC.IsClosed() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if c.Store != nil {
		c.Store.Close()
	}
	if c.Redis != nil {
		c.Redis.Close()
	}
	if c.NC != nil {
		c.NC.Close()
	}
	return err
}

// Registry is a Prometheus registry with the Go runtime and process
// collectors, for a command's /metrics.
func Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Listen listens on addr, saying in its error which variable sets it.
func Listen(addr, variable string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (set %s): %w", addr, variable, err)
	}
	return ln, nil
}

// MetricsRoute is where every service command serves its metrics, behind
// the token.
var MetricsRoute = httpapi.Route{Pattern: "GET /metrics"}

// MetricsHandler serves reg for Prometheus, behind the bearer token when one
// is set: a process reachable from other machines shows nothing without it.
func MetricsHandler(reg *prometheus.Registry, token string) http.Handler {
	return httpapi.RequireToken(token, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// Health answers /healthz: 200 while healthy returns nil, else 503, the
// reason logged when log is not nil (a probe says only up or not).
func Health(log *slog.Logger, healthy func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := healthy(); err != nil {
			if log != nil {
				log.Warn("unhealthy", "err", err)
			}
			httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Serve serves hs on ln until ctx ends or serving fails. Then it calls
// stopping (to end what would hold a request open, such as event streams),
// stops accepting and gives the requests in flight up to grace to finish.
func Serve(ctx context.Context, log *slog.Logger, hs *http.Server, ln net.Listener, grace time.Duration, stopping func()) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		log.Info("stopping: finishing the requests in flight")
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else {
			err = fmt.Errorf("serve: %w", err)
		}
	}
	if stopping != nil {
		stopping()
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return err
}
