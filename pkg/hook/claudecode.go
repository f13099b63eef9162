package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// ErrSkip is wrapped (by a *SkipError) when an event is deliberately not
// recorded: it has no memory value, comes from a skipped tool or an excluded
// project, or repeats a prompt. Callers treat it as success.
var ErrSkip = errors.New("event not recorded")

// SkipError says why an event is not recorded. It unwraps to ErrSkip.
type SkipError struct {
	Reason string
}

func (e *SkipError) Error() string { return "event not recorded: " + e.Reason }

// Unwrap lets errors.Is(err, ErrSkip) match.
func (e *SkipError) Unwrap() error { return ErrSkip }

func skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// ErrUnknownEvent is returned for a hook event name this package does not know.
var ErrUnknownEvent = errors.New("unknown hook event")

// AgentClaudeCode is the envelope's agent name for Claude Code.
const AgentClaudeCode = "claude-code"

// DefaultSkipTools are the bookkeeping tools whose uses carry no memory value:
// claude-mem's CLAUDE_MEM_SKIP_TOOLS default plus Claude Code's task-list tools.
var DefaultSkipTools = []string{
	"ListMcpResourcesTool", "SlashCommand", "Skill", "TodoWrite", "AskUserQuestion",
	"TaskCreate", "TaskUpdate", "TaskList", "TaskGet",
}

// Options tune ClaudeCode. The zero value is usable.
type Options struct {
	// Agent is the envelope's agent name; default "claude-code".
	Agent string
	// Project names the project of a working directory; nil → the basename of
	// cwd. The hook CLI passes a ProjectNamer (git root, worktrees).
	Project func(cwd string) string
	// Now is the clock; nil → time.Now.
	Now func() time.Time
	// NewID makes the event ID; nil → a fresh ULID at Now (event.NewIDAt).
	NewID func() string
	// Limits bound the envelope; zero → event.DefaultLimits.
	Limits event.Limits
	// SkipTools are tool names (or path.Match globs such as "mcp__todo__*")
	// whose uses are not recorded; nil → DefaultSkipTools, empty → none.
	SkipTools []string
	// Exclude are path.Match globs matched against the project name and the
	// cwd; a match skips the event (MNEMO_EXCLUDED_PROJECTS).
	Exclude []string
	// State is the cross-process session state used for prompt dedupe and
	// private turns; nil → neither (each event is mapped on its own).
	State *State
}

func (o *Options) defaults() {
	if o.Agent == "" {
		o.Agent = AgentClaudeCode
	}
	if o.Project == nil {
		o.Project = BaseProject
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limits == (event.Limits{}) {
		o.Limits = event.DefaultLimits
	}
	if o.SkipTools == nil {
		o.SkipTools = DefaultSkipTools
	}
}

// BaseProject is the default project namer: the basename of cwd, or
// "unknown-project" when cwd has none.
func BaseProject(cwd string) string {
	if cwd == "" {
		return "unknown-project"
	}
	b := filepath.Base(filepath.Clean(cwd))
	if b == "." || b == "/" || b == string(filepath.Separator) || b == "" {
		return "unknown-project"
	}
	return b
}

// ClaudeCodePayload is the JSON a Claude Code hook gets on stdin: the common
// fields and every event-specific field this package reads. Unknown fields
// are ignored so that newer Claude Code versions keep working.
type ClaudeCodePayload struct {
	SessionID      string `json:"session_id"`
	TranscriptPath string `json:"transcript_path"`
	Cwd            string `json:"cwd"`
	HookEventName  string `json:"hook_event_name"`
	// PromptID is shared by all events of one user prompt.
	PromptID       string `json:"prompt_id"`
	PermissionMode string `json:"permission_mode"`
	// AgentID and AgentType are set inside a subagent.
	AgentID   string `json:"agent_id"`
	AgentType string `json:"agent_type"`

	Source string `json:"source"` // SessionStart
	Model  string `json:"model"`  // SessionStart
	Reason string `json:"reason"` // SessionEnd
	Prompt string `json:"prompt"` // UserPromptSubmit

	ToolName     string          `json:"tool_name"`
	ToolInput    json.RawMessage `json:"tool_input"`
	ToolResponse json.RawMessage `json:"tool_response"`
	ToolUseID    string          `json:"tool_use_id"`
	// Error is a string in PostToolUseFailure and StopFailure; kept raw so
	// that another JSON type does not make the whole payload unreadable.
	Error       json.RawMessage `json:"error"`
	IsInterrupt bool            `json:"is_interrupt"`

	StopHookActive       bool   `json:"stop_hook_active"`
	LastAssistantMessage string `json:"last_assistant_message"`
}

// ParseClaudeCode decodes a hook payload. A body that is not one JSON object
// wraps event.ErrMalformed; a field of the wrong type is an *event.FieldError.
func ParseClaudeCode(payload []byte) (*ClaudeCodePayload, error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: the hook payload is not a JSON object", event.ErrMalformed)
	}
	var p ClaudeCodePayload
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, &event.FieldError{Field: typeErr.Field, Reason: "has the wrong type: want " + typeErr.Type.String(), Kind: event.ErrInvalid}
		}
		return nil, fmt.Errorf("%w: %v", event.ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", event.ErrMalformed)
	}
	return &p, nil
}

// eventRule says what one Claude Code hook event becomes.
type eventRule struct {
	kind event.Kind // "" → skipped
	skip string     // why it is skipped
}

// claudeCodeEvents lists every hook event of Claude Code 2.1.197 (the package
// doc has the same table with the reasons).
var claudeCodeEvents = map[string]eventRule{
	"SessionStart":       {kind: event.KindSessionStart},
	"UserPromptSubmit":   {kind: event.KindUserPrompt},
	"PostToolUse":        {kind: event.KindToolUse},
	"PostToolUseFailure": {kind: event.KindToolUse},
	"Stop":               {kind: event.KindStop},
	"StopFailure":        {kind: event.KindStop},
	"SessionEnd":         {kind: event.KindSessionEnd},

	"PreToolUse":          {skip: "PreToolUse is recorded by its PostToolUse (the hook CLI uses it only for the file-read gate)"},
	"PostToolBatch":       {skip: "PostToolBatch repeats the batch's PostToolUse events as model-facing text"},
	"UserPromptExpansion": {skip: "UserPromptExpansion is followed by UserPromptSubmit with the raw prompt"},
	"PermissionRequest":   {skip: "PermissionRequest has no memory value"},
	"PermissionDenied":    {skip: "PermissionDenied has no memory value"},
	"Notification":        {skip: "Notification has no memory value"},
	"SubagentStart":       {skip: "SubagentStart has no memory value (the subagent's tool uses are recorded)"},
	"SubagentStop":        {skip: "SubagentStop is not summarized (the Agent tool's PostToolUse carries its result)"},
	"PreCompact":          {skip: "PreCompact has no memory value"},
	"PostCompact":         {skip: "PostCompact repeats the conversation (SessionStart source=compact is recorded)"},
	"InstructionsLoaded":  {skip: "InstructionsLoaded has no memory value"},
	"Setup":               {skip: "Setup has no memory value"},
	"ConfigChange":        {skip: "ConfigChange has no memory value"},
	"FileChanged":         {skip: "FileChanged has no memory value"},
	"CwdChanged":          {skip: "CwdChanged has no memory value"},
	"TaskCreated":         {skip: "TaskCreated is task-list bookkeeping"},
	"TaskCompleted":       {skip: "TaskCompleted is task-list bookkeeping"},
	"TeammateIdle":        {skip: "TeammateIdle has no memory value"},
	"Elicitation":         {skip: "Elicitation is recorded by the MCP tool's PostToolUse"},
	"ElicitationResult":   {skip: "ElicitationResult is recorded by the MCP tool's PostToolUse"},
	"WorktreeCreate":      {skip: "WorktreeCreate has no memory value"},
	"WorktreeRemove":      {skip: "WorktreeRemove has no memory value"},
	"MessageDisplay":      {skip: "MessageDisplay is display-only (Stop carries the final message)"},
}

// ClaudeCodeEvents returns the names of every Claude Code hook event this
// package knows, recorded or skipped.
func ClaudeCodeEvents() []string {
	out := make([]string, 0, len(claudeCodeEvents))
	for n := range claudeCodeEvents {
		out = append(out, n)
	}
	return out
}

// ClaudeCode maps one Claude Code hook payload to a sanitized, truncated and
// validated envelope. eventName is the hook event (the CLI argument or the
// URL segment); when empty the payload's hook_event_name is used.
//
// Errors: a *SkipError (errors.Is ErrSkip) for an event deliberately not
// recorded; ErrUnknownEvent for an unknown event name; event.ErrMalformed
// for a body that is not a JSON object; an *event.FieldError for a missing
// or invalid field (session_id first) or a limit the envelope still breaks.
func ClaudeCode(eventName string, payload []byte, o Options) (*event.Envelope, error) {
	o.defaults()
	p, err := ParseClaudeCode(payload)
	if err != nil {
		return nil, err
	}
	if eventName == "" {
		eventName = p.HookEventName
	}
	if eventName == "" {
		return nil, &event.FieldError{Field: "hook_event_name", Reason: "is required", Kind: event.ErrInvalid, Missing: true}
	}
	rule, ok := claudeCodeEvents[eventName]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEvent, eventName)
	}
	if p.HookEventName != "" && p.HookEventName != eventName {
		return nil, &event.FieldError{Field: "hook_event_name",
			Reason: fmt.Sprintf("is %q but the hook was called for %q", p.HookEventName, eventName), Kind: event.ErrInvalid}
	}
	if p.SessionID == "" {
		return nil, &event.FieldError{Field: "session_id", Reason: "is required", Kind: event.ErrInvalid, Missing: true}
	}
	if !event.ValidSessionID(p.SessionID) {
		return nil, &event.FieldError{Field: "session_id",
			Reason: fmt.Sprintf("must be one subject token: 1-%d characters of [A-Za-z0-9_-]", event.MaxSessionIDLen), Kind: event.ErrInvalid}
	}
	if rule.kind == "" {
		return nil, skip("%s", rule.skip)
	}
	return mapClaudeCode(eventName, rule.kind, p, &o)
}

func mapClaudeCode(eventName string, kind event.Kind, p *ClaudeCodePayload, o *Options) (*event.Envelope, error) {
	project := o.Project(p.Cwd)
	if g := Excluded(o.Exclude, project, p.Cwd); g != "" {
		return nil, skip("project %q is excluded by %q", project, g)
	}
	at := o.Now()
	e := &event.Envelope{
		SessionID: p.SessionID,
		Project:   project,
		Agent:     o.Agent,
		Kind:      kind,
		At:        at,
		Cwd:       p.Cwd,
		AgentID:   p.AgentID,
		AgentType: p.AgentType,
	}
	turnPrivate := false
	switch eventName {
	case "SessionStart":
		e.Source = p.Source
		if o.State != nil {
			o.State.Sweep(at)
		}
	case "SessionEnd":
		e.Source = p.Reason
		if o.State != nil {
			o.State.Forget(p.SessionID)
		}
	case "UserPromptSubmit":
		if isTaskNotification(p.Prompt) {
			return nil, skip("the prompt is only a <task-notification>")
		}
		e.Prompt, e.PromptID = p.Prompt, p.PromptID
		if o.State != nil {
			dup, err := o.State.Prompt(p.SessionID, p.PromptID, p.Prompt, at)
			if err == nil && dup {
				return nil, skip("the same prompt was sent within %s", o.State.window())
			}
		}
	case "PostToolUse", "PostToolUseFailure":
		if g := matchAny(o.SkipTools, p.ToolName); g != "" {
			return nil, skip("tool %q is skipped (%q)", p.ToolName, g)
		}
		e.Tool = &event.Tool{Name: p.ToolName, UseID: p.ToolUseID, Input: rawOrNil(p.ToolInput)}
		if eventName == "PostToolUse" {
			e.Tool.Response = rawOrNil(p.ToolResponse)
		} else {
			e.Tool.Error = rawText(p.Error)
			if e.Tool.Error == "" && p.IsInterrupt {
				e.Tool.Error = "interrupted"
			}
			if e.Tool.Error == "" {
				e.Tool.Error = "failed"
			}
		}
		turnPrivate = o.State != nil && o.State.PrivateTurn(p.SessionID, p.PromptID)
	case "Stop":
		if p.StopHookActive {
			return nil, skip("Stop with stop_hook_active continues a turn another Stop hook blocked")
		}
		if p.AgentID != "" {
			return nil, skip("a subagent's Stop is not summarized")
		}
		e.LastAssistantMessage = p.LastAssistantMessage
		turnPrivate = o.State != nil && o.State.PrivateTurn(p.SessionID, p.PromptID)
	case "StopFailure":
		// The turn ended on an API error: still a stop (its tool uses deserve a
		// summary), but the synthetic "API Error: …" text is no assistant message.
		if p.AgentID != "" {
			return nil, skip("a subagent's StopFailure is not summarized")
		}
		e.Source = "error"
		turnPrivate = o.State != nil && o.State.PrivateTurn(p.SessionID, p.PromptID)
	}
	if turnPrivate {
		// The turn's prompt was entirely private: the event is recorded for
		// ordering, without any content (the worker never remembers it).
		e.Private = true
		e.LastAssistantMessage = ""
		if e.Tool != nil {
			e.Tool = &event.Tool{Name: e.Tool.Name, UseID: e.Tool.UseID}
		}
	}
	e.Sanitize()
	e.Fit(o.Limits)
	if o.NewID != nil {
		e.EventID = o.NewID()
	} else {
		e.EventID = event.NewIDAt(at)
	}
	if err := e.Validate(o.Limits); err != nil {
		return nil, err
	}
	return e, nil
}

// rawOrNil drops an absent or null JSON value.
func rawOrNil(r json.RawMessage) json.RawMessage {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

// rawText turns a JSON value into text: a string is unquoted, anything else
// is kept as its JSON.
func rawText(r json.RawMessage) string {
	r = rawOrNil(r)
	if r == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s
	}
	return string(r)
}

// isTaskNotification reports whether a prompt is only a <task-notification>
// (a background task's report, not something the user typed).
func isTaskNotification(s string) bool {
	t := strings.TrimSpace(s)
	return strings.HasPrefix(t, "<task-notification>") && strings.HasSuffix(t, "</task-notification>")
}

// matchAny returns the first pattern (exact name or path.Match glob) that
// matches name, or "".
func matchAny(patterns []string, name string) string {
	for _, g := range patterns {
		if g == name {
			return g
		}
		if strings.ContainsAny(g, "*?[") {
			if ok, err := path.Match(g, name); err == nil && ok {
				return g
			}
		}
	}
	return ""
}

// Excluded returns the first glob (path.Match) that matches the project name,
// the cwd or, for a glob holding a '/', a directory above the cwd (so that
// "/home/dev/secret" or "/home/dev/clients/*" also excludes their
// subdirectories).
// It returns "" when the project is tracked.
func Excluded(globs []string, project, cwd string) string {
	for _, g := range globs {
		if g == "" {
			continue
		}
		if matchAny([]string{g}, project) != "" {
			return g
		}
		if cwd == "" {
			continue
		}
		dir := filepath.ToSlash(filepath.Clean(cwd))
		for {
			if matchAny([]string{g}, dir) != "" {
				return g
			}
			if !strings.Contains(g, "/") {
				break
			}
			parent := path.Dir(dir)
			if parent == dir || parent == "." {
				break
			}
			dir = parent
		}
	}
	return ""
}

// ParseExcluded splits a MNEMO_EXCLUDED_PROJECTS value (comma-separated
// globs) into its globs, dropping blanks. A leading "~/" stands for the
// user's home directory.
func ParseExcluded(v string) []string {
	var out []string
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		if rest, ok := strings.CutPrefix(g, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				g = filepath.ToSlash(filepath.Join(home, rest))
			}
		}
		if g != "" {
			out = append(out, g)
		}
	}
	return out
}
