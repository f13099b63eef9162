package query

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/nats-io/nats.go"
)

// streamEvent is one live change: an observation, a summary, a prompt or a
// session status, as a worker announced it on mnemo.status.<what>.<session>.
type streamEvent struct {
	id   uint64
	what string
	data []byte
}

// hub fans mnemo.status.> out to SSE clients and keeps the latest events so
// that a client reconnecting with Last-Event-ID misses nothing recent.
type hub struct {
	sub     *nats.Subscription
	mu      sync.Mutex
	next    uint64
	ring    []streamEvent
	size    int
	clients map[chan streamEvent]struct{}
	closed  chan struct{}
	once    sync.Once
}

func newHub(nc *nats.Conn, size int) (*hub, error) {
	h := &hub{next: uint64(time.Now().UnixMilli()) << 10, size: size, clients: map[chan streamEvent]struct{}{}, closed: make(chan struct{})}
	sub, err := nc.Subscribe(bus.StatusPrefix+".>", h.receive)
	if err != nil {
		return nil, fmt.Errorf("query: subscribe %s.>: %w", bus.StatusPrefix, err)
	}
	h.sub = sub
	return h, nil
}

func (h *hub) receive(m *nats.Msg) {
	what := strings.TrimPrefix(m.Subject, bus.StatusPrefix+".")
	if i := strings.IndexByte(what, '.'); i >= 0 {
		what = what[:i]
	}
	if !json.Valid(m.Data) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	e := streamEvent{id: h.next, what: what, data: m.Data}
	h.ring = append(h.ring, e)
	if len(h.ring) > h.size {
		h.ring = h.ring[len(h.ring)-h.size:]
	}
	for c := range h.clients {
		select {
		case c <- e:
		default: // a client this slow loses events; it can reconnect with Last-Event-ID
		}
	}
}

// join registers a client and returns the events after lastID it missed.
func (h *hub) join(lastID uint64) (chan streamEvent, []streamEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan streamEvent, 256)
	h.clients[c] = struct{}{}
	var missed []streamEvent
	if lastID > 0 {
		for _, e := range h.ring {
			if e.id > lastID {
				missed = append(missed, e)
			}
		}
	}
	return c, missed
}

func (h *hub) leave(c chan streamEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// close ends the open streams; it may be called more than once.
func (h *hub) close() {
	h.once.Do(func() {
		_ = h.sub.Unsubscribe()
		close(h.closed)
	})
}

// handleStream is GET /v1/stream: Server-Sent Events of live changes, with
// heartbeats and resumption from Last-Event-ID.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpapi.WriteError(w, http.StatusInternalServerError, "streaming unsupported by this connection", "")
		return
	}
	var last uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "Last-Event-ID is not an event ID", "Last-Event-ID")
			return
		}
		last = n
	}
	c, missed := s.hub.join(last)
	defer s.hub.leave(c)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n: mnemo stream\n\n")
	for _, e := range missed {
		writeEvent(w, e)
	}
	fl.Flush()
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.closed:
			return
		case e := <-c:
			writeEvent(w, e)
			fl.Flush()
		case <-beat.C:
			fmt.Fprintf(w, ": heartbeat %d\n\n", time.Now().Unix())
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, e streamEvent) {
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.id, e.what, e.data)
}
