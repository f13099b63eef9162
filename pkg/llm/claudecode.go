package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// claudeCLI runs the Claude Code CLI headless as one completion, so that the
// user's own Claude (their login, or ANTHROPIC_API_KEY) compresses. The run
// has no tools, one turn, no hooks, no MCP servers, no slash commands and
// no session file: the conversation state stays in Mnemo's store, and the
// run appears neither in Mnemo (its hooks are off, and the environment
// marker makes `mnemo hook` drop anything that still fires) nor in the
// user's `claude --resume` list.
type claudeCLI struct {
	path    string
	dir     string   // scratch working directory
	env     []string // added to the worker's environment
	timeout time.Duration
	slots   chan struct{} // at most cap(slots) runs at once
}

// observerSettings turns every hook off for the observer's run, the user's
// (Mnemo's own) included.
const observerSettings = `{"disableAllHooks":true}`

func newClaudeCLI(cfg Config) (*claudeCLI, error) {
	if cfg.CLIPath == "" {
		return nil, errors.New("llm: claude-code: no Claude Code CLI: install it (`npm install -g @anthropic-ai/claude-code`) or set MNEMO_CLAUDE_PATH")
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("llm: claude-code: no scratch directory for the CLI: set MNEMO_HOME")
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("llm: claude-code: scratch directory: %w", err)
	}
	c := &claudeCLI{path: cfg.CLIPath, dir: cfg.WorkDir, timeout: cfg.Timeout, slots: make(chan struct{}, cfg.Concurrency),
		env: []string{
			event.ObserverEnv + "=1",
			// No telemetry, update checks or session-title calls: the
			// observer spends tokens on observations only.
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			"CLAUDE_CODE_MAX_OUTPUT_TOKENS=" + strconv.Itoa(cfg.MaxTokens),
		}}
	if cfg.BaseURL != "" {
		c.env = append(c.env, "ANTHROPIC_BASE_URL="+cfg.BaseURL)
	}
	if cfg.APIKey != "" {
		c.env = append(c.env, "ANTHROPIC_API_KEY="+cfg.APIKey)
	}
	return c, nil
}

// cliResult is the CLI's `--output-format json` answer.
type cliResult struct {
	Type           string  `json:"type"`
	Subtype        string  `json:"subtype"`
	IsError        bool    `json:"is_error"`
	APIErrorStatus int     `json:"api_error_status"`
	Result         string  `json:"result"`
	TotalCostUSD   float64 `json:"total_cost_usd"`
	Usage          struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
	} `json:"usage"`
	// ModelUsage sums every request of the run, per model.
	ModelUsage map[string]struct {
		InputTokens              int64 `json:"inputTokens"`
		OutputTokens             int64 `json:"outputTokens"`
		CacheReadInputTokens     int64 `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int64 `json:"cacheCreationInputTokens"`
	} `json:"modelUsage"`
}

// cliPrompt renders a conversation as the one prompt a headless run takes:
// the earlier turns as a transcript, then the message to answer.
func cliPrompt(msgs []Message) string {
	if len(msgs) == 1 {
		return msgs[0].Content
	}
	var b strings.Builder
	b.WriteString("Earlier turns of this conversation, oldest first:\n")
	for _, m := range msgs[:len(msgs)-1] {
		fmt.Fprintf(&b, "<%s>\n%s\n</%s>\n", m.Role, m.Content, m.Role)
	}
	b.WriteString("\nAnswer this message:\n")
	b.WriteString(msgs[len(msgs)-1].Content)
	return b.String()
}

// once runs the CLI for one completion, waiting for a free slot first.
func (c *claudeCLI) once(ctx context.Context, model, system string, msgs []Message, maxTokens int) (reply, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
	defer func() { <-c.slots }()
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, c.path, "-p", "--output-format", "json",
		"--model", model, "--system-prompt", system,
		"--tools", "", "--max-turns", "1", "--no-session-persistence",
		"--settings", observerSettings, "--strict-mcp-config", "--disable-slash-commands",
		"--name", "mnemo-observer")
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(cliPrompt(msgs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &capped{b: &stdout, n: 8 << 20}, &capped{b: &stderr, n: 64 << 10}
	ownGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	// The parent-death signal is tied to the thread that forks: keep this
	// goroutine on it until the CLI is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err := cmd.Run()
	if cmd.Process != nil {
		_ = killGroup(cmd) // anything the CLI left behind
	}
	if rctx.Err() != nil && ctx.Err() == nil {
		return reply{}, fmt.Errorf("llm: claude-code: no answer within %s", c.timeout)
	}
	if ctx.Err() != nil {
		return reply{}, ctx.Err()
	}
	var res cliResult
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); jerr != nil || res.Type != "result" {
		why := strings.TrimSpace(stderr.String())
		if why == "" {
			why = strings.TrimSpace(stdout.String())
		}
		if err == nil {
			err = fmt.Errorf("not a JSON result (%v)", jerr)
		}
		return reply{}, fmt.Errorf("llm: claude-code: %s: %v: %s", c.path, err, clip(why, 300))
	}
	if res.IsError {
		status := res.APIErrorStatus
		if status == 0 {
			status = 500 // a run that failed without an API status: worth another try
		}
		return reply{}, &StatusError{Provider: ClaudeCode, Status: status, Body: clip(res.Subtype+": "+res.Result, 300)}
	}
	r := reply{Text: res.Result, CostUSD: res.TotalCostUSD}
	for _, u := range res.ModelUsage {
		r.InputTokens += u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
		r.OutputTokens += u.OutputTokens
	}
	if len(res.ModelUsage) == 0 {
		r.InputTokens = res.Usage.InputTokens + res.Usage.CacheReadInputTokens + res.Usage.CacheCreationInputTokens
		r.OutputTokens = res.Usage.OutputTokens
	}
	return r, nil
}

// capped keeps the first n bytes written and drops the rest, so a runaway
// CLI cannot fill the worker's memory.
type capped struct {
	b *bytes.Buffer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
