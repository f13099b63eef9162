package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPOverStdio runs the real `mnemo mcp` binary as a child process and
// speaks MCP to it: initialize, tools/list, tools/call search and
// get_observations, against a query service on a seeded store.
func TestMCPOverStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := testkit.StartNATS(t)
	nc, js := n.Connect(t)
	testkit.Ensure(t, js, testkit.TestLayout())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	res, err := st.Apply(ctx, store.Unit{SessionID: "s1", Fence: 1,
		Events:  []store.AppliedEvent{{EventID: "e1", Seq: 1, Kind: "tool_use", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: "acme"},
		Observations: []store.Observation{{SessionID: "s1", Project: "acme", Type: store.TypeDecision,
			Title: "Webhook retries use exponential backoff", Narrative: "Chosen over fixed delays to spare the partner API.",
			AcceptedAt: at, SourceEventIDs: []string{"e1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Config{Token: "mcp-secret"}, query.Deps{Store: st, NC: nc, JS: js, Layout: testkit.TestLayout()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	srv := httptest.NewServer(q.Handler())
	defer srv.Close()

	cmd := exec.Command(mnemoBin, "mcp")
	cmd.Env = append(os.Environ(), "MNEMO_URL="+srv.URL, "MNEMO_TOKEN=mcp-secret")
	client := mcp.NewClient(&mcp.Implementation{Name: "mnemo-test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	defer cs.Close()
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
	}
	for _, want := range []string{"search", "timeline", "get_observations", "session_start_context", "save_memory", "how_to_search"} {
		if !names[want] {
			t.Errorf("tool %s missing or undocumented (%v)", want, names)
		}
	}
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "webhook backoff", "project": "acme"}})
	if err != nil || r.IsError {
		t.Fatalf("search: %v %+v", err, r)
	}
	var found struct {
		Results []query.IndexEntry `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.Content[0].(*mcp.TextContent).Text), &found); err != nil || len(found.Results) != 1 || found.Results[0].ID != res.ObservationIDs[0] {
		t.Fatalf("search result %v %+v", err, found)
	}
	r, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_observations", Arguments: map[string]any{"ids": []int64{res.ObservationIDs[0]}}})
	if err != nil || r.IsError || !strings.Contains(r.Content[0].(*mcp.TextContent).Text, "spare the partner API") {
		t.Fatalf("get_observations: %v %+v", err, r)
	}
	// A bad call is a tool error the model can read, not a broken server.
	r, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "timeline", Arguments: map[string]any{"anchor": 999999}})
	if err != nil || !r.IsError {
		t.Fatalf("timeline of a missing ID: %v %+v, want a tool error", err, r)
	}
}
