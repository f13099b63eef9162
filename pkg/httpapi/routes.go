package httpapi

import (
	"context"
	"log/slog"
	"net/http"
)

// Route is one HTTP route a service serves, as its http.ServeMux pattern
// ("GET /v1/search"). Open routes answer without the bearer token: only the
// health probes are open, and they say nothing beyond up or ready. Services
// export their table so tests can walk every route.
type Route struct {
	Pattern string
	Open    bool
}

// Probe routes: open to load balancers and orchestrators.
var (
	HealthzRoute = Route{Pattern: "GET /healthz", Open: true}
	ReadyzRoute  = Route{Pattern: "GET /readyz", Open: true}
)

// Probes mounts /healthz, which answers {"status":"ok"} while the process
// serves, and /readyz, which answers {"status":"ready"} or 503
// {"status":"unavailable"}. The reason a service is not ready is logged, never
// shown to an unauthenticated caller.
func Probes(mux *http.ServeMux, ready func(context.Context) error, log *slog.Logger) {
	mux.HandleFunc(HealthzRoute.Pattern, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc(ReadyzRoute.Pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context()); err != nil {
			if log != nil {
				log.Warn("not ready", "err", err)
			}
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// ProbedRoutes is the probes' routes followed by one per entry of table,
// whose pattern pattern gives: what a Handler built by Probed serves.
func ProbedRoutes[T any](table []T, pattern func(T) string) []Route {
	out := []Route{HealthzRoute, ReadyzRoute}
	for _, t := range table {
		out = append(out, Route{Pattern: pattern(t)})
	}
	return out
}

// Probed is a service's standalone API: the routes register mounts, and
// Probes beside them answering ready.
func Probed(register func(*http.ServeMux), ready func(context.Context) error, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	register(mux)
	Probes(mux, ready, log)
	return mux
}
