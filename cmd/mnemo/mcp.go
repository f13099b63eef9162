package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func init() {
	register("mcp", command{
		summary: "MCP server over stdio: search, timeline, get_observations, session_start_context, save_memory",
		run:     runMCP,
	})
}

// mnemoAPI is the HTTP client of Mnemo's read side that `mnemo mcp` uses, so
// the MCP server works against a remote deployment as well as `mnemo run`.
type mnemoAPI struct {
	base   string
	token  string
	client *http.Client
}

func newMnemoAPI() *mnemoAPI {
	return &mnemoAPI{
		base:   strings.TrimRight(envOr("MNEMO_URL", defaultMnemoURL), "/"),
		token:  os.Getenv("MNEMO_TOKEN"),
		client: &http.Client{Timeout: 15 * time.Second},
	}
}

// call does one request and returns the answer body; a non-2xx answer is an
// error carrying Mnemo's reason, for the model to read.
func (a *mnemoAPI) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Mnemo at %s is not reachable (is `mnemo run` running? set MNEMO_URL): %w", a.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		_ = json.Unmarshal(out, &e)
		if e.Field != "" {
			return nil, fmt.Errorf("Mnemo refused (%d): %s (field %s)", resp.StatusCode, e.Error, e.Field)
		}
		return nil, fmt.Errorf("Mnemo refused (%d): %s", resp.StatusCode, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Tool inputs. The jsonschema descriptions are what the model reads.
type (
	searchIn struct {
		Query   string `json:"query,omitempty" jsonschema:"words to find (all must match; \"quoted phrase\", OR, -exclude work); empty lists newest first"`
		Project string `json:"project,omitempty" jsonschema:"only this project (the git repository name)"`
		Type    string `json:"type,omitempty" jsonschema:"comma-separated observation types: bugfix, feature, refactor, change, discovery, decision"`
		File    string `json:"file,omitempty" jsonschema:"only observations that read or modified this absolute path"`
		Since   string `json:"since,omitempty" jsonschema:"only from this date on (YYYY-MM-DD or RFC 3339)"`
		Until   string `json:"until,omitempty" jsonschema:"only before this date (YYYY-MM-DD or RFC 3339)"`
		Limit   int    `json:"limit,omitempty" jsonschema:"results per page, 1-100 (default 20)"`
		Offset  int    `json:"offset,omitempty" jsonschema:"results to skip, for the next page"`
	}
	timelineIn struct {
		Anchor int64 `json:"anchor" jsonschema:"the observation ID to center on (from search)"`
		Before int   `json:"before,omitempty" jsonschema:"observations before it (default 3)"`
		After  int   `json:"after,omitempty" jsonschema:"observations after it (default 3)"`
	}
	getObservationsIn struct {
		IDs []int64 `json:"ids" jsonschema:"observation IDs (from search or timeline), at most 100"`
	}
	contextIn struct {
		Project string `json:"project" jsonschema:"the project (git repository name) to get the recent context of"`
		Budget  int    `json:"budget,omitempty" jsonschema:"token budget (default 8000)"`
	}
	saveMemoryIn struct {
		Text    string `json:"text" jsonschema:"what to remember, in full sentences"`
		Title   string `json:"title,omitempty" jsonschema:"a short title (default: the first line of text)"`
		Project string `json:"project" jsonschema:"the project it belongs to"`
		Type    string `json:"type,omitempty" jsonschema:"bugfix, feature, refactor, change, discovery (default) or decision"`
	}
	noInput struct{}
)

const howToSearch = `Mnemo remembers past coding sessions as observations (ID, type, title, narrative, facts, files).
Use three steps, cheapest first, so you spend tokens only on what matters:
1. search(query, project, type, file, since) -> a compact index: IDs, types and titles (~50 tokens each).
2. timeline(anchor=ID) -> what happened just before and after one observation, to see it in context.
3. get_observations(ids=[...]) -> the full records (~500-1000 tokens each) of the few you need.
Start a session with session_start_context(project) for the latest summary and recent index.
Use save_memory(text, project) to keep a decision or fact for future sessions.
Filter by file= to find everything done to one file; by type=bugfix,decision for why things are as they are.`

// newMCPServer builds the MCP server whose tools call api.
func newMCPServer(api *mnemoAPI) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mnemo", Title: "Mnemo memory", Version: "0.1.0"}, &mcp.ServerOptions{
		Instructions: howToSearch,
	})
	text := func(b []byte) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "how_to_search", Description: "How to search Mnemo's memory efficiently: search -> timeline -> get_observations. Call this first if unsure."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, any, error) {
			return text([]byte(howToSearch)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "Step 1: search past observations. Returns a compact index (ID, type, title, project, time); fetch details with get_observations."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in searchIn) (*mcp.CallToolResult, any, error) {
			q := url.Values{}
			for k, v := range map[string]string{"q": in.Query, "project": in.Project, "type": in.Type, "file": in.File, "since": in.Since, "until": in.Until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if in.Limit != 0 {
				q.Set("limit", strconv.Itoa(in.Limit))
			}
			if in.Offset != 0 {
				q.Set("offset", strconv.Itoa(in.Offset))
			}
			b, err := api.call(ctx, http.MethodGet, "/v1/search?"+q.Encode(), nil)
			if err != nil {
				return nil, nil, err
			}
			return text(b), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "timeline", Description: "Step 2: the observations just before and after one observation (anchor = its ID), in time order."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in timelineIn) (*mcp.CallToolResult, any, error) {
			before, after := in.Before, in.After
			if before == 0 {
				before = 3
			}
			if after == 0 {
				after = 3
			}
			b, err := api.call(ctx, http.MethodGet, fmt.Sprintf("/v1/timeline?around=%d&before=%d&after=%d", in.Anchor, before, after), nil)
			if err != nil {
				return nil, nil, err
			}
			return text(b), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get_observations", Description: "Step 3: the full records (narrative, facts, files) of observations by ID."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in getObservationsIn) (*mcp.CallToolResult, any, error) {
			if len(in.IDs) == 0 {
				return nil, nil, fmt.Errorf("ids is required: observation IDs from search or timeline")
			}
			ids := make([]string, len(in.IDs))
			for i, id := range in.IDs {
				ids[i] = strconv.FormatInt(id, 10)
			}
			b, err := api.call(ctx, http.MethodGet, "/v1/observations?ids="+strings.Join(ids, ","), nil)
			if err != nil {
				return nil, nil, err
			}
			return text(b), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "session_start_context", Description: "The recent context of a project as injected at session start: latest summary and an index of recent observations."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in contextIn) (*mcp.CallToolResult, any, error) {
			q := url.Values{"project": {in.Project}}
			if in.Budget > 0 {
				q.Set("budget", strconv.Itoa(in.Budget))
			}
			b, err := api.call(ctx, http.MethodGet, "/v1/context?"+q.Encode(), nil)
			if err != nil {
				return nil, nil, err
			}
			var ans struct {
				Context string `json:"context"`
			}
			if err := json.Unmarshal(b, &ans); err != nil {
				return nil, nil, fmt.Errorf("context answer: %w", err)
			}
			return text([]byte(ans.Context)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "save_memory", Description: "Save a memory by hand (a decision, a fact, a convention) so future sessions find it."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in saveMemoryIn) (*mcp.CallToolResult, any, error) {
			b, err := api.call(ctx, http.MethodPost, "/v1/memories", in)
			if err != nil {
				return nil, nil, err
			}
			return text(b), nil, nil
		})
	return s
}

// runMCP serves MCP on stdin/stdout until the client closes it.
func runMCP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("mnemo mcp takes no arguments (configure with MNEMO_URL and MNEMO_TOKEN)")
	}
	t := &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}}
	return newMCPServer(newMnemoAPI()).Run(ctx, t)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
