package hookcli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

// SessionStart asks for its context while its event is being delivered:
// this server answers the event only once the context was asked for, so a
// hook that waited for the event's answer before asking would time out and
// spool the event.
func TestSessionStartFetchesContextWhileDelivering(t *testing.T) {
	asked := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/context":
			close(asked)
			_, _ = io.WriteString(w, `{"context":"the project's memory","observations":1,"tokens":4}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/events":
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"accepted":true}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	home := t.TempDir()
	t.Setenv("MNEMO_URL", srv.URL)
	t.Setenv("MNEMO_HOME", home)
	t.Setenv("MNEMO_HOOK_TIMEOUT", "5s")
	t.Setenv("MNEMO_HOOK_CONTEXT_TIMEOUT", "5s")
	payload := `{"session_id":"s-start","hook_event_name":"SessionStart","source":"startup","cwd":"/home/dev/p"}`
	var out bytes.Buffer
	if err := hookcli.RunHook(context.Background(), []string{"claude-code", "SessionStart"}, strings.NewReader(payload), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the project's memory") {
		t.Fatalf("SessionStart printed %q, want the context", out.String())
	}
	if spooled, _ := filepath.Glob(filepath.Join(home, "spool", "*.json")); len(spooled) != 0 {
		t.Fatalf("the event was spooled (%v): it was not delivered while the context was fetched", spooled)
	}
}
