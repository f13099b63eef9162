package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestRequireTokenRefusesAnAddressThatGuessedTooOften(t *testing.T) {
	a := NewAuth("s3cret")
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	a.guesses.now = func() time.Time { return now }
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	send := func(addr, header string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// A missing token is not a guess, and one wrong token repeated is one:
	// any number of them stays 401.
	for range GuessesPerWindow * 2 {
		if w := send("10.0.0.1:1000", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("no token: got %d, want 401", w.Code)
		}
		if w := send("10.0.0.1:1000", "Bearer stale"); w.Code != http.StatusUnauthorized {
			t.Fatalf("one wrong token repeated: got %d, want 401", w.Code)
		}
	}
	for i := range GuessesPerWindow - 1 {
		if w := send("10.0.0.1:"+strconv.Itoa(2000+i), "Bearer guess"+strconv.Itoa(i)); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: got %d, want 401", i, w.Code)
		}
	}
	// The address (any port) is refused now, even with the right token, so
	// a right guess cannot be told from a wrong one.
	w := send("10.0.0.1:3000", "Bearer s3cret")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong tokens: got %d, want 429", GuessesPerWindow, w.Code)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > int(GuessWindow/time.Second) {
		t.Fatalf("Retry-After %q: want whole seconds within the window", w.Header().Get("Retry-After"))
	}
	// Another address is not affected.
	if w := send("10.0.0.2:1000", "Bearer s3cret"); w.Code != http.StatusNoContent {
		t.Fatalf("other address: got %d, want 204", w.Code)
	}
	// The window ends: the address gets its guesses back.
	now = now.Add(GuessWindow)
	if w := send("10.0.0.1:3000", "Bearer s3cret"); w.Code != http.StatusNoContent {
		t.Fatalf("after the window: got %d, want 204", w.Code)
	}
}

func TestGuessesBoundTheAddressesTheyTrack(t *testing.T) {
	g := NewGuesses()
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	req := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + ":1"
		return r
	}
	for i := range guessAddresses + 500 {
		g.Wrong(req(i), "guess")
	}
	if n := len(g.by); n > guessAddresses+1 {
		t.Fatalf("tracking %d addresses, want at most %d and the shared window", n, guessAddresses)
	}
	// The addresses past the bound share one window: together they are
	// limited like one address.
	for i := range GuessesPerWindow {
		g.Wrong(req(guessAddresses+1000+i), "guess-"+strconv.Itoa(i))
	}
	if _, blocked := g.Blocked(req(guessAddresses + 2000)); !blocked {
		t.Fatal("an untracked address past the bound is not limited")
	}
	// Once the windows end, old entries make room again.
	now = now.Add(GuessWindow)
	g.Wrong(req(1<<20), "guess")
	if _, blocked := g.Blocked(req(1 << 20)); blocked {
		t.Fatal("a fresh address after the windows ended is blocked")
	}
	if n := len(g.by); n > 3 {
		t.Fatalf("after the windows ended %d addresses still tracked, want the expired ones dropped", n)
	}
}
