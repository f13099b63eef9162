package worker

import (
	"errors"
	"net/http"

	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
)

// Handler serves Routes: /healthz, 200 while NATS is connected, else 503
// with the reason logged (the command adds /metrics beside it).
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(httpapi.HealthzRoute.Pattern, daemon.Health(w.log, w.healthy))
	return mux
}

// Routes is every route Handler serves.
func Routes() []httpapi.Route { return []httpapi.Route{httpapi.HealthzRoute} }

func (w *Worker) healthy() error {
	if !w.d.NC.IsConnected() {
		return errors.New("not connected to NATS")
	}
	return nil
}
