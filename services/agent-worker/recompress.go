package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

// buildRecompress regenerates a session's memory from its raw events, which
// stay in the stream (30 days): its tool uses go through the compressor again
// in batches, in order, with private turns left out, and its latest stop is
// summarized again. The unit replaces the session's observations and
// summaries atomically, in the session's order like any event, so a
// recompression never duplicates memory and never races the live session.
func (a *actor) buildRecompress(ctx context.Context, u store.Unit, rc streamEvent, commit func(store.ApplyResult)) (store.Unit, func(store.ApplyResult), error) {
	project := a.project(rc)
	var (
		obs     []store.Observation
		batch   []llm.ToolUse
		at      = map[string]streamEvent{}
		state   []byte
		prompt  string
		number  int
		private bool
		lastEnd *streamEvent
		stored  int // events of the session other than recompress requests
		// seen holds the tool uses and prompts met so far: each is
		// remembered once (docs/ARCHITECTURE.md §15).
		seen = map[string]bool{}
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := a.w.d.Compressor.Observe(ctx, llm.ObserveRequest{
			Session: llm.Session{ID: a.sid, Project: project, UserPrompt: prompt, PromptNumber: number}, ToolUses: batch, State: state})
		if err != nil {
			return err
		}
		cost := llm.DiscoveryTokens(batch, res.Observations, res.Usage)
		for i, o := range res.Observations {
			so := store.Observation{SessionID: a.sid, Project: project, Type: o.Type, Title: o.Title, Subtitle: o.Subtitle,
				Narrative: o.Narrative, Facts: o.Facts, Concepts: o.Concepts, FilesRead: o.FilesRead,
				FilesModified: o.FilesModified, PromptNumber: number, SourceEventIDs: o.SourceEventIDs,
				DiscoveryTokens: cost[i]}
			if !store.ValidType(so.Type) {
				so.Type = store.TypeDiscovery
			}
			for _, id := range o.SourceEventIDs {
				if e, ok := at[id]; ok && (so.AcceptedAt.IsZero() || e.at.Before(so.AcceptedAt)) {
					so.AcceptedAt = e.at
				}
			}
			if so.AcceptedAt.IsZero() {
				so.AcceptedAt, so.SourceEventIDs = at[batch[0].EventID].at, []string{batch[0].EventID}
			}
			obs = append(obs, so)
		}
		a.addUsage(&u, project, res.Usage)
		state = res.State
		batch = nil
		return nil
	}
	for seq := uint64(1); seq < rc.seq; {
		raw, err := a.w.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(a.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return store.Unit{}, nil, fmt.Errorf("recompress: read stream at %d: %w", seq, err)
		}
		seq = raw.Sequence + 1
		if raw.Sequence >= rc.seq {
			break
		}
		env, err := bus.DecodeEvent(raw.Data)
		if err != nil || env.SessionID != a.sid {
			continue
		}
		e := streamEvent{seq: raw.Sequence, at: raw.Time.UTC(), id: env.EventID, env: env}
		if env.Kind != event.KindRecompress {
			stored++
		}
		switch env.Kind {
		case event.KindUserPrompt:
			if env.PromptID != "" && seen["prompt:"+env.PromptID] {
				continue
			}
			seen["prompt:"+env.PromptID] = true
			if err := flush(); err != nil {
				return a.recompressFailed(u, rc, err)
			}
			number++
			prompt, private = env.Prompt, env.Private
		case event.KindToolUse:
			if private || env.Private || env.Tool == nil || a.w.cfg.skipTool(env.Tool.Name) {
				continue
			}
			if id := env.Tool.UseID; id != "" {
				if seen["tool:"+id] {
					continue
				}
				seen["tool:"+id] = true
			}
			at[e.id] = e
			batch = append(batch, llm.ToolUse{EventID: e.id, AcceptedAt: e.at, Tool: env.Tool.Name,
				Input: env.Tool.Input, Response: env.Tool.Response, Error: env.Tool.Error, Cwd: env.Cwd})
			if len(batch) >= a.w.cfg.MaxBatch {
				if err := flush(); err != nil {
					return a.recompressFailed(u, rc, err)
				}
			}
		case event.KindStop:
			if err := flush(); err != nil {
				return a.recompressFailed(u, rc, err)
			}
			if !private {
				lastEnd = &e
			}
		}
	}
	if stored == 0 {
		// Nothing of the session is in the stream (imported memory, or events
		// older than the stream keeps): keep its memory rather than erase it.
		a.log.Info("recompress skipped: no stored events", "compressor", a.w.d.Compressor.Name())
		u.Session = nil
		return u, func(store.ApplyResult) {}, nil
	}
	if err := flush(); err != nil {
		return a.recompressFailed(u, rc, err)
	}
	if lastEnd != nil {
		req := llm.SummarizeRequest{Session: llm.Session{ID: a.sid, Project: project, UserPrompt: prompt, PromptNumber: number},
			EventID: lastEnd.id, LastAssistantMessage: lastEnd.env.LastAssistantMessage, State: state}
		for _, o := range obs {
			req.Observations = append(req.Observations, llm.Observation{Type: o.Type, Title: o.Title, Subtitle: o.Subtitle,
				Narrative: o.Narrative, Facts: o.Facts, Concepts: o.Concepts, FilesRead: o.FilesRead,
				FilesModified: o.FilesModified, SourceEventIDs: o.SourceEventIDs})
		}
		res, err := a.w.d.Compressor.Summarize(ctx, req)
		if err != nil {
			return a.recompressFailed(u, rc, err)
		}
		if s := res.Summary; !s.Empty() {
			u.Summary = &store.Summary{SessionID: a.sid, Project: project, Request: s.Request, Investigated: s.Investigated,
				Learned: s.Learned, Completed: s.Completed, NextSteps: s.NextSteps, Notes: s.Notes,
				PromptNumber: number, AcceptedAt: lastEnd.at, SourceEventIDs: []string{lastEnd.id},
				LastAssistantMessage: lastEnd.env.LastAssistantMessage}
		}
		a.addUsage(&u, project, res.Usage)
		state = res.State
	}
	u.Session = nil // a recompression changes memory, not the session's status
	u.ReplaceObservations = true
	u.Observations = obs
	a.setConversation(&u, state)
	a.log.Info("session recompressed", "observations", len(obs), "summary", u.Summary != nil, "compressor", a.w.d.Compressor.Name())
	return u, func(r store.ApplyResult) {
		if state != nil {
			a.conv = state
		}
		a.publish("recompressed", map[string]any{"observations": len(obs), "project": project})
	}, nil
}

// recompressFailed keeps the old memory: a transient failure is retried in
// place, a permanent one dead-letters the control event only.
func (a *actor) recompressFailed(u store.Unit, rc streamEvent, err error) (store.Unit, func(store.ApplyResult), error) {
	if errors.Is(err, llm.ErrPermanent) {
		return a.deadUnit([]streamEvent{rc}, "recompress: "+err.Error()), nil, nil
	}
	return store.Unit{}, nil, fmt.Errorf("recompress: %w", err)
}
