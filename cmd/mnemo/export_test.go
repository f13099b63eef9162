package main

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Export then import into another store twice and into the store it came
// from: the same memory, once, field by field.
func TestExportImportRoundTripIsExact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	st, err := store.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, title := range []string{"Chose pgx over lib/pq", "Fixed the flaky auth test"} {
		if _, err := st.Apply(ctx, store.Unit{SessionID: "s1", Fence: 1,
			Events:  []store.AppliedEvent{{EventID: "e" + title[:3], Seq: uint64(i + 1), Kind: "tool_use", AcceptedAt: at}},
			Session: &store.SessionUpdate{Project: "acme"},
			Observations: []store.Observation{{SessionID: "s1", Project: "acme", Type: store.TypeDecision, Title: title,
				Narrative: "because", Facts: []string{"f"}, AcceptedAt: at, SourceEventIDs: []string{"e" + title[:3]}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Apply(ctx, store.Unit{SessionID: "s1", Fence: 1, Events: []store.AppliedEvent{{EventID: "stop", Seq: 3, Kind: "stop", AcceptedAt: at}},
		Summary: &store.Summary{SessionID: "s1", Project: "acme", Request: "db choice", Completed: "done", AcceptedAt: at}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out, errOut bytes.Buffer
	if err := runExport(ctx, []string{"--store", src, "--project", "acme"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("export wrote %d lines, want one per session:\n%s", n, out.String())
	}
	// Into a fresh store twice, then into the store it came from.
	for i, target := range []string{dst, dst, src} {
		var msg bytes.Buffer
		if err := runImport(ctx, []string{"--store", target, "-"}, strings.NewReader(out.String()), &msg, &errOut); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
		want := "imported 1 sessions, 0 prompts, 2 observations, 1 summaries; 0 rows were already present"
		if i > 0 {
			want = "imported 0 sessions, 0 prompts, 0 observations, 0 summaries; 4 rows were already present"
		}
		if !strings.Contains(msg.String(), want) {
			t.Fatalf("import %d said %q, want %q", i, msg.String(), want)
		}
	}
	a, b := exported(t, src, "s1"), exported(t, dst, "s1")
	if len(a.Observations) != 2 || len(a.Summaries) != 1 {
		t.Fatalf("source after importing its own export: %d observations, %d summaries", len(a.Observations), len(a.Summaries))
	}
	if !sameMemory(a, b) {
		t.Fatalf("round trip changed the memory:\nsource %+v\ncopy   %+v", a, b)
	}
}

// exported is a session's export from the store at dsn.
func exported(t *testing.T, dsn, session string) store.SessionExport {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := st.ExportSession(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sameMemory compares two exports of a session field by field, but for
// what each store assigns itself (row IDs, creation times).
func sameMemory(a, b store.SessionExport) bool {
	if a.Session != b.Session && !(a.Session.ID == b.Session.ID && a.Session.Project == b.Session.Project &&
		a.Session.StartedAt.Equal(b.Session.StartedAt) && a.Session.Status == b.Session.Status) {
		return false
	}
	if len(a.Observations) != len(b.Observations) || len(a.Summaries) != len(b.Summaries) || len(a.Prompts) != len(b.Prompts) {
		return false
	}
	for i := range a.Observations {
		x, y := a.Observations[i], b.Observations[i]
		if x.Key != y.Key {
			return false
		}
		x.ID, y.ID, x.CreatedAt, y.CreatedAt = 0, 0, time.Time{}, time.Time{}
		if !reflect.DeepEqual(x.Observation, y.Observation) {
			return false
		}
	}
	for i := range a.Summaries {
		x, y := a.Summaries[i], b.Summaries[i]
		x.ID, y.ID, x.CreatedAt, y.CreatedAt = 0, 0, time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return reflect.DeepEqual(a.Prompts, b.Prompts)
}
