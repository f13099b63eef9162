package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// MCP save_memory, through the real `mnemo mcp` binary: what was inside
// <private> in its text or title is never stored, and a text over the limit
// is a tool error that says the limit, with nothing stored.
func TestMCPSaveMemoryStripsPrivateAndSaysTheLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st := mcpStore(t)
	cs := mcpSession(t, ctx, st, "")
	save := func(args map[string]any) (string, bool) {
		t.Helper()
		r, text := callTool(t, ctx, cs, "save_memory", args)
		return text, r.IsError
	}

	out, isErr := save(map[string]any{"project": "acme", "type": "decision",
		"title": "Deploy rule <private>pw-BBB</private>",
		"text":  "Deploys go through the blue/green script <private>with key sk-live-AAA</private>, never by hand."})
	var created struct {
		ID int64 `json:"id"`
	}
	if isErr || json.Unmarshal([]byte(out), &created) != nil || created.ID == 0 {
		t.Fatalf("save_memory: error %v, %s", isErr, out)
	}
	got, err := st.Observations(ctx, []int64{created.ID})
	if err != nil || len(got) != 1 {
		t.Fatalf("stored memory: %d, %v", len(got), err)
	}
	stored := fmt.Sprintf("%+v", got[0])
	for _, s := range []string{"sk-live-AAA", "pw-BBB", "private>"} {
		if strings.Contains(stored, s) {
			t.Fatalf("save_memory stored %q: %s", s, stored)
		}
	}
	if got[0].Narrative != "Deploys go through the blue/green script , never by hand." || got[0].Title != "Deploy rule " || got[0].Type != "decision" {
		t.Fatalf("stored memory %+v", got[0])
	}

	out, isErr = save(map[string]any{"project": "acme", "text": strings.Repeat("t", store.MaxTextLen+1)})
	if !isErr || !strings.Contains(out, fmt.Sprint(store.MaxTextLen)) {
		t.Fatalf("save_memory over the text limit: error %v, %.300s; want a tool error saying %d", isErr, out, store.MaxTextLen)
	}
	if c, err := st.Counts(ctx, "", time.Time{}); err != nil || c.Observations != 1 {
		t.Fatalf("observations after a refused save: %+v, %v", c, err)
	}
}
