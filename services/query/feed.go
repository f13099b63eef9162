package query

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// FeedPage is GET /v1/feed/{kind}: one page of observations, prompts or
// summaries, newest first, and the cursor of the next page ("" at the end).
// The viewer's live feed and its infinite scroll read these
// (docs/ARCHITECTURE.md §16).
type FeedPage struct {
	Kind         string              `json:"kind"`
	Observations []store.Observation `json:"observations,omitempty"`
	Prompts      []store.PromptHit   `json:"prompts,omitempty"`
	Summaries    []store.Summary     `json:"summaries,omitempty"`
	Next         string              `json:"next"`
}

// feed kinds.
const (
	feedObservations = "observations"
	feedPrompts      = "prompts"
	feedSummaries    = "summaries"
)

// encodeCursor writes a position as the next page's cursor: the row's time
// in Unix microseconds and its key ("1733561234567890.42", or for a prompt
// "1733561234567890.7.session-id").
func encodeCursor(kind string, p store.Position) string {
	at := p.At.UTC().UnixMicro()
	if kind == feedPrompts {
		return fmt.Sprintf("%d.%d.%s", at, p.Number, p.SessionID)
	}
	return fmt.Sprintf("%d.%d", at, p.ID)
}

// decodeCursor reads a cursor encodeCursor wrote for kind.
func decodeCursor(kind, raw string) (*store.Position, error) {
	n := 2
	if kind == feedPrompts {
		n = 3
	}
	parts := strings.SplitN(raw, ".", n)
	bad := fmt.Errorf("%q is not a cursor this endpoint gave (a next value)", raw)
	if len(parts) != n {
		return nil, bad
	}
	us, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || us < 0 {
		return nil, bad
	}
	key, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || key < 0 {
		return nil, bad
	}
	p := &store.Position{At: time.UnixMicro(us).UTC()}
	if kind == feedPrompts {
		if parts[2] == "" || len(parts[2]) > store.MaxIDLen {
			return nil, bad
		}
		p.SessionID, p.Number = parts[2], int(key)
	} else {
		p.ID = key
	}
	return p, nil
}

func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	switch kind {
	case feedObservations, feedPrompts, feedSummaries:
	default:
		httpapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%q is not observations, prompts or summaries", kind), "kind")
		return
	}
	p := params{v: r.URL.Query()}
	q := store.SearchQuery{Project: p.project("project", false), OrderBy: store.OrderDateDesc,
		Limit: p.integer("limit", 20, 1, s.cfg.MaxPage)}
	if kind == feedObservations {
		if t := p.str("type", 32); t != "" {
			if err := event.CheckObservationType(t); err != nil {
				p.fail("type", "%s", err)
			}
			q.Types = []string{t}
		}
	}
	if raw := p.str("before", 64+store.MaxIDLen); raw != "" && p.err == nil {
		pos, err := decodeCursor(kind, raw)
		if err != nil {
			p.fail("before", "%s", err.Error())
		}
		q.Before = pos
	}
	if p.err != nil {
		badParam(w, p.err)
		return
	}
	page := FeedPage{Kind: kind}
	var last *store.Position
	var err error
	switch kind {
	case feedObservations:
		var hits []store.SearchHit
		if hits, err = s.d.Store.Search(r.Context(), q); err == nil {
			page.Observations, last = feedItems(hits, q.Limit, func(h store.SearchHit) store.Observation { return h.Observation },
				func(o store.Observation) store.Position { return store.Position{At: o.AcceptedAt, ID: o.ID} })
		}
	case feedPrompts:
		var hits []store.PromptHit
		if hits, err = s.d.Store.SearchPrompts(r.Context(), q); err == nil {
			page.Prompts, last = feedItems(hits, q.Limit, func(h store.PromptHit) store.PromptHit { return h },
				func(h store.PromptHit) store.Position {
					return store.Position{At: h.Prompt.At, SessionID: h.Prompt.SessionID, Number: h.Prompt.Number}
				})
		}
	case feedSummaries:
		var hits []store.SummaryHit
		if hits, err = s.d.Store.SearchSummaries(r.Context(), q); err == nil {
			page.Summaries, last = feedItems(hits, q.Limit, func(h store.SummaryHit) store.Summary { return h.Summary },
				func(m store.Summary) store.Position { return store.Position{At: m.AcceptedAt, ID: m.ID} })
		}
	}
	if err != nil {
		s.answer(w, err)
		return
	}
	if last != nil {
		page.Next = encodeCursor(kind, *last)
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

// feedItems takes a page's items out of its hits and, when the page is
// full (more may follow), the position of its last item, where the next
// page starts.
func feedItems[H, T any](hits []H, limit int, item func(H) T, pos func(T) store.Position) ([]T, *store.Position) {
	items := make([]T, len(hits))
	for i, h := range hits {
		items[i] = item(h)
	}
	if n := len(items); n == limit {
		p := pos(items[n-1])
		return items, &p
	}
	return items, nil
}
