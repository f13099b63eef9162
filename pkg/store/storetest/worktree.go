package storetest

import (
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// A context with Also includes those projects' memory with its own, newest
// first across all; without it, a project's context is its own alone.
func testContextAlso(t *testing.T, dsn string) {
	ctx, st, s := begin(t, dsn)
	mustApply(t, st, toolUnit(s, "wa1", 1, obs("wa1", "acme", store.TypeDecision, "parent decision", "n")))
	mustApply(t, st, toolUnit(s, "wa2", 1, obs("wa2", "acme/feature", store.TypeChange, "worktree change", "n")))
	mustApply(t, st, toolUnit(s, "wa3", 1, obs("wa3", "acme-web", store.TypeChange, "other project", "n")))
	mustApply(t, st, toolUnit(s, "wa1", 1, obs("wa1", "acme", store.TypeBugfix, "parent fix", "n")))
	mustApply(t, st, store.Unit{SessionID: "wa1", Fence: 1, Events: []store.AppliedEvent{ev(s, "stop")},
		Summary: &store.Summary{SessionID: "wa1", Project: "acme", Request: "parent request"}})
	titles := func(c store.Context) string {
		var out []string
		for _, o := range c.Observations {
			out = append(out, o.Title)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	c, err := st.RecentContext(ctx, store.ContextQuery{Project: "acme/feature", Budget: 10000, Also: []string{"acme", "acme", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if got := titles(c); got != "[parent fix, worktree change, parent decision]" || len(c.Summaries) != 1 {
		t.Fatalf("worktree context with its parent: %s, %d summaries; want parent fix, worktree change, parent decision and 1", got, len(c.Summaries))
	}
	c, err = st.RecentContext(ctx, store.ContextQuery{Project: "acme/feature", Budget: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if got := titles(c); got != "[worktree change]" || len(c.Summaries) != 0 {
		t.Fatalf("worktree context alone: %s, %d summaries", got, len(c.Summaries))
	}
}
