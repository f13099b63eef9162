// Package semantic keeps memories' vectors (observations', summaries' and
// prompts', store.Kinds) current in the store and searches them: the catch-up embedder a worker runs (store first, embed
// later), the reindex, the in-memory index a query process holds, and the
// reciprocal rank fusion of hybrid search (docs/ARCHITECTURE.md §14).
package semantic

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Defaults of the catch-up loop.
const (
	DefaultPoll = 5 * time.Second
	// rescanEvery is how often the loop looks below its watermarks again,
	// for a memory whose lower ID committed after a higher one.
	rescanEvery = time.Minute
)

// Catchup embeds the memories (observations, summaries, prompts) that have
// no vector under the client's key, oldest first, a batch of one kind per
// provider call. It never stands in a memory's way: memories are stored
// without it, and what it could not embed (the provider down) stays
// pending until a later pass.
type Catchup struct {
	st    store.Store
	c     *embed.Client
	log   *slog.Logger
	poll  time.Duration
	nudge nudged
	// low is, per kind, an ID below which every memory was seen embedded.
	low      map[store.Kind]int64
	lastFull time.Time
	// OnEmbedded, when set, is called after a pass that wrote vectors (a
	// worker tells query processes on the bus).
	OnEmbedded func(n int)
}

// NewCatchup returns a loop over st with c; poll ≤ 0 means DefaultPoll.
func NewCatchup(st store.Store, c *embed.Client, log *slog.Logger, poll time.Duration) *Catchup {
	if poll <= 0 {
		poll = DefaultPoll
	}
	if log == nil {
		log = slog.Default()
	}
	return &Catchup{st: st, c: c, log: log.With("embed", c.Key()), poll: poll, nudge: newNudged(),
		low: map[store.Kind]int64{}}
}

// Nudge asks for a pass soon (after an Apply wrote memories); it never
// blocks.
func (c *Catchup) Nudge() { c.nudge.nudge() }

// Run makes passes on every nudge and every poll until ctx ends.
func (c *Catchup) Run(ctx context.Context) {
	failing := false
	c.nudge.every(ctx, c.poll, func() {
		n, err := c.Pass(ctx)
		if n > 0 && c.OnEmbedded != nil {
			c.OnEmbedded(n)
		}
		switch {
		case ctx.Err() != nil: // stopping: nothing to report
		case err != nil && !failing:
			c.log.Warn("embedding paused: memories stay pending until the provider answers", "err", err)
			failing = true
		case err == nil && failing:
			c.log.Info("embedding resumed", "embedded", n)
			failing = false
		case err == nil && n > 0:
			c.log.Debug("embedded memories", "n", n)
		}
	})
}

// Pass embeds pending memories of every kind until none is left or a call
// fails, and returns how many it embedded.
func (c *Catchup) Pass(ctx context.Context) (int, error) {
	full := time.Since(c.lastFull) > rescanEvery
	if full {
		c.lastFull = time.Now()
	}
	done := 0
	for _, k := range store.Kinds {
		after := c.low[k]
		if full {
			after = 0
		}
		last, err := embedPages(ctx, c.st, c.c, store.EmbedQuery{Kind: k, Model: c.c.Key(), AfterID: after, Limit: c.c.Config().Batch},
			func(n int) { done += n })
		if err != nil {
			return done, err
		}
		c.low[k] = max(c.low[k], last) // every memory up to last has a vector
	}
	return done, nil
}

// embedPages embeds the memories q finds, a page (q.Limit) a provider
// call, AfterID advancing, until none is left or a call fails; each is
// told how many every page embedded. It returns the last ID embedded
// (q.AfterID when none).
func embedPages(ctx context.Context, st store.Store, c *embed.Client, q store.EmbedQuery, each func(n int)) (int64, error) {
	for {
		batch, err := st.ToEmbed(ctx, q)
		if err != nil {
			return q.AfterID, fmt.Errorf("semantic: %ss to embed: %w", q.Kind, err)
		}
		if len(batch) == 0 {
			return q.AfterID, nil
		}
		if err := embedBatch(ctx, st, c, q.Kind, batch); err != nil {
			return q.AfterID, err
		}
		each(len(batch))
		q.AfterID = batch[len(batch)-1].ID
	}
}

// embedBatch embeds memories of kind k in one call and writes their
// vectors.
func embedBatch(ctx context.Context, st store.Store, c *embed.Client, k store.Kind, batch []store.Embeddable) error {
	texts := make([]string, len(batch))
	for i, e := range batch {
		texts[i] = e.Text
	}
	vs, err := c.Embed(ctx, texts, embed.Document)
	if err != nil {
		return err
	}
	out := make([]store.Vector, len(batch))
	for i, e := range batch {
		out[i] = store.Vector{Kind: k, ID: e.ID, Model: c.Key(), Data: embed.Encode(vs[i])}
	}
	if err := st.PutVectors(ctx, out); err != nil {
		return fmt.Errorf("semantic: store vectors: %w", err)
	}
	return nil
}

// Reindex (re)embeds every memory of every kind of project ("" = all)
// under c's key, replacing what is there, calling progress after each
// batch with how many are done of total. With no project it then drops
// every other model's vectors: none is left to compare with the new ones.
func Reindex(ctx context.Context, st store.Store, c *embed.Client, project string, progress func(done, total int64)) (int64, error) {
	var total int64
	for _, k := range store.Kinds {
		counts, err := st.CountVectors(ctx, k, c.Key(), project)
		if err != nil {
			return 0, fmt.Errorf("semantic: reindex: %w", err)
		}
		total += counts.Embedded + counts.Pending
	}
	var done int64
	for _, k := range store.Kinds {
		_, err := embedPages(ctx, st, c, store.EmbedQuery{Kind: k, Model: c.Key(), Project: project, All: true, Limit: c.Config().Batch},
			func(n int) {
				done += int64(n)
				if progress != nil {
					progress(done, max(total, done))
				}
			})
		if err != nil {
			return done, fmt.Errorf("semantic: reindex: %w", err)
		}
	}
	if project == "" {
		if _, err := st.DropVectors(ctx, c.Key()); err != nil {
			return done, fmt.Errorf("semantic: reindex: %w", err)
		}
	}
	return done, nil
}
