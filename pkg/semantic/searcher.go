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
	// keepEvery is how often the index drops vectors the store no longer
	// has (deleted, purged, recompressed observations, other models).
	keepEvery = 30 * time.Second
)

// Searcher answers the observations nearest a text: it embeds the text and
// searches an Index it keeps current from the store.
type Searcher struct {
	st  store.Store
	c   *embed.Client
	ix  *Index
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
	nudge   chan struct{}
	keepNow atomic.Bool
}

// NewSearcher returns a searcher over st's vectors of c's key; it holds
// nothing until Sync.
func NewSearcher(st store.Store, c *embed.Client, log *slog.Logger) *Searcher {
	if log == nil {
		log = slog.Default()
	}
	return &Searcher{st: st, c: c, ix: NewIndex(), log: log.With("embed", c.Key()), KeepEvery: keepEvery, nudge: make(chan struct{}, 1)}
}

// Key is the vector space searched (embed.Config.Key).
func (s *Searcher) Key() string { return s.c.Key() }

// Index is the searcher's index.
func (s *Searcher) Index() *Index { return s.ix }

// Forget drops observations at once (deleted, by this process or by
// another that said so on the bus).
func (s *Searcher) Forget(ids ...int64) {
	for _, id := range ids {
		s.ix.Remove(id)
	}
}

// Notice asks Run for a sync now, rather than at its next poll: new
// vectors were written, or (reconcile) observations went that nobody
// listed, so the sync also drops what the store no longer has. It never
// blocks.
func (s *Searcher) Notice(reconcile bool) {
	if reconcile {
		s.keepNow.Store(true)
	}
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Sync loads the vectors written since the last sync (all at the first)
// and, now and then, drops those the store no longer has.
func (s *Searcher) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	var since time.Time
	if s.synced {
		since = s.since.Add(-syncOverlap)
	}
	var after int64
	for {
		vs, err := s.st.Vectors(ctx, store.VectorQuery{Model: s.c.Key(), Since: since, AfterID: after, Limit: 5000})
		if err != nil {
			return fmt.Errorf("semantic: sync index: %w", err)
		}
		for _, v := range vs {
			f, err := embed.Decode(v.Data)
			if err == nil {
				err = s.ix.Put(v.ObservationID, v.Project, f)
			}
			if err != nil {
				s.log.Warn("vector left out of the index", "observation", v.ObservationID, "err", err)
			}
		}
		if len(vs) < 5000 {
			break
		}
		after = vs[len(vs)-1].ObservationID
	}
	if s.synced && (s.keepNow.Swap(false) || time.Since(s.lastKeep) >= s.KeepEvery) {
		ids, err := s.st.VectorIDs(ctx, s.c.Key())
		if err != nil {
			return fmt.Errorf("semantic: sync index: %w", err)
		}
		if n := s.ix.Keep(ids); n > 0 {
			s.log.Debug("index dropped vectors the store no longer has", "n", n)
		}
		s.lastKeep = time.Now()
	}
	if !s.synced {
		s.lastKeep = start
	}
	s.synced, s.since = true, start
	return nil
}

// Run syncs every period, and on each Notice, until ctx ends.
func (s *Searcher) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSync
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("semantic index not synced", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.nudge:
		}
	}
}

// Nearest returns the k observations (of project, "" = all) nearest text.
func (s *Searcher) Nearest(ctx context.Context, text, project string, k int) ([]Hit, error) {
	vs, err := s.c.Embed(ctx, []string{text}, embed.Query)
	if err != nil {
		return nil, fmt.Errorf("semantic: embed the query: %w", err)
	}
	return s.ix.Search(vs[0], project, k), nil
}
