package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// toolUseUnit is toolUnit for an event reporting the tool use useID.
func toolUseUnit(s *seq, sid, useID, title string) store.Unit {
	u := toolUnit(s, sid, 1, obs(sid, "acme", store.TypeChange, title, "n"))
	u.Events[0].ToolUseID = useID
	return u
}

// One tool use is recorded once per session whatever events report it: a
// later event with a claimed tool use is applied (the cursor moves) but its
// observations are not written; another session's same ID is its own.
func testToolUseClaimedOnce(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	firstUnit := toolUseUnit(s, "tu1", "toolu_A", "first report")
	first := mustApply(t, st, firstUnit)
	if len(first.SkippedEvents) != 0 || len(first.ObservationIDs) != 1 {
		t.Fatalf("first report: skipped %v, observations %v", first.SkippedEvents, first.ObservationIDs)
	}
	again := toolUseUnit(s, "tu1", "toolu_A", "second report")
	res := mustApply(t, st, again)
	if res.Duplicate || len(res.SkippedEvents) != 1 || res.SkippedEvents[0] != again.Events[0].EventID {
		t.Fatalf("second report of a tool use: duplicate %v skipped %v, want skipped [%s]", res.Duplicate, res.SkippedEvents, again.Events[0].EventID)
	}
	if c, _ := st.Cursor(ctx, "tu1"); c.LastSeq != again.Events[0].Seq {
		t.Fatalf("cursor %d after the skipped event, want %d", c.LastSeq, again.Events[0].Seq)
	}
	// A batch: a new tool use, the claimed one, the new one again.
	b1, b2, b3 := ev(s, "tool_use"), ev(s, "tool_use"), ev(s, "tool_use")
	b1.ToolUseID, b2.ToolUseID, b3.ToolUseID = "toolu_B", "toolu_A", "toolu_B"
	mk := func(title string, src ...store.AppliedEvent) store.Observation {
		o := obs("tu1", "acme", store.TypeChange, title, "n")
		for _, e := range src {
			o.SourceEventIDs = append(o.SourceEventIDs, e.EventID)
		}
		o.AcceptedAt = src[0].AcceptedAt
		return o
	}
	batch := store.Unit{SessionID: "tu1", Fence: 1, Events: []store.AppliedEvent{b1, b2, b3},
		Observations: []store.Observation{mk("batch new", b1), mk("batch old", b2), mk("batch both", b2, b3), mk("batch mixed", b1, b2)}}
	res = mustApply(t, st, batch)
	if fmt.Sprint(res.SkippedEvents) != fmt.Sprint([]string{b2.EventID, b3.EventID}) {
		t.Fatalf("batch skipped %v, want [%s %s]", res.SkippedEvents, b2.EventID, b3.EventID)
	}
	o, err := st.SessionObservations(ctx, "tu1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range o {
		got = append(got, x.Title)
		if x.Title == "batch mixed" && fmt.Sprint(x.SourceEventIDs) != fmt.Sprint([]string{b1.EventID}) {
			t.Errorf("mixed observation keeps sources %v, want only %s", x.SourceEventIDs, b1.EventID)
		}
	}
	if fmt.Sprint(got) != "[first report batch new batch mixed]" {
		t.Fatalf("observations %q, want first report, batch new, batch mixed", got)
	}
	claimed, err := st.ClaimedToolUses(ctx, "tu1", []string{"toolu_A", "toolu_B", "toolu_C"})
	if err != nil || len(claimed) != 2 || claimed["toolu_A"] != firstUnit.Events[0].EventID || claimed["toolu_B"] != b1.EventID {
		t.Fatalf("claimed %v %v", claimed, err)
	}
	// Another session's tool use of the same ID is its own.
	other := mustApply(t, st, toolUseUnit(s, "tu2", "toolu_A", "other session"))
	if len(other.SkippedEvents) != 0 || len(other.ObservationIDs) != 1 {
		t.Fatalf("other session: skipped %v, observations %v", other.SkippedEvents, other.ObservationIDs)
	}
	// A dead event claims nothing: its replay is recorded.
	d := toolUseUnit(s, "tu3", "toolu_D", "dead")
	d.Events[0].Dead = true
	d.Observations = nil
	mustApply(t, st, d)
	if r := mustApply(t, st, toolUseUnit(s, "tu3", "toolu_D", "replayed")); len(r.ObservationIDs) != 1 {
		t.Fatalf("replay of a dead-lettered tool use wrote %d observations, want 1", len(r.ObservationIDs))
	}
}

// Writers racing one session with events of the same tool use: however they
// interleave, one observation is written.
func testToolUseClaimRace(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	const writers = 8
	units := make([]store.Unit, writers)
	for i := range units {
		units[i] = toolUseUnit(s, "race", "toolu_R", fmt.Sprintf("writer %d", i))
	}
	res, errs := applyAtOnce(ctx, st, units...)
	wrote := 0
	for i, err := range errs {
		switch {
		case err == nil && len(res[i].ObservationIDs) > 0:
			wrote++
		case err == nil, errors.Is(err, store.ErrCursorBackwards):
		default:
			t.Errorf("apply: %v", err)
		}
	}
	o, _ := st.SessionObservations(ctx, "race")
	if wrote != 1 || len(o) != 1 {
		t.Fatalf("%d writers wrote, %d observations stored; want 1 and 1", wrote, len(o))
	}
}

// A prompt is stored once: the same prompt ID again is skipped; without an
// ID, a repeat of the latest prompt's text is skipped, the same text after
// another prompt is a prompt of its own.
func testPromptStoredOnce(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	prompt := func(n int, text, id string) store.ApplyResult {
		t.Helper()
		return mustApply(t, st, store.Unit{SessionID: "p1", Fence: 1, Events: []store.AppliedEvent{ev(s, "user_prompt")},
			Session: &store.SessionUpdate{Project: "acme"},
			Prompts: []store.Prompt{{SessionID: "p1", Number: n, Text: text, PromptID: id}}})
	}
	prompt(1, "fix the build", "pid-1")
	if r := prompt(2, "fix the build", "pid-1"); r.SkippedPrompts != 1 || r.Session.PromptCount != 1 {
		t.Fatalf("same prompt ID again: skipped %d, prompt count %d; want 1, 1", r.SkippedPrompts, r.Session.PromptCount)
	}
	if r := prompt(2, "fix the build", "pid-2"); r.SkippedPrompts != 0 || r.Session.PromptCount != 2 {
		t.Fatalf("same text, new prompt ID: skipped %d, prompt count %d; want 0, 2", r.SkippedPrompts, r.Session.PromptCount)
	}
	prompt(3, "continue", "")
	if r := prompt(4, "continue", ""); r.SkippedPrompts != 1 || r.Session.PromptCount != 3 {
		t.Fatalf("latest text again without an ID: skipped %d, prompt count %d; want 1, 3", r.SkippedPrompts, r.Session.PromptCount)
	}
	prompt(4, "run the tests", "")
	if r := prompt(5, "continue", ""); r.SkippedPrompts != 0 {
		t.Fatalf("an earlier prompt's text after another prompt was skipped")
	}
	ps, err := st.Prompts(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d:%s", p.Number, p.Text))
	}
	if fmt.Sprint(got) != "[1:fix the build 2:fix the build 3:continue 4:run the tests 5:continue]" {
		t.Fatalf("prompts %q", got)
	}
}
