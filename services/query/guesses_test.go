package query_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/services/query"
)

// Wrong tokens from one address, through the login and as bearer tokens
// alike, are limited together: past the limit even the right token gets
// 429, so a weak MNEMO_TOKEN cannot be guessed at network speed.
func TestWrongTokensAreLimitedAcrossLoginAndBearer(t *testing.T) {
	const token = "s3cret-token"
	r := newRigWith(t, filepath.Join(t.TempDir(), "mnemo.db"), query.Config{Token: token, Heartbeat: 200 * time.Millisecond}, nil)
	for i := range httpapi.GuessesPerWindow {
		var code int
		if i%2 == 0 {
			code, _, _ = r.send("POST", "/v1/login", fmt.Sprintf(`{"token":"guess-%d"}`, i), map[string]string{"Content-Type": "application/json"})
		} else {
			code, _, _ = r.send("GET", "/v1/projects", "", map[string]string{"Authorization": fmt.Sprintf("Bearer guess-%d", i)})
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	code, body, hdr := r.send("POST", "/v1/login", `{"token":"`+token+`"}`, map[string]string{"Content-Type": "application/json"})
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || hdr.Get("Set-Cookie") != "" {
		t.Fatalf("login with the right token after %d wrong ones: %d %v %s, want 429 with Retry-After", httpapi.GuessesPerWindow, code, hdr, body)
	}
	if code, _, _ := r.send("GET", "/v1/projects", "", map[string]string{"Authorization": "Bearer " + token}); code != http.StatusTooManyRequests {
		t.Fatalf("bearer with the right token after the limit: %d, want 429", code)
	}
	// Health probes answer whatever the limiter says.
	if code, _, _ := r.send("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("/healthz after the limit: %d", code)
	}
}
