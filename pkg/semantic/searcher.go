package semantic

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Timing of a Searcher's syncing with the store.
const (
	DefaultSync = 2 * time.Second
	// syncOverlap re-reads vectors written this long before the last sync
	// began: a writer's transaction may commit after a later-stamped one,
	// and machines' clocks differ a little.
	syncOverlap = 10 * time.Second
	// keepEvery is how often the indexes drop vectors the store no longer
	// has (deleted, purged, recompressed memories, other models).
	keepEvery = 30 * time.Second
)

// Searcher answers the memories of a kind nearest a text: it embeds the
// text and searches that kind's Index, one per kind (IDs are unique within
// a kind only), which it keeps current from the store.
type Searcher struct {
	st  store.Store
	c   *embed.Client
	ix  map[store.Kind]*Index // one per store.Kinds, made once
	log *slog.Logger

	// KeepEvery is how often Sync drops the vectors the store no longer
	// has (default 30s).
	KeepEvery time.Duration

	mu       sync.Mutex // one Sync at a time
	synced   bool
	since    time.Time
	lastKeep time.Time
	// nudge asks Run for a sync now; keepNow asks that sync to reconcile
	// deletions too (Notice).
	nudge   nudged
	keepNow atomic.Bool
}

// NewSearcher returns a searcher over st's vectors of c's key; it holds
// nothing until Sync.
func NewSearcher(st store.Store, c *embed.Client, log *slog.Logger) *Searcher {
	if log == nil {
		log = slog.Default()
	}
	ix := map[store.Kind]*Index{}
	for _, k := range store.Kinds {
		ix[k] = NewIndex()
	}
	return &Searcher{st: st, c: c, ix: ix, log: log.With("embed", c.Key()), KeepEvery: keepEvery, nudge: newNudged()}
}

// Key is the vector space searched (embed.Config.Key).
func (s *Searcher) Key() string { return s.c.Key() }

// Index is the searcher's index of kind (nil for no kind).
func (s *Searcher) Index(kind store.Kind) *Index { return s.ix[kind] }

// Forget drops memories of kind at once (deleted, by this process or by
// another that said so on the bus).
func (s *Searcher) Forget(kind store.Kind, ids ...int64) {
	if ix := s.ix[kind]; ix != nil {
		for _, id := range ids {
			ix.Remove(id)
		}
	}
}

// Notice asks Run for a sync now, rather than at its next poll: new
// vectors were written, or (reconcile) memories went that nobody
// listed, so the sync also drops what the store no longer has. It never
// blocks.
func (s *Searcher) Notice(reconcile bool) {
	if reconcile {
		s.keepNow.Store(true)
	}
	s.nudge.nudge()
}

// Sync loads the vectors of every kind written since the last sync (all at
// the first) and, now and then, drops those the store no longer has.
func (s *Searcher) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	var since time.Time
	if s.synced {
		since = s.since.Add(-syncOverlap)
	}
	for _, k := range store.Kinds {
		if err := s.load(ctx, k, since); err != nil {
			return err
		}
	}
	if s.synced && (s.keepNow.Swap(false) || time.Since(s.lastKeep) >= s.KeepEvery) {
		for _, k := range store.Kinds {
			ids, err := s.st.VectorIDs(ctx, k, s.c.Key())
			if err != nil {
				return fmt.Errorf("semantic: sync index: %w", err)
			}
			if n := s.ix[k].Keep(ids); n > 0 {
				s.log.Debug("index dropped vectors the store no longer has", "kind", k, "n", n)
			}
		}
		s.lastKeep = time.Now()
	}
	if !s.synced {
		s.lastKeep = start
	}
	s.synced, s.since = true, start
	return nil
}

// load puts the vectors of kind written since a time (zero: all) in its
// index. Since a time, it reads their stamps first and then only the
// vectors the index lacks: each sync reads again what was written in its
// overlap (syncOverlap), which after a bulk write (a reindex, an import's
// catch-up) is many vectors, each a few kilobytes.
func (s *Searcher) load(ctx context.Context, k store.Kind, since time.Time) error {
	const page = 5000
	q := store.VectorQuery{Kind: k, Model: s.c.Key(), Since: since, Limit: page, Stamps: !since.IsZero()}
	for {
		vs, err := s.st.Vectors(ctx, q)
		if err != nil {
			return fmt.Errorf("semantic: sync index: %w", err)
		}
		put := vs
		if q.Stamps {
			var lack []int64
			for _, v := range vs {
				if !s.ix[k].Holds(v.ID, v.At.UnixMicro()) {
					lack = append(lack, v.ID)
				}
			}
			put = nil
			if len(lack) > 0 {
				if put, err = s.st.Vectors(ctx, store.VectorQuery{Kind: k, Model: q.Model, IDs: lack, Limit: page}); err != nil {
					return fmt.Errorf("semantic: sync index: %w", err)
				}
			}
		}
		for _, v := range put {
			f, err := embed.Decode(v.Data)
			if err == nil {
				err = s.ix[k].Put(v.ID, v.Project, v.At.UnixMicro(), f)
			}
			if err != nil {
				s.log.Warn("vector left out of the index", "kind", k, "id", v.ID, "err", err)
			}
		}
		if len(vs) < page {
			return nil
		}
		q.AfterAt, q.AfterID = vs[len(vs)-1].At, vs[len(vs)-1].ID
	}
}

// Run syncs every period, and on each Notice, until ctx ends.
func (s *Searcher) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSync
	}
	s.nudge.every(ctx, every, func() {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("semantic index not synced", "err", err)
		}
	})
}

// Nearest returns the k memories of kind (of project, "" = all) nearest
// text.
func (s *Searcher) Nearest(ctx context.Context, kind store.Kind, text, project string, k int) ([]Hit, error) {
	ix := s.ix[kind]
	if ix == nil {
		return nil, fmt.Errorf("semantic: no index of %q", kind)
	}
	vs, err := s.c.Embed(ctx, []string{text}, embed.Query)
	if err != nil {
		return nil, fmt.Errorf("semantic: embed the query: %w", err)
	}
	return ix.Search(vs[0], project, k), nil
}
