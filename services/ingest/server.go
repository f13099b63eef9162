package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrUnavailable is returned (and answered 503) when JetStream cannot take an
// event within the publish deadline: the caller must retry or spool.
var ErrUnavailable = errors.New("ingest: JetStream unavailable")

// Deps are ingest's connections, owned by the caller.
type Deps struct {
	NC *nats.Conn
	JS jetstream.JetStream
	// Meta receives best-effort session metadata updates; nil disables them.
	Meta *session.MetaStore
	// Logger is tagged with the service by the caller (logging.New), so a
	// JSON line carries "service" once.
	Logger *slog.Logger
	// Registry receives ingest's Prometheus metrics; nil uses a private one.
	Registry prometheus.Registerer
	// Instance names this process in its micro service stats subject
	// (mnemo.ingest.stats.<instance>); empty uses host-pid.
	Instance string
}

// Server is the ingest HTTP API. It answers success for an event only after
// JetStream acknowledged it as stored.
type Server struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	m       *metrics
	meta    *metaWriter
	svc     micro.Service
	closing atomic.Bool
	stats   stats
	once    sync.Once
}

// stats are the counters the micro service reports.
type stats struct {
	Accepted    atomic.Int64
	Duplicates  atomic.Int64
	Rejected    atomic.Int64
	Unavailable atomic.Int64
}

// Stats is a snapshot of what this ingest instance has done (the wire type).
type Stats = api.IngestStats

// New builds the server, registers its NATS micro service and starts the
// session metadata writer, whose Redis writes run under ctx's values (not its
// end: Close gives the pending ones their grace). Close releases it.
func New(ctx context.Context, cfg Config, d Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.NC == nil || d.JS == nil {
		return nil, errors.New("ingest: a NATS connection and JetStream context are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Instance == "" {
		d.Instance = bus.DefaultInstance()
	}
	m, err := newMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger, m: m}
	if d.Meta != nil {
		s.meta = newMetaWriter(ctx, d.Meta, cfg.MetaQueue, s.log, m)
	}
	s.svc, err = bus.AddService(d.NC, "ingest", d.Instance, "Mnemo ingest: persist-first event intake into JetStream",
		map[string]string{"instance": d.Instance}, func() any { return s.Stats() })
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// route is one endpoint: its pattern and its handler.
type route struct {
	pattern string
	h       func(*Server, http.ResponseWriter, *http.Request)
}

// routes is ingest's route table; Register mounts it and Routes exports it.
var routes = []route{
	{"POST /v1/events", (*Server).handleEvent},
	{"POST /v1/events:batch", (*Server).handleBatch},
	{"POST /v1/hooks/claude-code/{event}", (*Server).handleClaudeCode},
}

// Register mounts the /v1 event endpoints on mux, behind the token.
func (s *Server) Register(mux *http.ServeMux) {
	auth := httpapi.NewAuth(s.cfg.Token) // one guess limiter for every route
	for _, rt := range routes {
		h := rt.h
		// Events are memory: a web page in the user's browser must not be
		// able to write them either (docs/ARCHITECTURE.md §16).
		mux.Handle(rt.pattern, httpapi.SameOrigin(s.cfg.Token,
			auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(s, w, r) }))))
	}
}

// Routes is every route Handler serves: the /v1 endpoints behind the token
// and the open probes.
func Routes() []httpapi.Route {
	return httpapi.ProbedRoutes(routes, func(rt route) string { return rt.pattern })
}

// Handler is the whole standalone API: the /v1 endpoints, /healthz and
// /readyz (the command adds /metrics).
func (s *Server) Handler() http.Handler { return httpapi.Probed(s.Register, s.Ready, s.log) }

// Ready reports whether events can be accepted: NATS connected and the
// streams in place.
func (s *Server) Ready(ctx context.Context) error {
	if s.closing.Load() {
		return errors.New("ingest: shutting down")
	}
	if !s.d.NC.IsConnected() {
		return fmt.Errorf("%w: not connected to NATS (%s)", ErrUnavailable, s.d.NC.Status())
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	for _, name := range []string{bus.EventsStream, bus.DLQStream, bus.AdvisoriesStream} {
		if _, err := s.d.JS.Stream(ctx, name); err != nil {
			return fmt.Errorf("%w: stream %s: %v", ErrUnavailable, name, err)
		}
	}
	return nil
}

// Stats returns this instance's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Instance:    s.d.Instance,
		Accepted:    s.stats.Accepted.Load(),
		Duplicates:  s.stats.Duplicates.Load(),
		Rejected:    s.stats.Rejected.Load(),
		Unavailable: s.stats.Unavailable.Load(),
	}
	if s.meta != nil {
		st.MetaDropped = s.meta.dropped.Load()
	}
	return st
}

// Close stops answering with success (new events get 503), waits for the
// pending metadata writes for at most a few seconds and removes the micro
// service. The HTTP server's Shutdown must run first so that in-flight
// requests finish their publishes.
func (s *Server) Close() {
	s.once.Do(func() {
		s.closing.Store(true)
		if s.svc != nil {
			_ = s.svc.Stop()
		}
		if s.meta != nil {
			s.meta.close(3 * time.Second)
		}
	})
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// hookOptions maps raw hook payloads without cross-process state: tags are
// stripped everywhere, each payload stands alone.
func (s *Server) hookOptions() hook.Options {
	// Named as the hook names it: the git root (a worktree as parent/worktree)
	// when the cwd is on this machine, else the cwd's basename. Either way the
	// session keeps the project of its first event.
	return hook.Options{Limits: s.cfg.Limits, Project: hook.ProjectNamer("")}
}
