// Package semantic keeps observations' vectors current in the store and
// searches them: the catch-up embedder a worker runs (store first, embed
// later), the reindex, the in-memory index a query process holds, and the
// reciprocal rank fusion of hybrid search (docs/ARCHITECTURE.md §14).
package semantic

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Text is what is embedded of an observation: its title, subtitle,
// narrative and facts.
func Text(o store.Observation) string {
	var b strings.Builder
	for _, s := range append([]string{o.Title, o.Subtitle, o.Narrative}, o.Facts...) {
		if s = strings.TrimSpace(s); s != "" {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// Defaults of the catch-up loop.
const (
	DefaultPoll = 5 * time.Second
	// rescanEvery is how often the loop looks below its watermark again,
	// for an observation whose lower ID committed after a higher one.
	rescanEvery = time.Minute
)

// Catchup embeds the observations that have no vector under the client's
// key, oldest first, a batch per provider call. It never stands in an
// observation's way: observations are stored without it, and what it could
// not embed (the provider down) stays pending until a later pass.
type Catchup struct {
	st    store.Store
	c     *embed.Client
	log   *slog.Logger
	poll  time.Duration
	nudge chan struct{}
	// low is an ID below which every observation was seen embedded.
	low      int64
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
	return &Catchup{st: st, c: c, log: log.With("embed", c.Key()), poll: poll, nudge: make(chan struct{}, 1)}
}

// Nudge asks for a pass soon (after an Apply wrote observations); it never
// blocks.
func (c *Catchup) Nudge() {
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

// Run makes passes on every nudge and every poll until ctx ends.
func (c *Catchup) Run(ctx context.Context) {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	failing := false
	for {
		n, err := c.Pass(ctx)
		if n > 0 && c.OnEmbedded != nil {
			c.OnEmbedded(n)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			c.log.Warn("embedding paused: observations stay pending until the provider answers", "err", err)
			failing = true
		case err == nil && failing:
			c.log.Info("embedding resumed", "embedded", n)
			failing = false
		case err == nil && n > 0:
			c.log.Debug("embedded observations", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.nudge:
		}
	}
}

// Pass embeds pending observations until none is left or a call fails, and
// returns how many it embedded.
func (c *Catchup) Pass(ctx context.Context) (int, error) {
	after := c.low
	if time.Since(c.lastFull) > rescanEvery {
		after, c.lastFull = 0, time.Now()
	}
	done := 0
	clean := true // every observation up to after has a vector
	for {
		obs, err := c.st.ToEmbed(ctx, store.EmbedQuery{Model: c.c.Key(), AfterID: after, Limit: c.c.Config().Batch})
		if err != nil {
			return done, fmt.Errorf("semantic: observations to embed: %w", err)
		}
		if len(obs) == 0 {
			if clean {
				c.low = max(c.low, after)
			}
			return done, nil
		}
		if err := embedObservations(ctx, c.st, c.c, obs); err != nil {
			return done, err
		}
		done += len(obs)
		after = obs[len(obs)-1].ID
	}
}

// embedObservations embeds obs in one call and writes their vectors.
func embedObservations(ctx context.Context, st store.Store, c *embed.Client, obs []store.Observation) error {
	texts := make([]string, len(obs))
	for i, o := range obs {
		texts[i] = Text(o)
	}
	vs, err := c.Embed(ctx, texts, embed.Document)
	if err != nil {
		return err
	}
	out := make([]store.Vector, len(obs))
	for i, o := range obs {
		out[i] = store.Vector{ObservationID: o.ID, Model: c.Key(), Data: embed.Encode(vs[i])}
	}
	if err := st.PutVectors(ctx, out); err != nil {
		return fmt.Errorf("semantic: store vectors: %w", err)
	}
	return nil
}

// Reindex (re)embeds every observation of project ("" = all) under c's key,
// replacing what is there, calling progress after each batch with how many
// are done of total. With no project it then drops every other model's
// vectors: none is left to compare with the new ones.
func Reindex(ctx context.Context, st store.Store, c *embed.Client, project string, progress func(done, total int64)) (int64, error) {
	counts, err := st.CountVectors(ctx, c.Key(), project)
	if err != nil {
		return 0, fmt.Errorf("semantic: reindex: %w", err)
	}
	total := counts.Embedded + counts.Pending
	var done, after int64
	for {
		obs, err := st.ToEmbed(ctx, store.EmbedQuery{Model: c.Key(), Project: project, All: true, AfterID: after, Limit: c.Config().Batch})
		if err != nil {
			return done, fmt.Errorf("semantic: reindex: %w", err)
		}
		if len(obs) == 0 {
			break
		}
		if err := embedObservations(ctx, st, c, obs); err != nil {
			return done, fmt.Errorf("semantic: reindex: %w", err)
		}
		done += int64(len(obs))
		after = obs[len(obs)-1].ID
		if progress != nil {
			progress(done, max(total, done))
		}
	}
	if project == "" {
		if _, err := st.DropVectors(ctx, c.Key()); err != nil {
			return done, fmt.Errorf("semantic: reindex: %w", err)
		}
	}
	return done, nil
}
