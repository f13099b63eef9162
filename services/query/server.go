package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// AbortPrefix is where workers listen for "abort this session's work":
// mnemo.ctl.abort.<session> (services/agent-worker listens on it).
const AbortPrefix = "mnemo.ctl.abort"

// Config is the query service's configuration; every page size is bounded.
type Config struct {
	// Token, when set, is required as a bearer token on every /v1 endpoint.
	Token string
	// MaxPage bounds limit= on every list (default 100).
	MaxPage int
	// DefaultBudget and MaxBudget bound the context's token budget.
	DefaultBudget, MaxBudget int
	// Heartbeat is the SSE keep-alive period (default 15 s).
	Heartbeat time.Duration
	// Replay is how many recent stream events a reconnecting client can
	// resume from with Last-Event-ID (default 1024).
	Replay int
	// MemberTTL is the workers' heartbeat TTL, to count live workers.
	MemberTTL time.Duration
	// IdleAfter is how long without events a session stops being active.
	IdleAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxPage <= 0 {
		c.MaxPage = 100
	}
	if c.DefaultBudget <= 0 {
		c.DefaultBudget = 8000
	}
	if c.MaxBudget <= 0 {
		c.MaxBudget = 64000
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Replay <= 0 {
		c.Replay = 1024
	}
	if c.MemberTTL <= 0 {
		c.MemberTTL = 15 * time.Second
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 30 * time.Minute
	}
	return c
}

// Deps are the query service's connections, owned by the caller.
type Deps struct {
	Store  store.Store
	NC     *nats.Conn
	JS     jetstream.JetStream
	Layout bus.Layout
	// Redis gives live workers and active sessions for /v1/stats; optional.
	Redis    redis.UniversalClient
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Settings are the context's settings, read at every request: the
	// user's settings.json under `mnemo run`; nil reads them from the
	// environment once (a cluster's query service).
	Settings *settings.Settings
}

// Server is the read-side HTTP API.
type Server struct {
	cfg Config
	d   Deps
	log *slog.Logger
	hub *hub
	// settings are the context's settings (Deps.Settings).
	settings *settings.Settings
	reqs     *prometheus.CounterVec
	once     sync.Once
	// started is when the server was built, for /v1/stats' uptime.
	started time.Time
}

// New builds the server and subscribes the live stream to mnemo.status.>.
func New(cfg Config, d Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if d.Store == nil || d.NC == nil || d.JS == nil {
		return nil, errors.New("query: a store, a NATS connection and JetStream are required")
	}
	if d.Layout.Partitions == 0 {
		d.Layout = bus.DefaultLayout()
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Settings == nil {
		d.Settings = settings.FromEnvironment()
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger.With("service", "query"), settings: d.Settings,
		started: time.Now().UTC().Truncate(time.Second)}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mnemo_query_requests_total", Help: "Read-side requests by endpoint and status class.",
	}, []string{"endpoint", "class"})
	if err := d.Registry.Register(s.reqs); err != nil {
		return nil, fmt.Errorf("query: register metrics: %w", err)
	}
	h, err := newHub(d.NC, cfg.Replay)
	if err != nil {
		return nil, err
	}
	s.hub = h
	return s, nil
}

// Close stops the live stream; open SSE responses end.
func (s *Server) Close() {
	s.once.Do(func() { s.hub.close() })
}

// Register mounts the /v1 read endpoints on mux, behind the token.
func (s *Server) Register(mux *http.ServeMux) {
	route := func(pattern, name string, h http.HandlerFunc) {
		mux.Handle(pattern, api.RequireToken(s.cfg.Token, s.count(name, h)))
	}
	route("GET /v1/context", "context", s.handleContext)
	route("GET /v1/search", "search", s.handleSearch)
	route("GET /v1/timeline", "timeline", s.handleTimeline)
	route("GET /v1/projects", "projects", s.handleProjects)
	route("GET /v1/observations", "observations", s.handleObservations)
	route("DELETE /v1/observations/{id}", "delete_observation", s.handleDeleteObservation)
	route("GET /v1/sessions", "sessions", s.handleSessions)
	route("GET /v1/sessions/{id}", "session", s.handleSession)
	route("DELETE /v1/sessions/{id}", "delete_session", s.handleDeleteSession)
	route("POST /v1/memories", "memories", s.handleMemory)
	route("GET /v1/stats", "stats", s.handleStats)
	route("GET /v1/stream", "stream", s.handleStream)
}

// Handler is the standalone API: the /v1 endpoints plus /healthz and /readyz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			api.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return mux
}

// Ready reports whether the store answers and NATS is connected.
func (s *Server) Ready(ctx context.Context) error {
	if !s.d.NC.IsConnected() {
		return errors.New("query: not connected to NATS")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.d.Store.Cursor(ctx, "readyz"); err != nil {
		return fmt.Errorf("query: store: %w", err)
	}
	return nil
}

// statusWriter remembers the status for the request counter.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets SSE through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) count(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		s.reqs.WithLabelValues(name, fmt.Sprintf("%dxx", sw.status/100)).Inc()
	}
}
