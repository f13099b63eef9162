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

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
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
	authorize(req, a.token)
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

// Tool inputs. The jsonschema descriptions are what the model reads; the
// names are claude-mem's (docs/SEARCH.md), so its users' calls work as they
// are, and Mnemo's earlier names (since, until, before, after) still do.
type (
	searchIn struct {
		Query          string `json:"query,omitempty" jsonschema:"words to find (all must match; \"quoted phrase\", OR, -exclude work); empty lists newest first"`
		Type           string `json:"type,omitempty" jsonschema:"what to search: observations (default), sessions (their summaries) or prompts; an observation type here is read as obs_type"`
		ObsType        string `json:"obs_type,omitempty" jsonschema:"comma-separated observation types: bugfix, feature, refactor, change, discovery, decision"`
		Project        string `json:"project,omitempty" jsonschema:"only this project (the git repository name)"`
		DateStart      string `json:"dateStart,omitempty" jsonschema:"only from this time on (YYYY-MM-DD, RFC 3339 or epoch milliseconds)"`
		DateEnd        string `json:"dateEnd,omitempty" jsonschema:"only up to this time (a YYYY-MM-DD date includes that day)"`
		OrderBy        string `json:"orderBy,omitempty" jsonschema:"relevance (default with a query), date_desc (default without) or date_asc"`
		Limit          int    `json:"limit,omitempty" jsonschema:"results per page, 1-100 (default 20)"`
		Offset         int    `json:"offset,omitempty" jsonschema:"results to skip, for the next page"`
		PlatformSource string `json:"platformSource,omitempty" jsonschema:"only sessions of this agent (claude-code; claude is accepted for it)"`
		File           string `json:"file,omitempty" jsonschema:"only observations that read or modified this absolute path"`
		Since          string `json:"since,omitempty" jsonschema:"older name of dateStart"`
		Until          string `json:"until,omitempty" jsonschema:"older name of dateEnd, exclusive: only before this time"`
		Mode           string `json:"mode,omitempty" jsonschema:"hybrid (default when semantic search is on: words and meaning), text or semantic"`
	}
	timelineIn struct {
		Anchor      int64  `json:"anchor,omitempty" jsonschema:"the observation ID to center on (from search)"`
		Query       string `json:"query,omitempty" jsonschema:"instead of anchor: center on the best match of these words"`
		DepthBefore *int   `json:"depth_before,omitempty" jsonschema:"observations before it (default 3)"`
		DepthAfter  *int   `json:"depth_after,omitempty" jsonschema:"observations after it (default 3)"`
		Project     string `json:"project,omitempty" jsonschema:"with query: search only this project"`
		Before      *int   `json:"before,omitempty" jsonschema:"older name of depth_before"`
		After       *int   `json:"after,omitempty" jsonschema:"older name of depth_after"`
	}
	getObservationsIn struct {
		IDs     []int64 `json:"ids" jsonschema:"observation IDs (from search or timeline), at most 100"`
		OrderBy string  `json:"orderBy,omitempty" jsonschema:"date_desc or date_asc (default: ID order)"`
		Limit   int     `json:"limit,omitempty" jsonschema:"at most this many records"`
		Project string  `json:"project,omitempty" jsonschema:"only those of this project"`
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

// Tool outputs, also sent as MCP structured content.
type (
	// timelineOut is the compact timeline: the anchor and the index
	// entries around it, in time order.
	timelineOut struct {
		Anchor  int64              `json:"anchor"`
		Query   string             `json:"query,omitempty"`
		Results []query.IndexEntry `json:"results"`
	}
	observationsOut struct {
		Observations []store.Observation `json:"observations"`
	}
)

const howToSearch = `Mnemo remembers past coding sessions as observations (ID, type, title, narrative, facts, files),
session summaries and the user's prompts. Use three steps, cheapest first, so you spend tokens only on what matters:
1. search(query, type, obs_type, project, dateStart, dateEnd, orderBy, file) -> a compact index, one line per
   result: #ID, time, type, title (~50 tokens each). type=sessions searches summaries, type=prompts prompts.
2. timeline(anchor=ID or query=words, depth_before, depth_after) -> what happened just before and after, compact.
3. get_observations(ids=[...]) -> the full records (~500-1000 tokens each) of the few you need.
Start a session with session_start_context(project) for the latest summary and recent index.
Use save_memory(text, project) to keep a decision or fact for future sessions.
Filter by file= to find everything done to one file; by obs_type=bugfix,decision for why things are as they are.`

// newMCPServer builds the MCP server whose tools call api.
func newMCPServer(api *mnemoAPI) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mnemo", Title: "Mnemo memory", Version: bus.BuildVersion()}, &mcp.ServerOptions{
		Instructions: howToSearch,
	})
	text := func(t string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: t}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "how_to_search", Description: "How to search Mnemo's memory efficiently: search -> timeline -> get_observations. Call this first if unsure."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, any, error) {
			return text(howToSearch), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "Step 1: search past observations (or type=sessions / type=prompts). Returns a compact index, one line per result: #ID, time, type, title; fetch details with get_observations."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in searchIn) (*mcp.CallToolResult, query.SearchAnswer, error) {
			var ans query.SearchAnswer
			if err := api.getJSON(ctx, "/v1/search?"+in.values().Encode(), &ans); err != nil {
				return nil, ans, err
			}
			return text(searchText(ans, in.Query, time.Local)), ans, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "timeline", Description: "Step 2: the observations just before and after one (anchor = its ID, or query = the best match of words), compact, in time order."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in timelineIn) (*mcp.CallToolResult, timelineOut, error) {
			var ans query.TimelineAnswer
			if err := api.getJSON(ctx, "/v1/timeline?"+in.values().Encode(), &ans); err != nil {
				return nil, timelineOut{}, err
			}
			out := timelineOut{Anchor: ans.Anchor, Query: ans.Query, Results: ans.Index}
			return text(timelineText(out, time.Local)), out, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get_observations", Description: "Step 3: the full records (narrative, facts, files) of observations by ID."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in getObservationsIn) (*mcp.CallToolResult, observationsOut, error) {
			var out observationsOut
			if len(in.IDs) == 0 {
				return nil, out, fmt.Errorf("ids is required: observation IDs from search or timeline")
			}
			ids := make([]string, len(in.IDs))
			for i, id := range in.IDs {
				ids[i] = strconv.FormatInt(id, 10)
			}
			q := url.Values{"ids": {strings.Join(ids, ",")}}
			setNonEmpty(q, "orderBy", in.OrderBy)
			setNonEmpty(q, "project", in.Project)
			if in.Limit != 0 {
				q.Set("limit", strconv.Itoa(in.Limit))
			}
			if err := api.getJSON(ctx, "/v1/observations?"+q.Encode(), &out); err != nil {
				return nil, out, err
			}
			return text(observationsText(out.Observations, time.Local)), out, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "session_start_context", Description: "The recent context of a project as injected at session start: latest summary and an index of recent observations."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in contextIn) (*mcp.CallToolResult, any, error) {
			q := url.Values{"project": {in.Project}}
			if tz := hookcli.LocalZone(); tz != "" {
				q.Set("tz", tz) // times in the user's zone, as the hook's
			}
			if in.Budget > 0 {
				q.Set("budget", strconv.Itoa(in.Budget))
			}
			var ans struct {
				Context string `json:"context"`
			}
			if err := api.getJSON(ctx, "/v1/context?"+q.Encode(), &ans); err != nil {
				return nil, nil, err
			}
			return text(ans.Context), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "save_memory", Description: "Save a memory by hand (a decision, a fact, a convention) so future sessions find it."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in saveMemoryIn) (*mcp.CallToolResult, any, error) {
			b, err := api.call(ctx, http.MethodPost, "/v1/memories", in)
			if err != nil {
				return nil, nil, err
			}
			return text(string(b)), nil, nil
		})
	return s
}

// getJSON GETs path and decodes the answer into v.
func (a *mnemoAPI) getJSON(ctx context.Context, path string, v any) error {
	b, err := a.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("Mnemo's answer to %s: %w", path, err)
	}
	return nil
}

func setNonEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// values is the search as /v1/search's parameters.
func (in searchIn) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"query": in.Query, "type": in.Type, "obs_type": in.ObsType, "project": in.Project,
		"dateStart": in.DateStart, "dateEnd": in.DateEnd, "orderBy": in.OrderBy, "platformSource": in.PlatformSource,
		"file": in.File, "since": in.Since, "until": in.Until, "mode": in.Mode} {
		setNonEmpty(q, k, v)
	}
	if in.Limit != 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	if in.Offset != 0 {
		q.Set("offset", strconv.Itoa(in.Offset))
	}
	return q
}

// values is the timeline as /v1/timeline's parameters.
func (in timelineIn) values() url.Values {
	q := url.Values{}
	if in.Anchor != 0 {
		q.Set("anchor", strconv.FormatInt(in.Anchor, 10))
	}
	setNonEmpty(q, "query", in.Query)
	setNonEmpty(q, "project", in.Project)
	for k, v := range map[string]*int{"depth_before": in.DepthBefore, "depth_after": in.DepthAfter, "before": in.Before, "after": in.After} {
		if v != nil {
			q.Set(k, strconv.Itoa(*v))
		}
	}
	return q
}

// searchText is the compact index: a header, then one line per result.
func searchText(a query.SearchAnswer, text string, loc *time.Location) string {
	var b strings.Builder
	what := a.Type
	if text != "" {
		what += fmt.Sprintf(" matching %q", text)
	}
	if len(a.Results) == 0 {
		fmt.Fprintf(&b, "No %s (offset %d).", what, a.Offset)
		return b.String()
	}
	fmt.Fprintf(&b, "%d %s, by %s (offset %d):", len(a.Results), what, a.OrderBy, a.Offset)
	for _, e := range a.Results {
		b.WriteString("\n" + e.Line(loc))
	}
	return b.String()
}

// timelineText is the compact timeline: a header naming the anchor, then
// one line per observation in time order.
func timelineText(t timelineOut, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Timeline around #%d", t.Anchor)
	if t.Query != "" {
		fmt.Fprintf(&b, " (best match of %q)", t.Query)
	}
	b.WriteString(":")
	for _, e := range t.Results {
		b.WriteString("\n" + e.Line(loc))
	}
	return b.String()
}

// observationsText is the full records, one block each.
func observationsText(obs []store.Observation, loc *time.Location) string {
	if len(obs) == 0 {
		return "No such observations."
	}
	var b strings.Builder
	for i, o := range obs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "#%d %s %s %s\nProject: %s  Session: %s  Prompt: %d", o.ID, o.AcceptedAt.In(loc).Format("2006-01-02 15:04"),
			o.Type, o.Title, o.Project, o.SessionID, o.PromptNumber)
		if o.Subtitle != "" {
			b.WriteString("\n" + o.Subtitle)
		}
		if o.Narrative != "" {
			b.WriteString("\n\n" + o.Narrative)
		}
		for _, l := range []struct {
			name  string
			items []string
		}{{"Facts", o.Facts}, {"Concepts", o.Concepts}, {"Files read", o.FilesRead}, {"Files modified", o.FilesModified}} {
			if len(l.items) > 0 {
				fmt.Fprintf(&b, "\n%s:", l.name)
				for _, it := range l.items {
					b.WriteString("\n- " + it)
				}
			}
		}
	}
	return b.String()
}

// runMCP serves MCP on stdin/stdout until the client closes it.
func runMCP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && hookcli.IsHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: mnemo mcp\n\nServes Mnemo's MCP tools (search, timeline, get_observations, session_start_context,\nsave_memory) over stdio to an agent. Configure with MNEMO_URL (default "+defaultMnemoURL+") and MNEMO_TOKEN.")
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("mnemo mcp takes no arguments (configure with MNEMO_URL and MNEMO_TOKEN)")
	}
	t := &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}}
	return newMCPServer(newMnemoAPI()).Run(ctx, t)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
