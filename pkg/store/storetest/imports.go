package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// importBatch is memory of two sessions as an import brings it: one the
// store has live (its own events wrote it) and one it has never seen.
func importBatch(live, fresh, tag string) store.ImportBatch {
	at := base.Add(-48 * time.Hour)
	o := func(sid, title string) store.ImportedObservation {
		x := obs(sid, "imported-proj", store.TypeDiscovery, title, "found while importing "+title, "src/"+title+".go")
		x.AcceptedAt = at
		return store.ImportedObservation{Key: "test:" + tag + ":" + title, Observation: x}
	}
	return store.ImportBatch{
		Sessions: []store.Session{
			{ID: live, Project: "imported-proj", Agent: "claude-code", StartedAt: at},
			{ID: fresh, Project: "imported-proj", Agent: "claude-code", StartedAt: at, Status: store.StatusCompleted},
		},
		Prompts: []store.Prompt{{SessionID: fresh, Number: 1, Text: "import the " + tag + " memory", At: at}},
		Observations: []store.ImportedObservation{
			o(fresh, tag+"alpha"), o(fresh, tag+"beta"), o(live, tag+"gamma"),
		},
		Summaries: []store.ImportedSummary{{Key: "test:" + tag + ":summary", Summary: store.Summary{
			SessionID: fresh, Project: "imported-proj", Request: "import " + tag, Completed: "imported", AcceptedAt: at}}},
	}
}

func testImport(t *testing.T, dsn string) {
	ctx := context.Background()
	st := Open(t, dsn)
	var s seq
	live := mustApply(t, st, toolUnit(&s, "live-1", 1, obs("live-1", "live-proj", store.TypeFeature, "live work", "done live")))

	b := importBatch("live-1", "imp-1", "a")
	res, err := st.Import(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	want := store.ImportResult{Sessions: 1, Prompts: 1, Observations: 3, Summaries: 1, Present: 1}
	if res != want {
		t.Fatalf("first import %+v, want %+v", res, want)
	}
	again, err := st.Import(ctx, b)
	if err != nil || again.Written() != 0 || again.Present != 7 {
		t.Fatalf("second import %+v, %v: want nothing written, 7 present", again, err)
	}

	// The live session is untouched and goes on from its own cursor; the
	// imported one is continued by its first live event.
	if got, err := st.Session(ctx, "live-1"); err != nil || got.Project != "live-proj" {
		t.Fatalf("live session after import: %+v, %v", got, err)
	}
	if cur, err := st.Cursor(ctx, "live-1"); err != nil || cur.LastSeq != live.LastSeq || cur.Fence != 1 {
		t.Fatalf("live cursor moved by import: %+v, %v", cur, err)
	}
	mustApply(t, st, toolUnit(&s, "live-1", 1, obs("live-1", "live-proj", store.TypeFeature, "more live work", "")))
	resumed := toolUnit(&s, "imp-1", 1, obs("imp-1", "", store.TypeChange, "resumed work", ""))
	resumed.Session.Project = ""
	mustApply(t, st, resumed)
	if got, _ := st.Session(ctx, "imp-1"); got.Project != "imported-proj" {
		t.Fatalf("a resumed imported session keeps its project, got %q", got.Project)
	}
	hits, err := st.Search(ctx, store.SearchQuery{Text: "aalpha", Project: "imported-proj"})
	if err != nil || len(hits) != 1 {
		t.Fatalf("imported observation not searchable: %d hits, %v", len(hits), err)
	}
	if hits, err := st.Search(ctx, store.SearchQuery{File: "src/abeta.go", Project: "imported-proj"}); err != nil || len(hits) != 1 || hits[0].Observation.Title != "abeta" {
		t.Fatalf("imported observation not found by its file: %d hits, %v", len(hits), err)
	}

	// Export carries the keys: into the same store it writes nothing.
	for _, sid := range []string{"imp-1", "live-1"} {
		e, err := st.ExportSession(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if sid == "imp-1" && (len(e.Observations) != 3 || e.Observations[0].Key != "test:a:aalpha" || len(e.Prompts) != 1 || len(e.Summaries) != 1) {
			t.Fatalf("export of imp-1: %d observations (first key %q), %d prompts, %d summaries",
				len(e.Observations), e.Observations[0].Key, len(e.Prompts), len(e.Summaries))
		}
		back, err := st.Import(ctx, store.ImportBatch{Sessions: []store.Session{e.Session}, Prompts: e.Prompts,
			Observations: e.Observations, Summaries: e.Summaries})
		if err != nil || back.Written() != 0 {
			t.Fatalf("export of %s imported into its own store wrote %+v, %v", sid, back, err)
		}
	}

	// Four concurrent imports of the same new rows write them once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total store.ImportResult
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := st.Import(ctx, importBatch("live-2", "imp-2", "c"))
			if err != nil {
				t.Errorf("concurrent import: %v", err)
				return
			}
			mu.Lock()
			total.Add(r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total.Sessions != 2 || total.Observations != 3 || total.Summaries != 1 || total.Prompts != 1 {
		t.Fatalf("four concurrent imports wrote %+v, want each row once", total)
	}

	bad := importBatch("x", "y", "d")
	bad.Observations[0].Key = ""
	if _, err := st.Import(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a row without a key: got %v, want ErrInvalid", err)
	}
	// An imported summary is checked as a compressed one is, its last
	// assistant message included.
	long := importBatch("x", "y", "e")
	long.Summaries[0].LastAssistantMessage = strings.Repeat("x", store.MaxTextLen+1)
	if _, err := st.Import(ctx, long); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "last_assistant_message") {
		t.Fatalf("a summary's last assistant message over MaxTextLen: got %v, want ErrInvalid naming it", err)
	}
	var big store.ImportBatch
	for i := 0; i <= store.MaxImportBatch; i++ {
		big.Prompts = append(big.Prompts, store.Prompt{SessionID: "big", Number: i + 1, Text: fmt.Sprint(i)})
	}
	if _, err := st.Import(ctx, big); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a batch over MaxImportBatch: got %v, want ErrInvalid", err)
	}
}
