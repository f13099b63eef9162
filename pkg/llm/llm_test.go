package llm

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestOfflineObservations(t *testing.T) {
	uses := []ToolUse{
		{EventID: "e1", Tool: "Read", Input: json.RawMessage(`{"file_path":"/home/dev/acme-api/README.md"}`),
			Response: json.RawMessage(`{"type":"text","file":{"filePath":"/home/dev/acme-api/README.md","content":"# Acme"}}`)},
		{EventID: "e2", Tool: "Edit", Input: json.RawMessage(`{"file_path":"/w/notes.md","old_string":"a","new_string":"b"}`)},
		{EventID: "e3", Tool: "Bash", Input: json.RawMessage(`{"command":"go test ./...\nmore","description":"Run tests"}`),
			Response: json.RawMessage(`{"stdout":"ok","stderr":""}`)},
		{EventID: "e4", Tool: "Bash", Input: json.RawMessage(`{"command":"false"}`), Error: "Exit code 1"},
		{EventID: "e5", Tool: "mcp__x__y", Input: json.RawMessage(`[1,2]`)},
	}
	res, err := Offline{}.Observe(context.Background(), ObserveRequest{ToolUses: uses})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Observations) != len(uses) {
		t.Fatalf("%d observations for %d tool uses", len(res.Observations), len(uses))
	}
	want := []struct{ typ, title string }{
		{"discovery", "Read acme-api/README.md"},
		{"change", "Edited w/notes.md"},
		{"discovery", "Ran go test ./... …"},
		{"discovery", "Failed: Ran false"},
		{"discovery", "Used mcp__x__y"},
	}
	for i, w := range want {
		o := res.Observations[i]
		if o.Type != w.typ || o.Title != w.title {
			t.Errorf("%s: got %s %q, want %s %q", uses[i].Tool, o.Type, o.Title, w.typ, w.title)
		}
		if len(o.SourceEventIDs) != 1 || o.SourceEventIDs[0] != uses[i].EventID {
			t.Errorf("%s: sources %v", uses[i].Tool, o.SourceEventIDs)
		}
	}
	if got := res.Observations[0].FilesRead; len(got) != 1 || got[0] != "/home/dev/acme-api/README.md" {
		t.Errorf("files read %v", got)
	}
	if got := res.Observations[1].FilesModified; len(got) != 1 || got[0] != "/w/notes.md" {
		t.Errorf("files modified %v", got)
	}
	if res.Observations[2].Narrative != "ok" || res.Observations[0].Narrative != "# Acme" {
		t.Errorf("narratives %q %q", res.Observations[2].Narrative, res.Observations[0].Narrative)
	}
}

func TestOfflineSummary(t *testing.T) {
	res, err := Offline{}.Summarize(context.Background(), SummarizeRequest{
		Session:              Session{UserPrompt: "fix the bug"},
		LastAssistantMessage: "Fixed it.",
		Observations:         []Observation{{Title: "Read a", FilesRead: []string{"a"}}, {Title: "Edited b", FilesModified: []string{"b"}}},
	})
	if err != nil || res.Summary == nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Request != "fix the bug" || s.Completed != "Fixed it." || s.Investigated != "Read a" || s.Learned != "Changed b" {
		t.Fatalf("summary %+v", s)
	}
}

func TestParseLatency(t *testing.T) {
	for in, want := range map[string][2]time.Duration{
		"2s": {2 * time.Second, 2 * time.Second}, "0-200ms": {0, 200 * time.Millisecond},
		"10-200ms": {10 * time.Millisecond, 200 * time.Millisecond}, "50ms-2s": {50 * time.Millisecond, 2 * time.Second},
	} {
		lo, hi, err := ParseLatency(in)
		if err != nil || lo != want[0] || hi != want[1] {
			t.Errorf("%s → %v %v %v", in, lo, hi, err)
		}
	}
	for _, bad := range []string{"", "x", "5s-1s", "1-x"} {
		if _, _, err := ParseLatency(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
