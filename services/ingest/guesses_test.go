package ingest_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

// Every route shares one guess limiter: wrong tokens spread over routes
// are counted together, and past the limit the right token gets 429 too.
func TestWrongTokensAreLimitedOverEveryRoute(t *testing.T) {
	e := newEnv(t, ingest.Config{Token: "t0ken"})
	ev := mustJSON(t, envelope("guess", event.KindSessionStart))
	paths := []string{"/v1/events", "/v1/events:batch", "/v1/hooks/claude-code/SessionStart"}
	for i := range httpapi.GuessesPerWindow {
		if a := e.post(paths[i%len(paths)], "application/json", ev, "Authorization", fmt.Sprintf("Bearer guess-%d", i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d on %s: %d, want 401", i, paths[i%len(paths)], a.status)
		}
	}
	a := e.post("/v1/events", "application/json", ev, "Authorization", "Bearer t0ken")
	if a.status != http.StatusTooManyRequests || a.body["error"] == "" {
		t.Fatalf("right token after %d wrong ones: %d %s, want 429 with a reason", httpapi.GuessesPerWindow, a.status, a.raw)
	}
	if got := e.stored(); len(got) != 0 {
		t.Fatalf("stored %d events from a refused address", len(got))
	}
}
