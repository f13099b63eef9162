package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
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
	// ingest and query are the services' settings; the token is shared.
	ingest ingest.Config
	query  query.Config
	// layout is the worker's, for the stats of /v1/stats.
	layout bus.Layout
	// settings are the user's settings file, read by the context builder.
	settings *settings.Settings
	// compressor is the compressor in use, shown by the viewer.
	compressor query.Compressor
	// embedder turns semantic search on; nil = off.
	embedder *embed.Client
	// natsMonitor is the embedded NATS monitoring URL; "" = off.
	natsMonitor string
}

// mountServices mounts ingest (and the other HTTP services) on mux with
// /healthz and /readyz, and returns what closes them, in order.
func mountServices(ctx context.Context, mux *http.ServeMux, s services) (closeAll func(), err error) {
	component := func(name string) *slog.Logger {
		if s.log == nil {
			return nil // the service's own default
		}
		return s.log.With("component", name)
	}
	deps := ingest.Deps{NC: s.nc, JS: s.js, Logger: component("ingest"), Registry: s.reg, Instance: "local"}
	if s.rdb != nil {
		deps.Meta = session.NewMetaStore(s.rdb)
	}
	in, err := ingest.New(ctx, s.ingest, deps)
	if err != nil {
		return nil, err
	}
	in.Register(mux)
	q, err := query.New(ctx, s.query, query.Deps{
		Store: s.store, NC: s.nc, JS: s.js, Layout: s.layout, Redis: s.rdb, Logger: component("query"), Registry: s.reg, Settings: s.settings,
		Compressor: s.compressor, Embedder: s.embedder, NATSMonitor: s.natsMonitor, Instance: "local",
	})
	if err != nil {
		in.Close()
		return nil, err
	}
	q.Register(mux)
	httpapi.Probes(mux, func(ctx context.Context) error { return errors.Join(in.Ready(ctx), q.Ready(ctx)) }, s.log)
	return func() { in.Close(); q.Close() }, nil
}

func urlParse(s string) (*url.URL, error) { return url.Parse(s) }
