package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/ingest"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// services are the connections `mnemo run` hands to the HTTP services it
// serves on one address.
type services struct {
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	rdb   redis.UniversalClient
	store store.Store
	reg   prometheus.Registerer
	token string
	// layout and memberTTL are the worker's, for the stats of /v1/stats.
	layout    bus.Layout
	memberTTL time.Duration
	// settings are the user's settings file, read by the context builder.
	settings *settings.Settings
}

// readiness is one service's readiness check.
type readiness func(ctx context.Context) error

// mountServices mounts ingest (and the other HTTP services) on mux with
// /healthz and /readyz, and returns what closes them, in order.
func mountServices(mux *http.ServeMux, s services) (closeAll func(), err error) {
	deps := ingest.Deps{NC: s.nc, JS: s.js, Logger: s.log, Registry: s.reg, Instance: "local"}
	if s.rdb != nil {
		deps.Meta = session.NewMetaStore(s.rdb)
	}
	in, err := ingest.New(ingest.Config{Token: s.token}, deps)
	if err != nil {
		return nil, err
	}
	in.Register(mux)
	q, err := query.New(query.Config{Token: s.token, MemberTTL: s.memberTTL}, query.Deps{
		Store: s.store, NC: s.nc, JS: s.js, Layout: s.layout, Redis: s.rdb, Logger: s.log, Registry: s.reg, Settings: s.settings,
	})
	if err != nil {
		in.Close()
		return nil, err
	}
	q.Register(mux)
	checks := []readiness{in.Ready, q.Ready}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var errs []error
		for _, c := range checks {
			errs = append(errs, c(r.Context()))
		}
		if err := errors.Join(errs...); err != nil {
			api.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return func() { in.Close(); q.Close() }, nil
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }
