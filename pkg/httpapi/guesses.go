package httpapi

import (
	"hash/maphash"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Limits of Guesses: a client address may present this many wrong
// credentials per window before it is refused with 429 until the window
// ends; at most this many addresses are tracked at once (past it, the new
// ones share one window, so a flood from many addresses is limited as one).
const (
	GuessesPerWindow = 20
	GuessWindow      = time.Minute
	guessAddresses   = 10000
)

// Guesses limits wrong tokens per client address, so that a weak
// MNEMO_TOKEN cannot be guessed at network speed. Only a distinct wrong
// token counts: a request without one is not a guess, and a client that
// repeats one wrong token (a misconfigured hook replaying its spool, a
// check of every route) makes one guess, not one per request. The address is the TCP
// peer's (X-Forwarded-For is anyone's to write), so behind a reverse proxy
// the proxy's limit applies to all its clients together. Safe for
// concurrent use; one value serves every route of a server, so guesses
// cannot be spread over routes.
type Guesses struct {
	mu   sync.Mutex
	by   map[string]*guessWindow
	seed maphash.Seed
	now  func() time.Time
}

// guessWindow holds the hashes of the distinct wrong tokens an address sent
// since start (at most GuessesPerWindow: then it is refused).
type guessWindow struct {
	start time.Time
	wrong []uint64
}

// NewGuesses returns an empty limiter.
func NewGuesses() *Guesses {
	return &Guesses{by: make(map[string]*guessWindow), seed: maphash.MakeSeed(), now: time.Now}
}

// clientAddr is the peer's IP, or RemoteAddr whole when it has no port.
func clientAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// window returns addr's current window for counting, starting a new one
// when it has ended; the caller holds g.mu.
func (g *Guesses) window(addr string, now time.Time) *guessWindow {
	w := g.by[addr]
	if w != nil && now.Sub(w.start) < GuessWindow {
		return w
	}
	if w == nil && len(g.by) >= guessAddresses {
		for a, old := range g.by {
			if now.Sub(old.start) >= GuessWindow {
				delete(g.by, a)
			}
		}
		if len(g.by) >= guessAddresses {
			addr = "" // the shared overflow window
			if w = g.by[addr]; w != nil && now.Sub(w.start) < GuessWindow {
				return w
			}
		}
	}
	w = &guessWindow{start: now}
	g.by[addr] = w
	return w
}

// Blocked reports whether r's address has used up its wrong guesses, and
// for how long it stays refused. It only looks: a request that guesses
// nothing adds no entry.
func (g *Guesses) Blocked(r *http.Request) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	w := g.by[clientAddr(r)]
	if w == nil && len(g.by) >= guessAddresses {
		w = g.by[""] // an untracked address is in the shared window
	}
	if w == nil || len(w.wrong) < GuessesPerWindow || now.Sub(w.start) >= GuessWindow {
		return 0, false
	}
	return GuessWindow - now.Sub(w.start), true
}

// Wrong counts token, a wrong credential from r's address, unless the
// address sent it already in this window.
func (g *Guesses) Wrong(r *http.Request, token string) {
	h := maphash.String(g.seed, token)
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.window(clientAddr(r), g.now())
	if len(w.wrong) < GuessesPerWindow && !slices.Contains(w.wrong, h) {
		w.wrong = append(w.wrong, h)
	}
}

// Refuse answers 429 with Retry-After (whole seconds, at least 1).
func Refuse(w http.ResponseWriter, retry time.Duration) {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	WriteError(w, http.StatusTooManyRequests, "too many wrong tokens from this address ("+
		strconv.Itoa(GuessesPerWindow)+" a minute); retry after "+strconv.Itoa(secs)+" s", "Authorization")
}
