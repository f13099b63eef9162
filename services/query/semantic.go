package query

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go"
)

// Search modes of /v1/search (docs/ARCHITECTURE.md §14).
const (
	ModeText     = "text"
	ModeSemantic = "semantic"
	ModeHybrid   = "hybrid"
)

// SemanticOffReason is why semantic search is unavailable without a
// provider: the 400 of mode=semantic and what stats say.
const SemanticOffReason = "semantic search is off: no embedding provider is configured (set MNEMO_EMBED_PROVIDER to openai or gemini)"

// Bounds of a semantic search.
const (
	// semanticDepth is how many neighbours are read per result wanted,
	// so that filters the index cannot apply (types, file, dates,
	// platform) still leave a page.
	semanticDepth = 4
	maxSemanticK  = 2000
)

// semanticIndex is the query process's vector index and the goroutine
// keeping it current from the store; nil when embeddings are off.
type semanticIndex struct {
	s      *semantic.Searcher
	sub    *nats.Subscription // memory changes; nil without a connection
	cancel context.CancelFunc
	done   chan struct{}
}

// startSemantic starts keeping an index of emb's vectors until ctx ends or
// close, polling the store and following the memory changes announced on nc
// (nil: polling alone); nil emb gives nil.
func startSemantic(ctx context.Context, st store.Store, emb *embed.Client, nc *nats.Conn, s *Server) (*semanticIndex, error) {
	if emb == nil {
		return nil, nil
	}
	x := &semanticIndex{s: semantic.NewSearcher(st, emb, s.log), done: make(chan struct{})}
	if nc != nil {
		sub, err := nc.Subscribe(bus.MemoryChangedSubject, func(m *nats.Msg) {
			c, err := bus.DecodeMemoryChange(m.Data)
			if err != nil {
				s.log.Warn("memory change notice ignored", "err", err)
				return
			}
			x.s.Forget(store.KindObservation, c.Deleted...)
			if c.Vectors || c.Reconcile {
				x.s.Notice(c.Reconcile)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("query: subscribe to memory changes: %w", err)
		}
		x.sub = sub
	}
	ctx, cancel := context.WithCancel(ctx)
	x.cancel = cancel
	go func() { defer close(x.done); x.s.Run(ctx, semantic.DefaultSync) }()
	return x, nil
}

func (x *semanticIndex) close() {
	if x != nil {
		if x.sub != nil {
			_ = x.sub.Unsubscribe()
		}
		x.cancel()
		<-x.done
	}
}

// announce tells every query process's index that memory changed; a
// notice lost is caught up by their polling, so a failure is only logged.
func (s *Server) announce(c bus.MemoryChange) {
	if s.d.NC == nil {
		return
	}
	if err := bus.PublishMemoryChange(s.d.NC, c); err != nil {
		s.log.Warn("memory change not announced; other replicas catch up by polling", "err", err)
	}
}

// SyncSemantic brings the semantic index up to date with the store now
// (tests, and a caller that just wrote vectors); a no-op when off.
func (s *Server) SyncSemantic(ctx context.Context) error {
	if s.sem == nil {
		return nil
	}
	return s.sem.s.Sync(ctx)
}

// SemanticStats say whether semantic search is on and how far it is: the
// figures of observations, and by_kind those of each kind embedded.
type SemanticStats struct {
	On       bool   `json:"on"`
	Reason   string `json:"reason,omitempty"` // why it is off
	Model    string `json:"model,omitempty"`  // the vector space (provider:model[:dims])
	Indexed  int    `json:"indexed"`          // observation vectors this process's index holds
	IndexMB  int64  `json:"index_mb"`         // its indexes of every kind
	Embedded int64  `json:"embedded"`         // observations with a vector of Model
	Pending  int64  `json:"pending"`          // observations waiting for one
	// ByKind has the figures of observations, summaries and prompts.
	ByKind map[store.Kind]KindStats `json:"by_kind,omitempty"`
}

// KindStats are one kind's semantic figures.
type KindStats struct {
	Indexed  int   `json:"indexed"`
	Embedded int64 `json:"embedded"`
	Pending  int64 `json:"pending"`
}

func (s *Server) semanticStats(ctx context.Context) (SemanticStats, error) {
	if s.sem == nil {
		return SemanticStats{Reason: SemanticOffReason}, nil
	}
	out := SemanticStats{On: true, Model: s.sem.s.Key(), ByKind: map[store.Kind]KindStats{}}
	for _, k := range store.Kinds {
		ix := s.sem.s.Index(k)
		out.IndexMB += ix.Bytes()
		c, err := s.d.Store.CountVectors(ctx, k, s.sem.s.Key(), "")
		if err != nil {
			return out, err
		}
		out.ByKind[k] = KindStats{Indexed: ix.Len(), Embedded: c.Embedded, Pending: c.Pending}
	}
	out.IndexMB >>= 20
	o := out.ByKind[store.KindObservation]
	out.Indexed, out.Embedded, out.Pending = o.Indexed, o.Embedded, o.Pending
	return out, nil
}

// searchMode reads mode= for a search of what: hybrid by default when
// embeddings are on and there is text to rank, text otherwise.
func (s *Server) searchMode(p *params, what string, q store.SearchQuery) string {
	mode := p.str("mode", 16)
	switch mode {
	case "":
		if s.sem != nil && strings.TrimSpace(q.Text) != "" &&
			(q.OrderBy == "" || q.OrderBy == store.OrderRelevance) {
			return ModeHybrid
		}
		return ModeText
	case ModeText:
		return mode
	case ModeSemantic, ModeHybrid:
	default:
		p.fail("mode", "%q is not one of hybrid, text, semantic", mode)
		return ModeText
	}
	switch {
	case s.sem == nil:
		p.fail("mode", "%s", SemanticOffReason)
	case strings.TrimSpace(q.Text) == "":
		p.fail("query", "mode=%s needs a query to rank by meaning", mode)
	case q.OrderBy != "" && q.OrderBy != store.OrderRelevance:
		p.fail("orderBy", "mode=%s ranks by relevance; use mode=text for orderBy=%s", mode, q.OrderBy)
	}
	return mode
}

// semanticSearch ranks observations by meaning (semantic) or by the
// reciprocal rank fusion of meaning and full text (hybrid), over the same
// filters as the text search; every hit is read from the store, so nothing
// deleted is answered.
func (s *Server) semanticSearch(ctx context.Context, q store.SearchQuery, hybrid bool) ([]IndexEntry, error) {
	need := q.Offset + q.Limit
	k := need
	if len(q.Types) > 0 || q.File != "" || !q.Since.IsZero() || !q.Until.IsZero() || q.Platform != "" {
		k = need*semanticDepth + 50
	}
	ranked, byID, err := rankByMeaning(ctx, s, store.KindObservation, q, k, hybrid,
		func(tq store.SearchQuery) ([]store.Observation, error) {
			th, err := s.d.Store.Search(ctx, tq)
			obs := make([]store.Observation, len(th))
			for i, h := range th {
				obs[i] = h.Observation
			}
			return obs, err
		}, func(o store.Observation) int64 { return o.ID })
	if err != nil {
		return nil, err
	}
	agents := map[string]string{}
	return pageFused(ranked, byID, func(ids []int64) ([]store.Observation, error) { return s.d.Store.Observations(ctx, ids) },
		func(o store.Observation) int64 { return o.ID }, func(o store.Observation) bool { return s.semanticFilter(ctx, q, o, agents) },
		index, q.Offset, q.Limit)
}

// rankByMeaning ranks kind's memories for q: its index searched k deep
// for q.Text and, for a hybrid, text (the full-text search, as deep: fusion
// ranks the two lists' heads, and every row read costs) run at the same
// time in a goroutine this call waits for, the two fused by reciprocal
// rank. It returns the ranking and the full-text hits by ID.
func rankByMeaning[T any](ctx context.Context, s *Server, kind store.Kind, q store.SearchQuery, k int, hybrid bool,
	text func(store.SearchQuery) ([]T, error), id func(T) int64) ([]semantic.Fused, map[int64]T, error) {
	var th []T
	var terr error
	textDone := make(chan struct{})
	if hybrid {
		tq := q
		tq.Offset, tq.Limit = 0, min(max(k, 20), 100) // 100: the store's largest page
		go func() {
			defer close(textDone)
			th, terr = text(tq)
		}()
	} else {
		close(textDone)
	}
	hits, err := s.sem.s.Nearest(ctx, kind, q.Text, q.Project, min(k, maxSemanticK))
	<-textDone
	if err != nil {
		return nil, nil, &embedFailure{err}
	}
	if terr != nil {
		return nil, nil, terr
	}
	var ranked []semantic.Fused
	var sem []int64
	for _, h := range hits {
		if h.Score > 0 { // nothing in common: not a match
			sem = append(sem, h.ID)
			ranked = append(ranked, semantic.Fused{ID: h.ID, Score: float64(h.Score)})
		}
	}
	byID := map[int64]T{}
	if !hybrid {
		return ranked, byID, nil
	}
	ids := make([]int64, len(th))
	for i, h := range th {
		ids[i] = id(h)
		byID[ids[i]] = h
	}
	return semantic.Fuse(ids, sem), byID, nil
}

// pageFused reads the rows of the ranked hits byID lacks (read: the
// semantic hits the text search did not return), keeps those keep passes
// and pages them, in ranked order, as entries with their fused score.
func pageFused[T any](ranked []semantic.Fused, byID map[int64]T, read func([]int64) ([]T, error), id func(T) int64,
	keep func(T) bool, entry func(T, float64) IndexEntry, offset, limit int) ([]IndexEntry, error) {
	var ids []int64
	for _, f := range ranked {
		if _, ok := byID[f.ID]; !ok {
			ids = append(ids, f.ID)
		}
	}
	if len(ids) > 0 {
		got, err := read(ids)
		if err != nil {
			return nil, err
		}
		for _, r := range got {
			byID[id(r)] = r
		}
	}
	out := []IndexEntry{}
	skipped := 0
	for _, f := range ranked {
		r, ok := byID[f.ID]
		if !ok || !keep(r) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		out = append(out, entry(r, f.Score))
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// semanticFilter applies the filters the index does not: project (again,
// for a hybrid's text hits it already met), types, file, dates, platform.
func (s *Server) semanticFilter(ctx context.Context, q store.SearchQuery, o store.Observation, agents map[string]string) bool {
	switch {
	case q.Project != "" && o.Project != q.Project:
		return false
	case len(q.Types) > 0 && !slices.Contains(q.Types, o.Type):
		return false
	case q.File != "" && !slices.Contains(o.FilesRead, q.File) && !slices.Contains(o.FilesModified, q.File):
		return false
	case !q.Since.IsZero() && o.AcceptedAt.Before(q.Since):
		return false
	case !q.Until.IsZero() && !o.AcceptedAt.Before(q.Until):
		return false
	}
	return q.Platform == "" || s.sessionAgent(ctx, o.SessionID, agents) == q.Platform
}

// sessionAgent is the agent of session sid ("" when unknown), looked up
// once per search in agents.
func (s *Server) sessionAgent(ctx context.Context, sid string, agents map[string]string) string {
	agent, ok := agents[sid]
	if !ok {
		if sess, err := s.d.Store.Session(ctx, sid); err == nil {
			agent = sess.Agent
		}
		agents[sid] = agent
	}
	return agent
}

// semanticDeadline bounds the provider call of one search, so a stalled
// provider fails the search with a reason rather than holding it.
const semanticDeadline = 5 * time.Second

// embedFailure is a failed embedding of the query: the provider's fault,
// not the store's.
type embedFailure struct{ err error }

func (e *embedFailure) Error() string { return e.err.Error() }
func (e *embedFailure) Unwrap() error { return e.err }

// searchByMeaning answers a semantic or hybrid search; ok false when it
// wrote an error. A hybrid search whose query cannot be embedded (the
// provider down) is answered by full text alone, with a warning logged; a
// semantic one answers 503 with the reason.
func (s *Server) searchByMeaning(w http.ResponseWriter, r *http.Request, what string, q store.SearchQuery, mode string) ([]IndexEntry, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), semanticDeadline)
	defer cancel()
	var out []IndexEntry
	var err error
	if what == SearchObservations {
		out, err = s.semanticSearch(ctx, q, mode == ModeHybrid)
	} else {
		out, err = s.semanticSearchOf(ctx, what, q, mode == ModeHybrid)
	}
	var ef *embedFailure
	switch {
	case err == nil:
		return out, true
	case errors.As(err, &ef) && mode == ModeHybrid:
		s.log.Warn("hybrid search fell back to full text", "type", what, "err", err)
		if out, err = s.textSearch(r.Context(), what, q); err != nil {
			s.answer(w, err)
			return nil, false
		}
		return out, true
	case errors.As(err, &ef):
		httpapi.WriteError(w, http.StatusServiceUnavailable, "semantic search failed: "+err.Error(), "mode")
		return nil, false
	default:
		s.answer(w, err)
		return nil, false
	}
}
