package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/mnemo-dev/mnemo/pkg/httpapi"
)

// SessionCookie is the viewer's session cookie: with MNEMO_TOKEN set, the
// browser exchanges the token for it once (POST /v1/login) and then carries
// it on every call, the event stream included, since EventSource cannot
// send an Authorization header (docs/ARCHITECTURE.md §16).
const SessionCookie = "mnemo_session"

// sessionValue is the cookie's value for a token: an HMAC of a fixed label
// under the token, so changing the token ends every browser session and the
// cookie never holds the token itself.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("mnemo viewer session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// authorized reports whether r carries the bearer token or the session
// cookie; true when no token is configured. Both compare in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
		subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1 {
		return true
	}
	if c, err := r.Cookie(SessionCookie); err == nil &&
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1 {
		return true
	}
	return false
}

// requireAuth answers 401 to a request without the token or the cookie.
func (s *Server) requireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mnemo"`)
			httpapi.WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token or session cookie (set MNEMO_TOKEN; the viewer asks for it)", "Authorization")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// sameOrigin refuses what a web page elsewhere, or a DNS-rebinding name,
// could make the user's browser send (docs/ARCHITECTURE.md §16):
//   - without a token, a Host that is not a loopback address or localhost
//     (a rebinding name resolves to 127.0.0.1 but keeps its own Host);
//   - any state-changing request whose Origin is not this server's own
//     (scheme://Host), or that the browser marks cross-site.
//
// Clients other than browsers send no Origin and pass.
func (s *Server) sameOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" && !loopbackHost(r.Host) {
			httpapi.WriteError(w, http.StatusForbidden, "Host "+quoteShort(r.Host)+" is not this machine's loopback: without MNEMO_TOKEN Mnemo answers only to localhost, 127.0.0.1 and [::1]", "Host")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				httpapi.WriteError(w, http.StatusForbidden, "a cross-site request cannot change Mnemo's memory or settings", "Origin")
				return
			}
			if o := r.Header.Get("Origin"); o != "" && !originMatches(o, r.Host) {
				httpapi.WriteError(w, http.StatusForbidden, "Origin "+quoteShort(o)+" is not Mnemo's own ("+quoteShort(r.Host)+"): cross-origin requests cannot change memory or settings", "Origin")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's loopback:
// localhost or a loopback IP literal, with or without a port.
func loopbackHost(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// originMatches reports whether an Origin header is http(s)://host.
func originMatches(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" && u.Path != "/" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

func quoteShort(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
