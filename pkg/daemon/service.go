package daemon

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/prometheus/client_golang/prometheus"
)

// Service is a service as its command runs it. Handler is its HTTP API:
// its routes behind its token and its open probes (/healthz, and /readyz
// where readiness differs). A service that works in the background also has
// Run(ctx) error, working until ctx ends; one that holds resources has
// Close(), called once its HTTP server has shut down.
type Service interface {
	Handler() http.Handler
}

// runner is a Service that works beside its API (worker, reaper).
type runner interface {
	Run(ctx context.Context) error
}

// closer is a Service that releases what it holds once its API is down.
type closer interface {
	Close()
}

// Spec is one service command: mnemo-<service>. Its main.go fills it in and
// calls Run; everything around the service is the same for all of them.
type Spec struct {
	// Service names the logger, the NATS connection and the log line saying
	// where it listens ("ingest listening").
	Service string
	Needs   Needs
	// Bind registers the service's flags and variables; Check adds what is
	// wrong with their values once parsed (nil for nothing).
	Bind  func(*config.Set)
	Check func(*config.Problems)
	// API says where Handler is served, read once the flags are parsed.
	API func() API
	// New builds the service from the command's connections; reg is its
	// metrics registry, served on /metrics.
	New func(ctx context.Context, cmd *Command, c *Conns, reg *prometheus.Registry) (Service, error)
}

// Run runs the command mnemo-<Service> until SIGINT or SIGTERM and exits 1
// with the reason when it fails.
func Run(spec Spec) {
	Main("mnemo-"+spec.Service, func() error { return spec.Run(flag.CommandLine, os.Args[1:]) })
}

// Run parses args on fs, takes the API's address (a port in use fails here,
// before anything connects), opens the backends, builds the service and
// serves its API with /metrics; a service with Run works beside it. When
// the signal comes the API shuts down gracefully, then the service and the
// backends close.
func (s Spec) Run(fs *flag.FlagSet, args []string) (err error) {
	set := config.NewSet(fs)
	s.Bind(set)
	cmd, err := Start(set, args, s.Service, s.Needs, s.Check)
	if err != nil {
		return err
	}
	defer cmd.Stop()
	api := s.API()
	api.registry = Registry()
	ln, err := api.Listen()
	if err != nil {
		return err
	}
	closeLn := func() {
		if ln != nil {
			ln.Close()
		}
	}
	c, err := cmd.Backends.Open(cmd.Ctx, s.Service, cmd.Log)
	if err != nil {
		closeLn()
		return err
	}
	defer func() {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}()
	svc, err := s.New(cmd.Ctx, cmd, c, api.registry)
	if err != nil {
		closeLn()
		return err
	}
	if cl, ok := svc.(closer); ok {
		defer cl.Close()
	}
	h := api.Handler(svc.Handler())
	msg := s.Service + " listening"
	r, ok := svc.(runner)
	switch {
	case !ok && ln == nil: // nothing to serve: wait for the signal
		<-cmd.Ctx.Done()
		return nil
	case !ok:
		cmd.Log.Info(msg, "addr", ln.Addr().String(), "nats", cmd.Backends.NATSURL)
		return api.serve(cmd.Ctx, cmd.Log, ln, h)
	}
	if ln != nil {
		defer api.start(cmd.Ctx, cmd.Log, ln, h, msg)()
	}
	return r.Run(cmd.Ctx)
}

// API is where a service's Handler is served, with /metrics beside it.
type API struct {
	// Addr is the listen address ("" serves nothing) and Variable the
	// setting naming it, for the error when it is taken.
	Addr, Variable string
	// Token guards /metrics; the service's Handler guards its own routes.
	Token string
	// Grace bounds the requests in flight at shutdown (default 2s).
	Grace time.Duration
	// ReadTimeout bounds reading one request (0 = none).
	ReadTimeout time.Duration
	// registry is served on /metrics; Spec.Run makes it.
	registry *prometheus.Registry
}

// WithRegistry returns the API serving reg on /metrics.
func (a API) WithRegistry(reg *prometheus.Registry) API {
	a.registry = reg
	return a
}

// Listen takes Addr; it returns nil when Addr is empty.
func (a API) Listen() (net.Listener, error) {
	if a.Addr == "" {
		return nil, nil
	}
	return Listen(a.Addr, a.Variable)
}

// Handler is h with /metrics (behind Token) beside it.
func (a API) Handler(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	reg := a.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	mux.Handle(MetricsRoute.Pattern, MetricsHandler(reg, a.Token))
	return mux
}

// Start serves h (with /metrics) on Addr in the background until ctx ends
// or the returned stop is called; stop waits for the server to finish. It
// logs msg with the address it listens on, which it returns; an empty Addr
// serves nothing.
func (a API) Start(ctx context.Context, log *slog.Logger, h http.Handler, msg string) (bound string, stop func(), err error) {
	ln, err := a.Listen()
	if err != nil || ln == nil {
		return "", func() {}, err
	}
	return ln.Addr().String(), a.start(ctx, log, ln, a.Handler(h), msg), nil
}

func (a API) start(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler, msg string) (stop func()) {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.serve(sctx, log, ln, h); err != nil {
			log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	log.Info(msg, "addr", ln.Addr().String())
	return func() { cancel(); <-done }
}

// serve serves h on ln until ctx ends, then gives the requests in flight
// Grace (default 2s) to finish.
func (a API) serve(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler) error {
	grace := a.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: a.ReadTimeout}
	return Serve(ctx, log, hs, ln, grace, nil)
}
