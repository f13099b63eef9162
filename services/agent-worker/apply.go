package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// applyGroup turns consecutive events (one, or several tool uses) into one
// store unit and applies it.
func (a *actor) applyGroup(ctx context.Context, evs []streamEvent) error {
	a.applying = evs[0].seq
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.id
	}
	known, err := a.w.d.Store.AppliedSeqs(ctx, ids)
	if err != nil {
		return fmt.Errorf("check applied events: %w", err)
	}
	dead, err := a.deadLettered(ctx, ids)
	if err != nil {
		return err
	}
	if (len(known) > 0 || len(dead) > 0) && len(evs) > 1 {
		// A re-published or dead-lettered event in the group: apply one by
		// one so it alone is skipped.
		for _, e := range evs {
			if err := a.applyGroup(ctx, []streamEvent{e}); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		u     store.Unit
		after func(store.ApplyResult)
	)
	if _, dup := known[evs[0].id]; dup {
		// Already applied under another sequence: move the cursor past it,
		// write nothing else.
		u = a.baseUnit(evs)
	} else if dl, ok := dead[evs[0].id]; ok {
		// JetStream gave up on it and the reaper dead-lettered it: it is
		// done, so a crash-looping event cannot block the session. The dead
		// letter row exists already; `mnemo dlq replay` re-runs it.
		u = a.baseUnit(evs)
		u.Events[0].Dead = true
		a.dead[evs[0].seq] = fmt.Sprintf("dead-lettered by the reaper (dead letter %d)", dl)
		a.log.Warn("skipping an event the reaper dead-lettered", "seq", evs[0].seq, "event", evs[0].id, "dead_letter", dl)
	} else {
		u, after, err = a.build(ctx, evs)
		if err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := a.w.d.Store.Apply(ctx, u)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	a.w.observeApply(start, evs, res)
	if a.w.catchup != nil && wroteMemory(u, res) {
		a.w.catchup.Nudge()
	}
	if u.ReplaceObservations {
		// A recompression deleted the session's former observations.
		a.w.announce(bus.MemoryChange{Reconcile: true})
	}
	a.committed(evs)
	if after != nil {
		after(res)
	}
	// Like SessionManager's iterator, an actor ends after a summary.
	if e := evs[len(evs)-1].env; e != nil {
		a.summarized = e.Kind == event.KindStop
	}
	return nil
}

// recordedToolUses returns the events whose tool use the session recorded
// before, or an earlier event of evs reports: one observation per tool use
// (docs/ARCHITECTURE.md §15). The store enforces it again in Apply; reading
// it here spares the compressor call.
func (a *actor) recordedToolUses(ctx context.Context, evs []streamEvent) (map[string]bool, error) {
	var ids []string
	for _, e := range evs {
		if e.env != nil && e.env.Tool != nil && e.env.Tool.UseID != "" {
			ids = append(ids, e.env.Tool.UseID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	claimed, err := a.w.d.Store.ClaimedToolUses(ctx, a.sid, ids)
	if err != nil {
		return nil, fmt.Errorf("check recorded tool uses: %w", err)
	}
	out := map[string]bool{}
	for _, e := range evs {
		if e.env == nil || e.env.Tool == nil || e.env.Tool.UseID == "" {
			continue
		}
		if by, ok := claimed[e.env.Tool.UseID]; ok && by != e.id {
			out[e.id] = true
			a.log.Info("tool use recorded before: skipped", "event", e.id, "tool_use_id", e.env.Tool.UseID, "recorded_by", by)
			continue
		}
		claimed[e.env.Tool.UseID] = e.id
	}
	return out, nil
}

// deadLettered returns the dead letter IDs of those events that have one.
func (a *actor) deadLettered(ctx context.Context, ids []string) (map[string]int64, error) {
	dead, err := a.w.d.Store.DeadLettered(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("check dead letters: %w", err)
	}
	return dead, nil
}

// committed moves the actor's cursor past applied events.
func (a *actor) committed(evs []streamEvent) {
	a.cursor.LastSeq = max(a.cursor.LastSeq, evs[len(evs)-1].seq)
	a.cursor.Fence = a.fence
	a.applying = 0
	for _, e := range evs {
		delete(a.failures, e.seq)
		delete(a.giveUp, e.seq)
	}
}

// applyDead dead-letters one event the actor gave up on.
func (a *actor) applyDead(ctx context.Context, e streamEvent, reason string) error {
	a.applying = e.seq
	if _, err := a.w.d.Store.Apply(ctx, a.deadUnit([]streamEvent{e}, reason)); err != nil {
		return fmt.Errorf("apply dead letter: %w", err)
	}
	a.committed([]streamEvent{e})
	a.w.countDead(1)
	return nil
}

// baseUnit is a unit that records the events and touches the session.
func (a *actor) baseUnit(evs []streamEvent) store.Unit {
	u := store.Unit{SessionID: a.sid, Fence: a.fence}
	for _, e := range evs {
		ae := store.AppliedEvent{EventID: e.id, Seq: e.seq, AcceptedAt: e.at}
		if e.env != nil {
			ae.Kind = string(e.env.Kind)
			if e.env.Kind == event.KindToolUse && e.env.Tool != nil {
				ae.ToolUseID = e.env.Tool.UseID // the store claims it (docs/ARCHITECTURE.md §15)
			}
		}
		u.Events = append(u.Events, ae)
	}
	return u
}

// build computes the unit for the events, and what to change in the actor's
// state once it is committed (never before: a failed apply is retried).
func (a *actor) build(ctx context.Context, evs []streamEvent) (store.Unit, func(store.ApplyResult), error) {
	u := a.baseUnit(evs)
	first, last := evs[0], evs[len(evs)-1]
	if first.decodeErr != nil {
		return a.deadUnit(evs, "undecodable event: "+first.decodeErr.Error()), nil, nil
	}
	env := first.env
	upd := &store.SessionUpdate{
		Agent: env.Agent, Cwd: env.Cwd,
		StartedAt: first.at, LastEventAt: last.at,
	}
	if a.sess.Project == "" {
		// A session's project is fixed by its first event: a later one from a
		// subdirectory, or named by another path, never moves it.
		upd.Project = env.Project
	}
	if last.env != nil && last.env.Cwd != "" {
		upd.Cwd = last.env.Cwd
	}
	u.Session = upd
	if a.sessExists && a.sess.Status == store.StatusAborted {
		// An aborted session's events are recorded, not remembered.
		u.Session = nil
		return u, nil, nil
	}
	// The store merges the session's fields; the actor keeps its result.
	commitSession := func(res store.ApplyResult) {
		if res.Session != nil {
			a.sess, a.sessExists = *res.Session, true
		}
	}
	switch env.Kind {
	case event.KindSessionStart:
		upd.Status = store.StatusActive
		return u, func(res store.ApplyResult) {
			commitSession(res)
			a.publish("session", map[string]any{"status": store.StatusActive, "source": env.Source})
		}, nil

	case event.KindUserPrompt:
		n := a.sess.PromptCount + 1
		p := store.Prompt{SessionID: a.sid, Number: n, Text: env.Prompt, At: first.at, Private: env.Private, PromptID: env.PromptID}
		if env.Private {
			p.Text = ""
		}
		u.Prompts = []store.Prompt{p}
		upd.Status = store.StatusActive
		return u, func(res store.ApplyResult) {
			commitSession(res)
			if res.SkippedPrompts > 0 {
				a.log.Info("prompt stored before: skipped", "event", first.id)
				return
			}
			a.prompt, a.private = p.Text, p.Private
			a.publish("prompt", map[string]any{"number": n})
		}, nil

	case event.KindToolUse:
		return a.buildObservations(ctx, u, evs, commitSession)

	case event.KindStop:
		return a.buildSummary(ctx, u, first, commitSession)

	case event.KindRecompress:
		return a.buildRecompress(ctx, u, first, commitSession)

	case event.KindSessionEnd:
		end := first.at
		upd.Status, upd.EndedAt = store.StatusCompleted, &end
		return u, func(res store.ApplyResult) {
			commitSession(res)
			a.publish("session", map[string]any{"status": store.StatusCompleted, "reason": env.Source})
			a.deactivate()
		}, nil
	}
	return a.deadUnit(evs, fmt.Sprintf("unknown event kind %q", env.Kind)), nil, nil
}

func (a *actor) buildObservations(ctx context.Context, u store.Unit, evs []streamEvent, commit func(store.ApplyResult)) (store.Unit, func(store.ApplyResult), error) {
	req := llm.ObserveRequest{
		Session: llm.Session{ID: a.sid, Project: a.project(evs[0]), UserPrompt: a.prompt, PromptNumber: a.sess.PromptCount},
		State:   a.conv,
	}
	accepted := map[string]time.Time{}
	recorded, err := a.recordedToolUses(ctx, evs)
	if err != nil {
		return store.Unit{}, nil, err
	}
	for _, e := range evs {
		if a.private || e.env.Private || e.env.Tool == nil {
			continue // a private turn's tool uses are recorded, never remembered
		}
		if recorded[e.id] {
			continue // its tool use is remembered already: no second observation, no compressor call
		}
		if a.w.cfg.skipTool(e.env.Tool.Name) {
			continue // bookkeeping tools: acknowledged without a compressor call
		}
		req.ToolUses = append(req.ToolUses, llm.ToolUse{
			EventID: e.id, AcceptedAt: e.at, Tool: e.env.Tool.Name,
			Input: e.env.Tool.Input, Response: e.env.Tool.Response, Error: e.env.Tool.Error, Cwd: e.env.Cwd,
		})
		accepted[e.id] = e.at
	}
	if len(req.ToolUses) == 0 {
		return u, commit, nil
	}
	start := time.Now()
	res, err := a.w.d.Compressor.Observe(ctx, req)
	a.w.timeLLM(start)
	if err != nil {
		if errors.Is(err, llm.ErrPermanent) {
			return a.deadUnit(evs, "compressor: "+err.Error()), nil, nil
		}
		return store.Unit{}, nil, fmt.Errorf("compress: %w", err)
	}
	cost := llm.DiscoveryTokens(req.ToolUses, res.Observations, res.Usage)
	for i, o := range res.Observations {
		so := store.Observation{
			SessionID: a.sid, Project: req.Session.Project, Type: o.Type, Title: o.Title, Subtitle: o.Subtitle,
			Narrative: o.Narrative, Facts: o.Facts, Concepts: o.Concepts, FilesRead: o.FilesRead,
			FilesModified: o.FilesModified, PromptNumber: a.sess.PromptCount, SourceEventIDs: o.SourceEventIDs,
			DiscoveryTokens: cost[i],
		}
		if !store.ValidType(so.Type) {
			so.Type = store.TypeDiscovery
		}
		// Accept time of the earliest source event: when it happened.
		for _, id := range o.SourceEventIDs {
			if t, ok := accepted[id]; ok && (so.AcceptedAt.IsZero() || t.Before(so.AcceptedAt)) {
				so.AcceptedAt = t
			}
		}
		if so.AcceptedAt.IsZero() {
			so.AcceptedAt = evs[0].at
			so.SourceEventIDs = []string{evs[0].id}
		}
		u.Observations = append(u.Observations, so)
	}
	a.addUsage(&u, req.Session.Project, res.Usage)
	a.setConversation(&u, res.State)
	return u, func(r store.ApplyResult) {
		commit(r)
		if res.State != nil {
			a.conv = res.State
		}
		if len(r.ObservationIDs) > 0 {
			a.publish("observation", map[string]any{"ids": r.ObservationIDs, "project": req.Session.Project})
		}
	}, nil
}

func (a *actor) buildSummary(ctx context.Context, u store.Unit, e streamEvent, commit func(store.ApplyResult)) (store.Unit, func(store.ApplyResult), error) {
	if a.private {
		return u, commit, nil
	}
	obs, err := a.w.d.Store.SessionObservations(ctx, a.sid)
	if err != nil {
		return store.Unit{}, nil, fmt.Errorf("read observations for the summary: %w", err)
	}
	project := a.project(e)
	req := llm.SummarizeRequest{
		Session:              llm.Session{ID: a.sid, Project: project, UserPrompt: a.prompt, PromptNumber: a.sess.PromptCount},
		EventID:              e.id,
		LastUserMessage:      e.env.LastUserMessage,
		LastAssistantMessage: e.env.LastAssistantMessage,
		State:                a.conv,
	}
	for _, o := range obs {
		req.Observations = append(req.Observations, llm.Observation{
			Type: o.Type, Title: o.Title, Subtitle: o.Subtitle, Narrative: o.Narrative, Facts: o.Facts,
			Concepts: o.Concepts, FilesRead: o.FilesRead, FilesModified: o.FilesModified, SourceEventIDs: o.SourceEventIDs,
		})
	}
	start := time.Now()
	res, err := a.w.d.Compressor.Summarize(ctx, req)
	a.w.timeLLM(start)
	if err != nil {
		if errors.Is(err, llm.ErrPermanent) {
			return a.deadUnit([]streamEvent{e}, "compressor: "+err.Error()), nil, nil
		}
		return store.Unit{}, nil, fmt.Errorf("summarize: %w", err)
	}
	if s := res.Summary; !s.Empty() { // a summary that says nothing is never stored
		u.Summary = &store.Summary{
			SessionID: a.sid, Project: project, Request: s.Request, Investigated: s.Investigated,
			Learned: s.Learned, Completed: s.Completed, NextSteps: s.NextSteps, Notes: s.Notes,
			PromptNumber: a.sess.PromptCount, AcceptedAt: e.at, SourceEventIDs: []string{e.id},
			LastAssistantMessage: e.env.LastAssistantMessage,
		}
	}
	a.addUsage(&u, project, res.Usage)
	a.setConversation(&u, res.State)
	return u, func(r store.ApplyResult) {
		commit(r)
		if res.State != nil {
			a.conv = res.State
		}
		if r.SummaryID != 0 {
			a.publish("summary", map[string]any{"id": r.SummaryID, "project": project})
		}
		// Summarized: not idle any more until its next event.
		ctx, cancel := context.WithTimeout(a.w.runCtx, 250*time.Millisecond)
		defer cancel()
		if err := a.w.meta.DeactivateIfNoEventSince(ctx, a.sid, e.at); err != nil {
			a.log.Debug("deactivate summarized session", "err", err)
		}
	}, nil
}

// deadUnit records events that can never be applied (undecodable, rejected
// for good by the compressor), with a dead letter each, so the cursor moves
// past them and the session goes on. Delivered ones are terminated.
func (a *actor) deadUnit(evs []streamEvent, reason string) store.Unit {
	u := a.baseUnit(evs)
	for i, e := range evs {
		u.Events[i].Dead = true
		u.DeadLetters = append(u.DeadLetters, store.DeadLetter{
			EventID: e.id, SessionID: a.sid, Seq: e.seq, Reason: reason, Payload: e.data, At: time.Now().UTC(),
		})
		a.dead[e.seq] = reason
	}
	a.log.Error("event dead-lettered", "seq", evs[0].seq, "events", len(evs), "reason", reason)
	return u
}

// project is the project memory of the session is filed under: the
// session's, fixed at its start; the event's only before the session exists.
func (a *actor) project(e streamEvent) string {
	if a.sess.Project != "" {
		return a.sess.Project
	}
	if e.env != nil {
		return e.env.Project
	}
	return ""
}

func (a *actor) addUsage(u *store.Unit, project string, usage []llm.Usage) {
	for _, x := range usage {
		u.Usage = append(u.Usage, store.LLMUsage{
			SessionID: a.sid, Project: project, Provider: x.Provider, Model: x.Model,
			InputTokens: x.InputTokens, OutputTokens: x.OutputTokens, CostUSD: x.CostUSD, At: time.Now().UTC(),
		})
	}
}

func (a *actor) setConversation(u *store.Unit, state []byte) {
	if state == nil || string(state) == string(a.conv) {
		return
	}
	u.Conversation = &store.Conversation{SessionID: a.sid, Provider: a.w.d.Compressor.Name(), State: state, UpdatedAt: time.Now().UTC()}
}

// publish announces a change on mnemo.status.<what>.<session> for live views.
func (a *actor) publish(what string, fields map[string]any) {
	fields["kind"] = what
	fields["session"] = a.sid
	fields["at"] = time.Now().UTC()
	b, err := json.Marshal(fields)
	if err != nil {
		return
	}
	if err := a.w.d.NC.Publish(bus.StatusSubject(what, a.sid), b); err != nil {
		a.log.Debug("publish status", "err", err)
	}
	ctx, cancel := context.WithTimeout(a.w.runCtx, 250*time.Millisecond)
	defer cancel()
	if err := a.w.meta.Set(ctx, a.metaOf()); err != nil {
		a.log.Debug("update session metadata", "err", err)
	}
}

func (a *actor) deactivate() {
	ctx, cancel := context.WithTimeout(a.w.runCtx, 250*time.Millisecond)
	defer cancel()
	if err := a.w.meta.Deactivate(ctx, a.sid); err != nil {
		a.log.Debug("deactivate session", "err", err)
	}
}

// wroteMemory says whether an applied unit wrote something to embed: an
// observation, a summary or a prompt.
func wroteMemory(u store.Unit, res store.ApplyResult) bool {
	return len(res.ObservationIDs) > 0 || res.SummaryID != 0 || (!res.Duplicate && len(u.Prompts) > res.SkippedPrompts)
}
