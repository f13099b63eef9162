package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Config is the query service's configuration; every page size is bounded.
type Config struct {
	// Addr is the HTTP listen address (standalone binary only).
	Addr string
	// Partitions is the event stream's partition count (MNEMO_PARTITIONS),
	// the same as the workers'.
	Partitions int
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
	Redis redis.UniversalClient
	// Logger is tagged with the service by the caller (logging.New), so a
	// JSON line carries "service" once.
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Settings are the context's settings, read at every request: the
	// user's settings.json under `mnemo run`; nil reads them from the
	// environment once (a cluster's query service).
	Settings *settings.Settings
	// Compressor is shown by the viewer's settings; empty when unknown
	// (a cluster's query service does not run the compressor).
	Compressor Compressor
	// Embedder, when set, turns semantic and hybrid search on
	// (docs/ARCHITECTURE.md §14); nil = full text only.
	Embedder *embed.Client
	// Replay republishes dead letter id and returns its new event ID; nil
	// asks a reaper over the bus (bus.RequestReplay), as in a cluster,
	// where query may not publish events itself.
	Replay func(ctx context.Context, id int64) (string, error)
	// NATSMonitor is the embedded NATS server's monitoring URL
	// (http://host:port), linked by the ops page; "" = off.
	NATSMonitor string
	// Instance names this process in its micro service stats subject
	// (mnemo.query.stats.<instance>); empty uses host-pid.
	Instance string
}

// Server is the read-side HTTP API.
type Server struct {
	cfg Config
	d   Deps
	log *slog.Logger
	hub *hub
	// settings are the context's settings (Deps.Settings).
	settings *settings.Settings
	// session is the viewer's session cookie value for the token.
	session string
	// guesses limits wrong tokens per client address (bearer and login).
	guesses *httpapi.Guesses
	reqs    *prometheus.CounterVec
	once    sync.Once
	// started is when the server was built, for /v1/stats' uptime.
	started time.Time
	// replayOverBus: dead letters are replayed by a reaper asked over the
	// bus (no Deps.Replay was given).
	replayOverBus bool
	// sem is the semantic index (semantic.go); nil when off.
	sem *semanticIndex
	// history is the ops page's chart samples (ops.go).
	history opsHistoryRing
	// svc is the NATS micro service mnemo-query; requests feeds its stats.
	svc      micro.Service
	requests atomic.Int64
	// stopHub cancels the end of the live stream at ctx's end (New).
	stopHub func() bool
}

// ServiceStats are what the micro service mnemo-query reports.
type ServiceStats struct {
	Instance string `json:"instance"`
	Requests int64  `json:"requests"`
}

// New builds the server, subscribes the live stream to mnemo.status.>,
// registers its NATS micro service and starts keeping the semantic index.
// When ctx ends the open event streams end (so that the HTTP server's
// graceful shutdown need not wait for them) and the index stops; Close
// releases the rest.
func New(ctx context.Context, cfg Config, d Deps) (*Server, error) {
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
	if d.Instance == "" {
		d.Instance = bus.DefaultInstance()
	}
	overBus := d.Replay == nil
	if overBus {
		nc := d.NC
		d.Replay = func(ctx context.Context, id int64) (string, error) { return bus.RequestReplay(ctx, nc, id) }
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger, settings: d.Settings, replayOverBus: overBus,
		started: time.Now().UTC().Truncate(time.Second), guesses: httpapi.NewGuesses()}
	if cfg.Token != "" {
		s.session = sessionValue(cfg.Token)
	}
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
	s.stopHub = context.AfterFunc(ctx, h.close)
	s.svc, err = bus.AddService(d.NC, "query", d.Instance, "Mnemo query: context, search, sessions, stats and the live stream",
		map[string]string{"instance": d.Instance}, func() any {
			return ServiceStats{Instance: d.Instance, Requests: s.requests.Load()}
		})
	if err != nil {
		h.close()
		return nil, err
	}
	if s.sem, err = startSemantic(ctx, d.Store, d.Embedder, d.NC, s); err != nil {
		_ = s.svc.Stop()
		h.close()
		return nil, err
	}
	return s, nil
}

// Close removes the micro service and stops the live stream; open SSE
// responses end.
func (s *Server) Close() {
	s.once.Do(func() { s.stopHub(); _ = s.svc.Stop(); s.hub.close(); s.sem.close() })
}

// route is one endpoint: its pattern, its name in the request counter and
// its handler.
type route struct {
	pattern, name string
	h             func(*Server, http.ResponseWriter, *http.Request)
}

// selfAuth are the routes that check the token or cookie themselves: the
// viewer's page answers the login page, the login takes the token.
var selfAuth = map[string]bool{"viewer": true, "ops_page": true, "login": true}

// routes is the read side's route table; Register mounts it and Routes
// exports it.
var routes = []route{
	{"GET /v1/context", "context", (*Server).handleContext},
	{"GET /v1/search", "search", (*Server).handleSearch},
	{"GET /v1/timeline", "timeline", (*Server).handleTimeline},
	{"GET /v1/projects", "projects", (*Server).handleProjects},
	{"GET /v1/observations", "observations", (*Server).handleObservations},
	{"DELETE /v1/observations/{id}", "delete_observation", (*Server).handleDeleteObservation},
	{"GET /v1/sessions", "sessions", (*Server).handleSessions},
	{"GET /v1/sessions/{id}", "session", (*Server).handleSession},
	{"DELETE /v1/sessions/{id}", "delete_session", (*Server).handleDeleteSession},
	{"POST /v1/memories", "memories", (*Server).handleMemory},
	{"GET /v1/stats", "stats", (*Server).handleStats},
	{"GET /v1/ops", "ops", (*Server).handleOpsData},
	{"POST /v1/dead-letters/{id}/replay", "replay", (*Server).handleReplay},
	{"GET /v1/stream", "stream", (*Server).handleStream},
	{"GET /v1/feed/{kind}", "feed", (*Server).handleFeed},
	{"GET /v1/settings", "settings", (*Server).handleGetSettings},
	{"PUT /v1/settings", "put_settings", (*Server).handlePutSettings},
	{"POST /v1/login", "login", (*Server).handleLogin},
	{"POST /v1/logout", "logout", (*Server).handleLogout},
	{"GET /{$}", "viewer", (*Server).handleIndex},
	{"GET /ops", "ops_page", (*Server).handleOpsPage},
	{"GET /static/{file}", "static", (*Server).handleStatic},
}

// Register mounts the read endpoints and the viewer on mux, behind the
// token (or the viewer's session cookie) and the same-origin checks.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range routes {
		h := rt.h
		var hh http.Handler = s.count(rt.name, func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		if !selfAuth[rt.name] {
			hh = s.requireAuth(hh)
		}
		mux.Handle(rt.pattern, s.sameOrigin(hh))
	}
}

// Routes is every route Handler serves: the endpoints and the viewer behind
// the token and the open probes.
func Routes() []httpapi.Route {
	return httpapi.ProbedRoutes(routes, func(rt route) string { return rt.pattern })
}

// Handler is the standalone API: the /v1 endpoints plus /healthz and /readyz.
func (s *Server) Handler() http.Handler { return httpapi.Probed(s.Register, s.Ready, s.log) }

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
		s.requests.Add(1)
		s.reqs.WithLabelValues(name, fmt.Sprintf("%dxx", sw.status/100)).Inc()
	}
}
