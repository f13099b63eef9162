package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
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
// A wrong bearer token counts against r's address (httpapi.Guesses); a
// wrong cookie does not: it is an HMAC nobody guesses, and a stale one is
// what every browser holds after the token changed.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1 {
			return true
		}
		if got != "" {
			s.guesses.Wrong(r, got)
		}
	}
	if c, err := r.Cookie(SessionCookie); err == nil &&
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1 {
		return true
	}
	return false
}

// refused answers 429 when r's address used up its wrong guesses.
func (s *Server) refused(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Token == "" {
		return false
	}
	retry, blocked := s.guesses.Blocked(r)
	if blocked {
		httpapi.Refuse(w, retry)
	}
	return blocked
}

// requireAuth answers 401 to a request without the token or the cookie.
func (s *Server) requireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.refused(w, r) {
			return
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mnemo"`)
			httpapi.WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token or session cookie (set MNEMO_TOKEN; the viewer asks for it)", "Authorization")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// sameOrigin is httpapi.SameOrigin with this server's token
// (docs/ARCHITECTURE.md §16).
func (s *Server) sameOrigin(h http.Handler) http.Handler { return httpapi.SameOrigin(s.cfg.Token, h) }
