package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Config configures an LLM compressor.
type Config struct {
	Provider string // anthropic | openai | gemini | claude-code
	Model    string
	// CheapModel serves batches made only of read-only tools (Read, Grep,
	// Glob, LS); empty uses Model.
	CheapModel string
	BaseURL    string
	APIKey     string
	// Timeout bounds one HTTP call or CLI run; Attempts bounds the tries on
	// 429/5xx.
	Timeout  time.Duration
	Attempts int
	// Backoff is the first wait between tries (doubling, with jitter);
	// MaxWait caps one wait, a Retry-After included.
	Backoff, MaxWait time.Duration
	// MaxTokens bounds an answer.
	MaxTokens int
	// HistoryBytes bounds the conversation state carried between calls.
	HistoryBytes int
	// ToolBytes bounds each tool input and response sent to the model.
	ToolBytes int
	// CLIPath is the Claude Code executable the claude-code provider runs.
	CLIPath string
	// WorkDir is the scratch directory the CLI runs in ($MNEMO_HOME/observer).
	WorkDir string
	// Concurrency bounds the CLI processes one compressor runs at once.
	Concurrency int
}

// ClaudeCode is the provider that runs the user's own Claude Code CLI.
const ClaudeCode = "claude-code"

// defaultBase are the providers' public endpoints.
var defaultBase = map[string]string{
	"anthropic": "https://api.anthropic.com",
	"openai":    "https://api.openai.com/v1",
	"gemini":    "https://generativelanguage.googleapis.com",
}

var defaultModel = map[string]string{
	"anthropic": "claude-haiku-4-5",
	"openai":    "gpt-4o-mini",
	"gemini":    "gemini-2.5-flash",
	ClaudeCode:  "haiku",
}

// Model is a Compressor backed by an LLM provider.
type Model struct {
	cfg Config
	c   *caller
}

// New returns the compressor for cfg, or an error saying what to set.
func New(cfg Config) (*Model, error) {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Model == "" {
		cfg.Model = defaultModel[cfg.Provider]
	}
	if cfg.CheapModel == "" {
		cfg.CheapModel = cfg.Model
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
		if cfg.Provider == ClaudeCode {
			cfg.Timeout = 3 * time.Minute // the CLI starts, then calls the model
		}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 4096
	}
	if cfg.HistoryBytes <= 0 {
		cfg.HistoryBytes = 12 << 10
	}
	if cfg.ToolBytes <= 0 {
		cfg.ToolBytes = 6 << 10
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	var try attempt
	if cfg.Provider == ClaudeCode {
		cli, err := newClaudeCLI(cfg)
		if err != nil {
			return nil, err
		}
		try = cli.once
	} else {
		var t transport
		if cfg.BaseURL == "" {
			cfg.BaseURL = defaultBase[cfg.Provider]
		}
		switch cfg.Provider {
		case "anthropic":
			t = anthropic{base: cfg.BaseURL, key: cfg.APIKey}
		case "openai":
			t = openAI{base: cfg.BaseURL, key: cfg.APIKey}
		case "gemini":
			t = gemini{base: cfg.BaseURL, key: cfg.APIKey}
		default:
			return nil, fmt.Errorf("llm: provider %q: want anthropic, openai, gemini or claude-code", cfg.Provider)
		}
		if cfg.APIKey == "" && cfg.Provider != "openai" { // local OpenAI-compatible servers need none
			return nil, fmt.Errorf("llm: no API key for %s: set MNEMO_LLM_API_KEY", cfg.Provider)
		}
		try = httpCall{t: t, client: &http.Client{Timeout: cfg.Timeout}}.once
	}
	return &Model{cfg: cfg, c: &caller{name: cfg.Provider, try: try, attempts: cfg.Attempts, backoff: cfg.Backoff, maxWait: cfg.MaxWait}}, nil
}

// Name is provider/model.
func (m *Model) Name() string { return m.cfg.Provider + "/" + m.cfg.Model }

// systemPrompt is Mnemo's observer prompt: it asks for observations in
// claude-mem's schema, as strict JSON, and allows "nothing worth recording".
const systemPrompt = `You are Mnemo's memory observer. A developer works with a coding agent; you watch the agent's tool uses and record what future sessions should remember: what was learned, decided, changed or fixed, and why.

Answer with one JSON object and nothing else.
For tool uses, answer {"observations": [...]}, each observation:
  {"type": one of "bugfix","feature","refactor","change","discovery","decision", or, for security, "security_alert" (a risk to act on: an exposed secret, a vulnerability), "security_note" (a security-relevant fact or practice), "sensitive" (the tool use touched private or sensitive data; record that it did, never the data),
   "title": a short, specific title (under 80 characters),
   "subtitle": one sentence of context,
   "narrative": 2-4 sentences: what happened and why it matters,
   "facts": short standalone facts (file paths, commands, values),
   "concepts": a few of "how-it-works","why-it-exists","what-changed","problem-solution","gotcha","pattern","trade-off",
   "files_read": absolute paths read, "files_modified": absolute paths changed,
   "source_event_ids": the event_id values of the tool uses this observation is about}
Merge related tool uses into one observation. Routine, uninformative tool uses (listing files, re-reading, trivial commands) deserve none: {"observations": []} is a valid answer.
For a session stop, answer {"summary": {"request","investigated","learned","completed","next_steps","notes"}}, each a short paragraph (empty string when nothing fits), or {"summary": null} when the session did nothing worth summarizing.
Never include secrets, tokens or passwords.`

var readOnlyTools = []string{"Read", "Grep", "Glob", "LS", "NotebookRead"}

func (m *Model) modelFor(uses []ToolUse) string {
	for _, u := range uses {
		if !slices.Contains(readOnlyTools, u.Tool) {
			return m.cfg.Model
		}
	}
	return m.cfg.CheapModel
}

// Observe asks for the observations of a batch of tool uses in one call.
func (m *Model) Observe(ctx context.Context, r ObserveRequest) (ObserveResult, error) {
	type toolJSON struct {
		EventID  string          `json:"event_id"`
		Tool     string          `json:"tool"`
		Input    json.RawMessage `json:"input,omitempty"`
		Response json.RawMessage `json:"response,omitempty"`
		Error    string          `json:"error,omitempty"`
		Cwd      string          `json:"cwd,omitempty"`
	}
	uses := make([]toolJSON, len(r.ToolUses))
	known := map[string]bool{}
	for i, u := range r.ToolUses {
		uses[i] = toolJSON{EventID: u.EventID, Tool: u.Tool, Input: fitJSON(u.Input, m.cfg.ToolBytes),
			Response: fitJSON(u.Response, m.cfg.ToolBytes), Error: clip(u.Error, m.cfg.ToolBytes), Cwd: u.Cwd}
		known[u.EventID] = true
	}
	b, _ := json.Marshal(map[string]any{"project": r.Session.Project, "user_prompt": clip(r.Session.UserPrompt, 2000), "tool_uses": uses})
	prompt := "Tool uses to observe:\n" + string(b)
	var out struct {
		Observations []Observation `json:"observations"`
	}
	validate := func() error {
		for i, o := range out.Observations {
			if err := event.CheckObservationType(o.Type); err != nil { // an open set (docs/ARCHITECTURE.md §17)
				return fmt.Errorf("observations[%d].%w", i, err)
			}
			if strings.TrimSpace(o.Title) == "" {
				return fmt.Errorf("observations[%d].title is empty", i)
			}
			if len(o.SourceEventIDs) == 0 {
				return fmt.Errorf("observations[%d].source_event_ids is empty", i)
			}
			for _, id := range o.SourceEventIDs {
				if !known[id] {
					return fmt.Errorf("observations[%d].source_event_ids names %q, which is not one of the tool uses", i, id)
				}
			}
		}
		return nil
	}
	usage, state, err := m.converse(ctx, m.modelFor(r.ToolUses), r.State, prompt, &out, validate)
	if err != nil {
		return ObserveResult{}, err
	}
	return ObserveResult{Observations: out.Observations, Usage: usage, State: state}, nil
}

// Summarize asks for the session summary at a stop.
func (m *Model) Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error) {
	type obsJSON struct {
		Type, Title string
	}
	var obs []obsJSON
	for _, o := range r.Observations {
		obs = append(obs, obsJSON{o.Type, o.Title})
	}
	b, _ := json.Marshal(map[string]any{"project": r.Session.Project, "user_prompt": clip(r.Session.UserPrompt, 2000),
		"last_assistant_message": clip(r.LastAssistantMessage, 4000), "observations": obs})
	var out struct {
		Summary *Summary `json:"summary"`
	}
	usage, state, err := m.converse(ctx, m.cfg.Model, r.State, "The session stopped. Summarize it:\n"+string(b), &out, func() error { return nil })
	if err != nil {
		return SummarizeResult{}, err
	}
	return SummarizeResult{Summary: out.Summary, Usage: usage, State: state}, nil
}

// converse sends the prompt after the stored history, parses the answer into
// out strictly, and on a malformed answer asks once more with the parse
// error; a second malformed answer is permanent (a dead letter), never
// silently dropped. It returns the usage of every call and the new state.
func (m *Model) converse(ctx context.Context, model string, state []byte, prompt string, out any, validate func() error) ([]Usage, []byte, error) {
	var history []Message
	if len(state) > 0 {
		_ = json.Unmarshal(state, &history) // a state from another provider or version starts afresh
	}
	msgs := append(slices.Clone(history), Message{Role: "user", Content: prompt})
	var usage []Usage
	for attempt := 1; ; attempt++ {
		r, err := m.c.complete(ctx, model, systemPrompt, msgs, m.cfg.MaxTokens)
		if err != nil {
			return usage, nil, err
		}
		usage = append(usage, Usage{Provider: m.cfg.Provider, Model: model, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
			InputBytes: int64(len(systemPrompt) + msgBytes(msgs)), CostUSD: r.CostUSD})
		perr := parseAnswer(r.Text, out)
		if perr == nil {
			perr = validate()
		}
		if perr == nil {
			history = append(history, Message{Role: "user", Content: prompt}, Message{Role: "assistant", Content: r.Text})
			return usage, trimHistory(history, m.cfg.HistoryBytes), nil
		}
		if attempt == 2 {
			return usage, nil, fmt.Errorf("%w: %s answered malformed JSON twice: %v", ErrPermanent, m.cfg.Provider, perr)
		}
		msgs = append(msgs, Message{Role: "assistant", Content: r.Text},
			Message{Role: "user", Content: "Your answer could not be used: " + perr.Error() + ". Answer again with only the JSON object, in the schema given."})
	}
}

// parseAnswer decodes the JSON object of an answer, tolerating a Markdown
// code fence around it but nothing else, and rejecting unknown fields.
func parseAnswer(text string, out any) error {
	s := strings.TrimSpace(text)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	if s == "" {
		return errors.New("the answer is empty")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("not the JSON object asked for: %v", err)
	}
	if dec.More() {
		return errors.New("text after the JSON object")
	}
	return nil
}

func msgBytes(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Content)
	}
	return n
}

// trimHistory keeps the newest exchanges within max bytes (SessionManager's
// conversationHistory, bounded so a long session does not grow every call).
func trimHistory(h []Message, max int) []byte {
	for len(h) > 2 && msgBytes(h) > max {
		h = h[2:]
	}
	if msgBytes(h) > max {
		h = nil
	}
	b, _ := json.Marshal(h)
	return b
}

// fitJSON keeps raw within n bytes, as a JSON string of its head when cut.
func fitJSON(raw json.RawMessage, n int) json.RawMessage {
	if len(raw) <= n {
		return raw
	}
	b, _ := json.Marshal(clip(string(raw), n) + " …[truncated]")
	return b
}
