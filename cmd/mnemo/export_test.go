package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// Export then import into another store twice: the same memory, once.
func TestExportImportRoundTripIsIdempotent(t *testing.T) {
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
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("export wrote %d lines, want 3:\n%s", n, out.String())
	}
	for i := 0; i < 2; i++ {
		var msg bytes.Buffer
		if err := runImport(ctx, []string{"--store", dst, "-"}, strings.NewReader(out.String()), &msg, &errOut); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
		want := "imported 3 records, 0 already present"
		if i == 1 {
			want = "imported 0 records, 3 already present"
		}
		if !strings.Contains(msg.String(), want) {
			t.Fatalf("import %d said %q, want %q", i, msg.String(), want)
		}
	}
	d, err := store.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hits, err := d.Search(ctx, store.SearchQuery{Project: "acme", Limit: 10})
	if err != nil || len(hits) != 2 {
		t.Fatalf("imported observations: %d %v", len(hits), err)
	}
	sums, err := d.SessionSummaries(ctx, importSession("s1"))
	if err != nil || len(sums) != 1 || sums[0].Request != "db choice" {
		t.Fatalf("imported summary %+v %v", sums, err)
	}
}
