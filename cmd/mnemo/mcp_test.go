package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPOverStdio runs the real `mnemo mcp` binary as a child process and
// speaks MCP to it as a claude-mem user's agent would: search with obs_type,
// dateStart and orderBy, search with type=prompts, timeline by query with
// depth_*, get_observations; each answered with the compact index (one line
// per result: reference, time, type, title) and structured content.
func TestMCPOverStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st := mcpStore(t)
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	seq := uint64(0)
	apply := func(sid string, u store.Unit) store.ApplyResult {
		t.Helper()
		seq++
		e := store.AppliedEvent{EventID: fmt.Sprintf("e%d", seq), Seq: seq, Kind: "tool_use", AcceptedAt: at.Add(time.Duration(seq) * time.Minute)}
		u.SessionID, u.Fence, u.Events = sid, 1, []store.AppliedEvent{e}
		u.Session = &store.SessionUpdate{Project: "acme", Agent: "claude-code"}
		for i := range u.Observations {
			u.Observations[i].SessionID, u.Observations[i].Project, u.Observations[i].AcceptedAt = sid, "acme", e.AcceptedAt
			u.Observations[i].SourceEventIDs = []string{e.EventID}
		}
		res, err := st.Apply(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply("s1", store.Unit{Prompts: []store.Prompt{{SessionID: "s1", Number: 1, Text: "Make the webhook retries gentler", At: at.Add(time.Minute)}}})
	var ids []int64
	for _, o := range []store.Observation{
		{Type: store.TypeDiscovery, Title: "Partner API rate limits webhooks", Narrative: "429s after 10 calls a second."},
		{Type: store.TypeDecision, Title: "Webhook retries use exponential backoff", Narrative: "Chosen over fixed delays to spare the partner API."},
		{Type: store.TypeBugfix, Title: "Webhook retry counter reset", Narrative: "The counter reset on every attempt.", FilesModified: []string{"/src/acme/retry.go"}},
		{Type: store.TypeChange, Title: "Retry metrics exported", Narrative: "A histogram of attempts."},
	} {
		ids = append(ids, apply("s1", store.Unit{Observations: []store.Observation{o}}).ObservationIDs[0])
	}
	cs := mcpSession(t, ctx, st, "mcp-secret", "TZ=UTC")
	if init := cs.InitializeResult(); init == nil || init.ServerInfo.Name != "mnemo" || !strings.Contains(init.Instructions, "get_observations") {
		t.Fatalf("initialize result %+v", init)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tool := range tools.Tools {
		names[tool.Name] = tool.Description != "" && tool.InputSchema != nil
		if tool.Name == "search" {
			schema, _ := json.Marshal(tool.InputSchema)
			for _, p := range []string{"query", "type", "obs_type", "project", "dateStart", "dateEnd", "orderBy", "limit", "offset", "platformSource", "file"} {
				if !strings.Contains(string(schema), `"`+p+`"`) {
					t.Errorf("search's input schema lacks %s: %s", p, schema)
				}
			}
			if tool.OutputSchema == nil {
				t.Error("search has no output schema for its structured content")
			}
		}
	}
	for _, want := range []string{"search", "timeline", "get_observations", "session_start_context", "save_memory", "how_to_search"} {
		if !names[want] {
			t.Errorf("tool %s missing or undocumented (%v)", want, names)
		}
	}
	call := func(name string, args map[string]any, structured any) []string {
		t.Helper()
		r, msg := callTool(t, ctx, cs, name, args)
		if r.IsError {
			t.Fatalf("%s %v: %s", name, args, msg)
		}
		b, err := json.Marshal(r.StructuredContent)
		if err != nil || r.StructuredContent == nil {
			t.Fatalf("%s: no structured content (%v)", name, err)
		}
		if err := json.Unmarshal(b, structured); err != nil {
			t.Fatalf("%s: structured content %s: %v", name, b, err)
		}
		return strings.Split(r.Content[0].(*mcp.TextContent).Text, "\n")
	}
	line := func(id int64, minute int, typ, title string) string {
		return fmt.Sprintf("#%d 2026-11-20 09:%02d %s %s", id, minute, typ, title)
	}

	// search with claude-mem's obs_type, dateStart and orderBy.
	var sa query.SearchAnswer
	lines := call("search", map[string]any{"query": "webhook", "obs_type": "decision,bugfix", "dateStart": "2026-11-20", "orderBy": "date_asc"}, &sa)
	want := []string{line(ids[1], 3, "decision", "Webhook retries use exponential backoff"), line(ids[2], 4, "bugfix", "Webhook retry counter reset")}
	if len(lines) != 3 || lines[1] != want[0] || lines[2] != want[1] {
		t.Fatalf("search index:\n%s\nwant a header then\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if sa.Type != "observations" || sa.OrderBy != "date_asc" || len(sa.Results) != 2 || sa.Results[0].ID != ids[1] ||
		sa.Results[1].Type != "bugfix" || sa.Results[1].Title != "Webhook retry counter reset" {
		t.Fatalf("search structured content %+v", sa)
	}
	if lines := call("search", map[string]any{"query": "webhook", "dateStart": "2026-11-21"}, &sa); len(sa.Results) != 0 || !strings.HasPrefix(lines[0], "No observations") {
		t.Fatalf("search after the data: %v %+v", lines, sa)
	}
	// search with type=prompts.
	lines = call("search", map[string]any{"query": "gentler retries", "type": "prompts"}, &sa)
	if len(lines) != 2 || lines[1] != "Ps1/1 2026-11-20 09:01 prompt Make the webhook retries gentler" ||
		sa.Type != "prompts" || len(sa.Results) != 1 || sa.Results[0].SessionID != "s1" || sa.Results[0].PromptNumber != 1 {
		t.Fatalf("prompt search: %q %+v", lines, sa)
	}
	// timeline by query with depth_before / depth_after.
	var tl struct {
		Anchor  int64              `json:"anchor"`
		Results []query.IndexEntry `json:"results"`
	}
	lines = call("timeline", map[string]any{"query": "counter reset", "depth_before": 2, "depth_after": 0}, &tl)
	want = []string{line(ids[0], 2, "discovery", "Partner API rate limits webhooks"), want[0], want[1]}
	if len(lines) != 4 || !strings.Contains(lines[0], fmt.Sprintf("#%d", ids[2])) || strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant a header then\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if tl.Anchor != ids[2] || len(tl.Results) != 3 || tl.Results[2].ID != ids[2] {
		t.Fatalf("timeline structured content %+v", tl)
	}
	lines = call("timeline", map[string]any{"anchor": ids[1], "depth_before": 0, "depth_after": 1}, &tl)
	if len(lines) != 3 || len(tl.Results) != 2 || tl.Results[0].ID != ids[1] || tl.Results[1].ID != ids[2] {
		t.Fatalf("timeline by anchor, none before: %q %+v", lines, tl)
	}
	// get_observations: the full records.
	var full struct {
		Observations []store.Observation `json:"observations"`
	}
	lines = call("get_observations", map[string]any{"ids": []int64{ids[2], ids[1]}, "orderBy": "date_desc"}, &full)
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "spare the partner API") || !strings.Contains(text, "/src/acme/retry.go") ||
		strings.Index(text, "counter reset on every") > strings.Index(text, "spare the partner API") {
		t.Fatalf("get_observations text:\n%s", text)
	}
	if len(full.Observations) != 2 || full.Observations[0].ID != ids[2] || full.Observations[1].Narrative != "Chosen over fixed delays to spare the partner API." {
		t.Fatalf("get_observations structured content %+v", full)
	}
	// A bad call is a tool error the model can read, not a broken server.
	for _, bad := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"timeline", map[string]any{"anchor": 999999}, "404"},
		{"search", map[string]any{"orderBy": "newest"}, "orderBy"},
		{"search", map[string]any{"obs_type": "Rant!"}, "obs_type"},
	} {
		r, msg := callTool(t, ctx, cs, bad.tool, bad.args)
		if !r.IsError || !strings.Contains(msg, bad.want) {
			t.Fatalf("%s %v: %+v, want a tool error naming %s", bad.tool, bad.args, r, bad.want)
		}
	}
}

// callTool calls an MCP tool, failing t when the call itself fails (a tool
// error is a result, with IsError set); text is the result's first text.
func callTool(t *testing.T, ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) (r *mcp.CallToolResult, text string) {
	t.Helper()
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	if len(r.Content) > 0 {
		if c, ok := r.Content[0].(*mcp.TextContent); ok {
			text = c.Text
		}
	}
	return r, text
}

// mcpStore opens a SQLite store for an MCP test, closed at its end.
func mcpStore(t *testing.T) store.Store {
	return storetest.Open(t, filepath.Join(t.TempDir(), "m.db"))
}

// mcpSession serves st through a real query service (token, when set,
// required) and speaks MCP to the real `mnemo mcp` binary pointed at it.
func mcpSession(t *testing.T, ctx context.Context, st store.Store, token string, env ...string) *mcp.ClientSession {
	t.Helper()
	n := testkit.StartNATS(t)
	nc, js := n.Connect(t)
	testkit.Ensure(t, js, testkit.TestLayout())
	q, err := query.New(ctx, query.Config{Token: token}, query.Deps{Store: st, NC: nc, JS: js, Layout: testkit.TestLayout()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	srv := httptest.NewServer(q.Handler())
	t.Cleanup(srv.Close)
	cmd := exec.Command(mnemoBin, "mcp")
	cmd.Env = append(os.Environ(), "MNEMO_URL="+srv.URL)
	if token != "" {
		cmd.Env = append(cmd.Env, "MNEMO_TOKEN="+token)
	}
	cmd.Env = append(cmd.Env, env...)
	client := mcp.NewClient(&mcp.Implementation{Name: "mnemo-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}
