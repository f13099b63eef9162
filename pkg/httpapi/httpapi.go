// Package httpapi holds the conventions every Mnemo HTTP API shares: bearer
// token auth compared in constant time, and JSON answers with errors shaped
// {"error": reason, "field": name} so a client always learns why.
package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mnemo-dev/mnemo/pkg/api"
)

// WriteJSON answers status with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers status with {"error": reason, "field": field}.
func WriteError(w http.ResponseWriter, status int, reason, field string) {
	WriteJSON(w, status, api.Error{Error: reason, Field: field})
}

// RequireToken wraps h so that, when token is not empty, every request must
// carry "Authorization: Bearer <token>"; others get 401, and an address that
// sent too many wrong tokens gets 429 (Guesses). The comparison takes the
// same time whatever the first wrong byte. Routes of one server share a
// Guesses through Auth; this is Auth for a lone route.
func RequireToken(token string, h http.Handler) http.Handler {
	return NewAuth(token).Require(h)
}

// Auth is a server's bearer-token check with its guess limiter, shared by
// every route it wraps.
type Auth struct {
	token   []byte
	guesses *Guesses
}

// NewAuth returns the check for token; an empty token lets everything in.
func NewAuth(token string) *Auth {
	return &Auth{token: []byte(token), guesses: NewGuesses()}
}

// Guesses is the limiter this Auth counts wrong tokens in, for a route that
// takes a credential another way (a login form) to count in the same one.
func (a *Auth) Guesses() *Guesses { return a.guesses }

// Require wraps h with the check.
func (a *Auth) Require(h http.Handler) http.Handler {
	if len(a.token) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if retry, blocked := a.guesses.Blocked(r); blocked {
			Refuse(w, retry)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
			if ok && got != "" {
				a.guesses.Wrong(r, got)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="mnemo"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token (set MNEMO_TOKEN)", "Authorization")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// JSONContent reports whether a request's Content-Type is acceptable for a
// JSON body: application/json (any parameters) or absent.
func JSONContent(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
