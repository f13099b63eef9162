package claudemem

import (
	"context"
	"fmt"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// BatchRows is how many rows one import transaction writes: large enough
// that a transaction's cost (its commit, its full-text segment, the
// checkpoints its pages bring) is spread, small enough that a killed import
// loses little and the store's writers wait at most about a tenth of a
// second. 2500 cost the store's import path 6% less CPU than 1000 (50k
// observations, six alternating runs: 2.01 s → 1.88 s); 5000 was no better.
const BatchRows = 2500

// Progress is told, after each batch, how many rows were read so far.
type Progress func(done int)

// ImportInto brings project's memory ("" = every project) into st with
// store.Import: sessions keep Claude Code's session id, prompts their
// numbers, observations and summaries their stable keys, so a second run
// writes nothing and a run killed half-way completes on the next.
func (d *DB) ImportInto(ctx context.Context, st store.Store, project string, progress Progress) (store.ImportResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &batcher{st: st, progress: progress, full: make(chan store.ImportBatch, 1), done: make(chan error, 1)}
	// The writer imports batches while the next is read: reading the
	// database and writing the store each take a core. ImportInto owns it
	// and waits for it below.
	go w.write(ctx, cancel)
	err := d.read(ctx, project, w)
	if err == nil {
		err = w.flush(ctx)
	}
	close(w.full)
	if werr := <-w.done; werr != nil {
		err = werr // the writer's error is the cause; the reader's is its cancellation
	}
	return w.res, err
}

// read hands every row of project ("" = every project) to w in the order
// the store needs them: sessions, prompts, observations, summaries.
func (d *DB) read(ctx context.Context, project string, w *batcher) error {
	// A session's prompt count is its highest prompt number, so a resumed
	// Claude Code session numbers its next prompt after the imported ones.
	maxPrompt := map[string]int{}
	var prompts []store.Prompt
	if err := d.Prompts(ctx, project, func(p Prompt) error {
		maxPrompt[p.SessionID] = max(maxPrompt[p.SessionID], p.Number)
		prompts = append(prompts, store.Prompt{SessionID: p.SessionID, Number: p.Number, Text: p.Text, At: p.At})
		return nil
	}); err != nil {
		return err
	}
	if err := d.Sessions(ctx, project, func(s Session) error {
		return w.add(ctx, func(b *store.ImportBatch) { b.Sessions = append(b.Sessions, sessionOf(s, maxPrompt[s.ID])) })
	}); err != nil {
		return err
	}
	for _, p := range prompts {
		if err := w.add(ctx, func(b *store.ImportBatch) { b.Prompts = append(b.Prompts, p) }); err != nil {
			return err
		}
	}
	if err := d.Observations(ctx, project, func(o Observation) error {
		return w.add(ctx, func(b *store.ImportBatch) { b.Observations = append(b.Observations, observationOf(o)) })
	}); err != nil {
		return err
	}
	return d.Summaries(ctx, project, func(m Summary) error {
		return w.add(ctx, func(b *store.ImportBatch) { b.Summaries = append(b.Summaries, summaryOf(m)) })
	})
}

// batcher gathers rows into batches of BatchRows; its writer imports each,
// in order, one at a time.
type batcher struct {
	st       store.Store
	b        store.ImportBatch
	n        int
	full     chan store.ImportBatch // batches for the writer; at most one waits
	done     chan error             // the writer's outcome, once full is closed
	res      store.ImportResult     // the writer's, read after done
	progress Progress
}

func (w *batcher) add(ctx context.Context, put func(*store.ImportBatch)) error {
	put(&w.b)
	w.n++
	if w.n >= BatchRows {
		return w.flush(ctx)
	}
	return nil
}

// flush hands the batch being gathered to the writer.
func (w *batcher) flush(ctx context.Context) error {
	if w.n == 0 {
		return nil
	}
	select {
	case w.full <- w.b:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.b, w.n = store.ImportBatch{}, 0
	return nil
}

// write imports the batches as they come until full is closed; on the
// first error it cancels the reader and drops the rest.
func (w *batcher) write(ctx context.Context, cancel context.CancelFunc) {
	var err error
	done := 0
	for b := range w.full {
		if err != nil {
			continue
		}
		var r store.ImportResult
		if r, err = w.st.Import(ctx, b); err != nil {
			err = fmt.Errorf("import: %w", err)
			cancel()
			continue
		}
		w.res.Add(r)
		done += len(b.Sessions) + len(b.Prompts) + len(b.Observations) + len(b.Summaries)
		if w.progress != nil {
			w.progress(done)
		}
	}
	w.done <- err
}

// sessionID is the Mnemo session a claude-mem row belongs to: its Claude
// Code session, or, where claude-mem lost the session row, a session named
// for claude-mem's own memory session.
func sessionID(content, memory string) string {
	if content != "" {
		return content
	}
	return "claude-mem-" + memory
}

func sessionOf(s Session, prompts int) store.Session {
	agent := s.PlatformSource
	if agent == "claude" {
		agent = "claude-code"
	}
	status := store.StatusCompleted
	switch s.Status {
	case "active":
		status = store.StatusActive
	case "failed":
		status = store.StatusAborted
	}
	last := s.StartedAt
	if s.CompletedAt != nil {
		last = *s.CompletedAt
	}
	return store.Session{ID: s.ID, Project: s.Project, Agent: agent, Status: status, StartedAt: s.StartedAt,
		EndedAt: s.CompletedAt, LastEventAt: last, PromptCount: prompts}
}

func observationOf(o Observation) store.ImportedObservation {
	narrative := o.Narrative
	if narrative == "" {
		narrative = o.Text // claude-mem's oldest observations kept their prose in text
	}
	return store.ImportedObservation{Key: o.Key, Observation: store.Observation{
		SessionID: sessionID(o.SessionID, o.MemorySessionID), Project: o.Project, Type: o.Type, Title: o.Title,
		Subtitle: o.Subtitle, Narrative: narrative, Facts: o.Facts, Concepts: o.Concepts, FilesRead: o.FilesRead,
		FilesModified: o.FilesModified, PromptNumber: o.PromptNumber, AcceptedAt: o.At,
		DiscoveryTokens: max(o.DiscoveryTokens, 0), // claude-mem's work figure, kept for the context's
	}}
}

func summaryOf(m Summary) store.ImportedSummary {
	return store.ImportedSummary{Key: m.Key, Summary: store.Summary{
		SessionID: sessionID(m.SessionID, m.MemorySessionID), Project: m.Project, Request: m.Request,
		Investigated: m.Investigated, Learned: m.Learned, Completed: m.Completed, NextSteps: m.NextSteps,
		Notes: m.Notes, PromptNumber: m.PromptNumber, AcceptedAt: m.At,
	}}
}
