package reaper

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// ReplayRoute replays one dead letter. It lives on the reaper because the
// reaper's broker user may publish events (mnemo.ev.>), and query's may not:
// in a cluster, an operator replays through any reaper.
var ReplayRoute = httpapi.Route{Pattern: "POST /v1/dlq/{id}/replay"}

// Register mounts the reaper's admin routes on mux, behind the token.
func (r *Reaper) Register(mux *http.ServeMux) {
	mux.Handle(ReplayRoute.Pattern, httpapi.RequireToken(r.cfg.Token, http.HandlerFunc(r.handleReplay)))
}

// Handler serves Routes: the admin routes behind the token, and /healthz,
// which says only up or not, unlogged (leadership is in /metrics,
// mnemo_reaper_leader, which the command serves beside it).
func (r *Reaper) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(httpapi.HealthzRoute.Pattern, daemon.Health(nil, r.healthyErr))
	r.Register(mux)
	return mux
}

// healthyErr is nil once Run found the streams, while NATS is connected.
func (r *Reaper) healthyErr() error {
	if !r.healthy.Load() {
		return errors.New("reaper: streams not found yet")
	}
	if !r.d.NC.IsConnected() {
		return errors.New("reaper: not connected to NATS")
	}
	return nil
}

// Routes is every route Handler serves.
func Routes() []httpapi.Route {
	return []httpapi.Route{httpapi.HealthzRoute, ReplayRoute}
}

// handleReplay answers 200 {"dead_letter":ID,"event_id":NEW}, 404 for an
// unknown dead letter, 409 for one replayed before.
func (r *Reaper) handleReplay(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.ParseInt(req.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		httpapi.WriteError(w, http.StatusBadRequest, "dead letter ID must be a positive whole number", "id")
		return
	}
	newID, err := Replay(req.Context(), r.d.JS, r.d.Store, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, err.Error(), "id")
	case errors.Is(err, ErrAlreadyReplayed):
		httpapi.WriteJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "dead_letter": id, "event_id": newID})
	case err != nil:
		r.log.Error("dead letter replay failed", "dead_letter", id, "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
	default:
		r.log.Info("dead letter replayed", "dead_letter", id, "event_id", newID)
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"dead_letter": id, "event_id": newID})
	}
}
