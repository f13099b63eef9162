package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// vocabulary is 4000 synthetic words; a Corpus draws them Zipf-distributed
// as natural text does, so common words match many rows and rare ones few.
var vocabulary = func() []string {
	syl := []string{"ka", "to", "ren", "mi", "sol", "ba", "qui", "der", "lo", "fen", "ar", "tu", "vex", "no", "pel", "si"}
	out := make([]string, 0, 4000)
	for i := 0; len(out) < 4000; i++ {
		out = append(out, syl[i%16]+syl[(i/16)%16]+syl[(i/256)%16])
	}
	return out
}()

// Corpus generates a realistic memory store for benchmarks: sessions spread
// over projects, observations with Zipf-distributed words, accepted over the
// last 30 days. It is deterministic for a seed.
type Corpus struct {
	Projects, Sessions, PerSession int
	r                              *rand.Rand
	z                              *rand.Zipf
	seq                            uint64
	start                          time.Time
}

// NewCorpus returns a corpus of sessions × perSession observations.
func NewCorpus(seed uint64, projects, sessions, perSession int) *Corpus {
	r := rand.New(rand.NewPCG(seed, seed+1))
	return &Corpus{Projects: projects, Sessions: sessions, PerSession: perSession, r: r,
		z: rand.NewZipf(r, 1.1, 2, uint64(len(vocabulary)-1)), start: time.Now().Add(-30 * 24 * time.Hour)}
}

// Word draws one word as the corpus text does (for search queries).
func (c *Corpus) Word() string { return vocabulary[c.z.Uint64()] }

// Project names project i.
func (c *Corpus) Project(i int) string { return fmt.Sprintf("project-%02d", i%c.Projects) }

// Units returns session s's units, unitSize observations (one event each)
// per unit, with sequences continuing across calls.
func (c *Corpus) Units(s, unitSize int) []store.Unit {
	sid := fmt.Sprintf("bench-%04d", s)
	project := c.Project(s)
	var units []store.Unit
	for done := 0; done < c.PerSession; done += unitSize {
		u := store.Unit{SessionID: sid, Fence: 1, Session: &store.SessionUpdate{Project: project, Agent: "claude-code"}}
		for i := done; i < min(done+unitSize, c.PerSession); i++ {
			c.seq++
			at := c.start.Add(time.Duration(c.seq) * 20 * time.Millisecond)
			id := fmt.Sprintf("%s-%d", sid, c.seq)
			u.Events = append(u.Events, store.AppliedEvent{EventID: id, Seq: c.seq, Kind: "tool_use", AcceptedAt: at})
			w := c.Word
			u.Observations = append(u.Observations, store.Observation{
				SessionID: sid, Project: project, Type: store.ObservationTypes[c.r.IntN(len(store.ObservationTypes))],
				Title:         fmt.Sprintf("%s %s in %s", w(), w(), w()),
				Subtitle:      fmt.Sprintf("%s and %s", w(), w()),
				Narrative:     fmt.Sprintf("The %s %s was %s because the %s %s; now the %s %s.", w(), w(), w(), w(), w(), w(), w()),
				Facts:         []string{fmt.Sprintf("%s uses %s", w(), w()), fmt.Sprintf("%s needs %s", w(), w())},
				Concepts:      []string{"how-it-works"},
				FilesRead:     []string{fmt.Sprintf("/src/%s/%s/%s.go", project, w(), w())},
				FilesModified: []string{fmt.Sprintf("/src/%s/%s.go", project, w())},
				PromptNumber:  1 + i/10, AcceptedAt: at, SourceEventIDs: []string{id},
			})
		}
		units = append(units, u)
	}
	return units
}

// Seed applies every session of the corpus to st in units of 25, then
// optimizes st as a store that has lived with this memory would be.
func (c *Corpus) Seed(ctx context.Context, st store.Store) error {
	for s := 0; s < c.Sessions; s++ {
		for _, u := range c.Units(s, 25) {
			if _, err := st.Apply(ctx, u); err != nil {
				return fmt.Errorf("seed session %d: %w", s, err)
			}
		}
	}
	if err := st.Optimize(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}
