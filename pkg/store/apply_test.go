package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// ApplyResult.Session is the row Apply stored, merged with the unit's
// update, so that a writer never merges session fields itself.
func TestApplyReturnsTheStoredSession(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "mnemo.db")
			if kind == "postgres" {
				dsn = testkit.StartPostgres(t)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
			unit := func(seq uint64) store.Unit {
				return store.Unit{SessionID: "s1", Fence: 1, Events: []store.AppliedEvent{
					{EventID: "e" + string(rune('0'+seq)), Seq: seq, Kind: "k", AcceptedAt: at.Add(time.Duration(seq) * time.Minute)}}}
			}
			apply := func(u store.Unit) store.ApplyResult {
				t.Helper()
				res, err := st.Apply(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			stored := func(res store.ApplyResult) store.Session {
				t.Helper()
				s, err := st.Session(ctx, "s1")
				if err != nil {
					t.Fatal(err)
				}
				if res.Session == nil || !reflect.DeepEqual(*res.Session, s) {
					t.Fatalf("ApplyResult.Session %+v, stored %+v", res.Session, s)
				}
				return s
			}

			u := unit(1)
			u.Session = &store.SessionUpdate{Project: "acme", Agent: "claude-code", Cwd: "/src/acme", Status: store.StatusActive}
			if s := stored(apply(u)); s.Project != "acme" || s.Agent != "claude-code" || s.PromptCount != 0 {
				t.Fatalf("after the start: %+v", s)
			}

			u = unit(2)
			u.Session = &store.SessionUpdate{Cwd: "/src/acme/api", LastEventAt: at.Add(2 * time.Minute)}
			u.Prompts = []store.Prompt{{Number: 1, Text: "fix the build"}}
			if s := stored(apply(u)); s.Cwd != "/src/acme/api" || s.Agent != "claude-code" || s.PromptCount != 1 ||
				!s.LastEventAt.Equal(at.Add(2*time.Minute)) {
				t.Fatalf("after the prompt: %+v", s)
			}

			// A unit that writes only bookkeeping leaves the row as it was,
			// and says so.
			before := stored(apply(unit(3)))

			u = unit(4)
			end := at.Add(4 * time.Minute)
			u.Session = &store.SessionUpdate{Status: store.StatusCompleted, EndedAt: &end}
			s := stored(apply(u))
			if s.Status != store.StatusCompleted || s.EndedAt == nil || !s.EndedAt.Equal(end) || s.PromptCount != before.PromptCount {
				t.Fatalf("after the end: %+v", s)
			}

			if res := apply(u); !res.Duplicate || res.Session != nil {
				t.Fatalf("re-applied unit: duplicate %v, session %+v; want a duplicate without a session", res.Duplicate, res.Session)
			}
		})
	}
}
