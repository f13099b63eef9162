package ingest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

// A web page elsewhere in the user's browser cannot write memory through
// ingest: a no-cors fetch (no Content-Type, so no preflight), a request the
// browser marks cross-site, or a DNS-rebinding name are refused with 403 and
// nothing is stored; the hook (no Origin) and Mnemo's own origin pass.
func TestCrossOriginEventsRefused(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	send := func(host string, hdr ...string) int {
		t.Helper()
		body := mustJSON(t, envelope("web-1", event.KindUserPrompt))
		req, err := http.NewRequest(http.MethodPost, e.http.URL+"/v1/events", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	own := strings.TrimPrefix(e.http.URL, "http://")
	for name, tc := range map[string]struct {
		host string
		hdr  []string
	}{
		"no-cors fetch from another site": {"", []string{"Origin", "https://evil.example"}},
		"marked cross-site":               {"", []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}},
		"DNS rebinding name":              {"mnemo.evil.example:37800", []string{"Content-Type", "application/json"}},
	} {
		if got := send(tc.host, tc.hdr...); got != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", name, got)
		}
	}
	if n := len(e.stored()); n != 0 {
		t.Fatalf("%d events stored from refused requests", n)
	}
	if got := send("", "Content-Type", "application/json"); got != http.StatusAccepted {
		t.Fatalf("the hook's request: HTTP %d, want 202", got)
	}
	if got := send("", "Origin", "http://"+own, "Content-Type", "application/json"); got != http.StatusAccepted {
		t.Fatalf("Mnemo's own origin: HTTP %d, want 202", got)
	}
}
