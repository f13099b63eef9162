// Package event defines Mnemo's event envelope: the one shape every agent's hook
// payload is mapped onto before it enters the broker, with its validation rules,
// explicit size limits, IDs and privacy-tag stripping.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind says what happened in the agent session.
type Kind string

// The event kinds Mnemo understands (docs/ARCHITECTURE.md §3).
const (
	KindSessionStart Kind = "session_start"
	KindUserPrompt   Kind = "user_prompt"
	KindToolUse      Kind = "tool_use"
	KindStop         Kind = "stop"
	KindSessionEnd   Kind = "session_end"
)

// KindRecompress is an internal control event (`mnemo recompress`): the
// worker regenerates the session's memory from its stored events, in order
// with the rest. It is published by admins straight to the broker; ingest
// does not accept it from clients (it is not in Kinds).
const KindRecompress Kind = "recompress"

// Kinds lists every known kind in lifecycle order.
var Kinds = []Kind{KindSessionStart, KindUserPrompt, KindToolUse, KindStop, KindSessionEnd}

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Envelope is one agent event as it travels from the hook through ingest and the
// broker to the worker. Its JSON form is the wire format of POST /v1/events.
type Envelope struct {
	EventID   string    `json:"event_id"`
	SessionID string    `json:"session_id"`
	Project   string    `json:"project,omitempty"`
	Agent     string    `json:"agent,omitempty"`
	Kind      Kind      `json:"kind"`
	At        time.Time `json:"at"`
	Cwd       string    `json:"cwd,omitempty"`

	// PromptNumber is the hook's view of the prompt count; the worker keeps the
	// authoritative number per session.
	PromptNumber int `json:"prompt_number,omitempty"`
	// Prompt is the user's prompt text (user_prompt).
	Prompt string `json:"prompt,omitempty"`
	// PromptID is the agent's own ID of the prompt (user_prompt; Claude
	// Code's prompt_id): the store keeps one prompt per ID and session.
	PromptID string `json:"prompt_id,omitempty"`
	// Tool is the tool call (tool_use).
	Tool *Tool `json:"tool,omitempty"`

	LastUserMessage      string `json:"last_user_message,omitempty"`
	LastAssistantMessage string `json:"last_assistant_message,omitempty"`
	// Source is startup|resume|clear|compact for session_start, the end reason
	// for session_end, and "idle" for a stop synthesised by the reaper.
	Source string `json:"source,omitempty"`

	// Private marks an event of a turn whose prompt was entirely private: it is
	// recorded for ordering but never compressed into memory.
	Private bool `json:"private,omitempty"`
	// AgentID is set when the event came from inside a subagent.
	AgentID   string `json:"agent_id,omitempty"`
	AgentType string `json:"agent_type,omitempty"`
	// ReplayOf records the original event ID when a dead letter is replayed.
	ReplayOf string `json:"replay_of,omitempty"`
}

// Tool is one tool call with its input and (possibly truncated) response.
type Tool struct {
	Name     string          `json:"name"`
	UseID    string          `json:"use_id,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	// Error is set when the tool failed (PostToolUseFailure).
	Error string `json:"error,omitempty"`
	// Truncated is set when the hook cut the response to the size limit.
	Truncated bool `json:"truncated,omitempty"`
}

// Limits are the explicit size bounds of an envelope. Each is a config value;
// DefaultLimits holds the values of docs/ARCHITECTURE.md §3.
type Limits struct {
	Body         int // whole encoded envelope, bytes
	ToolResponse int // tool response after truncation, bytes
	ToolInput    int // tool input, bytes
	Prompt       int // prompt and last messages, bytes
	Field        int // short fields: project, agent, cwd, tool name, source, ids
}

// DefaultLimits are the limits of docs/ARCHITECTURE.md §3.
var DefaultLimits = Limits{
	Body:         1 << 20,
	ToolResponse: 256 << 10,
	ToolInput:    256 << 10,
	Prompt:       256 << 10,
	Field:        4096,
}

// MaxSessionIDLen bounds a session ID; it must also be one NATS subject token.
const MaxSessionIDLen = 128

// ObserverEnv is set (to "1") in the environment of Mnemo's own compressor
// runs of an agent CLI: a hook that sees it records nothing, so the
// observer's session never becomes memory of its own.
const ObserverEnv = "MNEMO_OBSERVER"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid event")

// ErrTooLarge is wrapped by validation errors about a size limit.
var ErrTooLarge = errors.New("event too large")

// FieldError names the field that failed validation and why.
type FieldError struct {
	Field  string
	Reason string
	// Kind is ErrInvalid or ErrTooLarge.
	Kind error
	// Missing is true when the field is required and absent.
	Missing bool
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap lets errors.Is match ErrInvalid or ErrTooLarge.
func (e *FieldError) Unwrap() error { return e.Kind }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Kind: ErrInvalid}
}

func missing(field string) error {
	return &FieldError{Field: field, Reason: "is required", Kind: ErrInvalid, Missing: true}
}

func tooLarge(field string, n, limit int) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf("is %d bytes, limit is %d", n, limit), Kind: ErrTooLarge}
}

// ValidSessionID reports whether id can be a session ID: one NATS subject token
// of [A-Za-z0-9_-], 1 to 128 characters.
func ValidSessionID(id string) bool {
	if len(id) == 0 || len(id) > MaxSessionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Validate checks the envelope against the limits. It returns a *FieldError
// wrapping ErrInvalid or ErrTooLarge for the first problem found.
func (e *Envelope) Validate(l Limits) error {
	validated.Add(1)
	if e.EventID == "" {
		return missing("event_id")
	}
	if !ValidEventID(e.EventID) {
		return invalid("event_id", "must be 1-64 characters of [A-Za-z0-9_-]")
	}
	if e.SessionID == "" {
		return missing("session_id")
	}
	if !ValidSessionID(e.SessionID) {
		return invalid("session_id", "must be one subject token: 1-%d characters of [A-Za-z0-9_-]", MaxSessionIDLen)
	}
	if e.Kind == "" {
		return missing("kind")
	}
	if !e.Kind.Valid() {
		return invalid("kind", "unknown kind %q (want one of session_start, user_prompt, tool_use, stop, session_end)", e.Kind)
	}
	if e.At.IsZero() {
		return missing("at")
	}
	if e.PromptNumber < 0 {
		return invalid("prompt_number", "must not be negative")
	}
	for _, f := range []struct {
		name, v string
	}{{"project", e.Project}, {"agent", e.Agent}, {"cwd", e.Cwd}, {"source", e.Source},
		{"agent_id", e.AgentID}, {"agent_type", e.AgentType}, {"replay_of", e.ReplayOf}, {"prompt_id", e.PromptID}} {
		if len(f.v) > l.Field {
			return tooLarge(f.name, len(f.v), l.Field)
		}
	}
	for _, f := range []struct {
		name, v string
	}{{"prompt", e.Prompt}, {"last_user_message", e.LastUserMessage}, {"last_assistant_message", e.LastAssistantMessage}} {
		if len(f.v) > l.Prompt {
			return tooLarge(f.name, len(f.v), l.Prompt)
		}
	}
	if e.Kind == KindToolUse {
		if e.Tool == nil {
			return missing("tool")
		}
		if e.Tool.Name == "" {
			return missing("tool.name")
		}
	}
	if e.Tool != nil {
		if len(e.Tool.Name) > l.Field {
			return tooLarge("tool.name", len(e.Tool.Name), l.Field)
		}
		if len(e.Tool.UseID) > l.Field {
			return tooLarge("tool.use_id", len(e.Tool.UseID), l.Field)
		}
		if len(e.Tool.Input) > l.ToolInput {
			return tooLarge("tool.input", len(e.Tool.Input), l.ToolInput)
		}
		if len(e.Tool.Response) > l.ToolResponse {
			return tooLarge("tool.response", len(e.Tool.Response), l.ToolResponse)
		}
		if len(e.Tool.Error) > l.Prompt {
			return tooLarge("tool.error", len(e.Tool.Error), l.Prompt)
		}
		if len(e.Tool.Input) > 0 && !json.Valid(e.Tool.Input) {
			return invalid("tool.input", "is not valid JSON")
		}
		if len(e.Tool.Response) > 0 && !json.Valid(e.Tool.Response) {
			return invalid("tool.response", "is not valid JSON")
		}
	}
	return nil
}

// ValidEventID reports whether id can be an event ID (and so a Nats-Msg-Id).
func ValidEventID(id string) bool {
	return len(id) <= 64 && ValidSessionID(id)
}

// Decode parses exactly one envelope; trailing data is an error. Unknown
// fields are ignored so that a newer hook can talk to an older ingest.
func Decode(data []byte) (*Envelope, error) {
	e, _, err := DecodeKnown(data)
	return e, err
}

// DecodeKnown is Decode that also reports whether data holds nothing but the
// envelope's own fields. Such a body means exactly what the envelope encoded
// again would mean, so ingest can store it as it came (when Sanitize changed
// nothing) instead of paying for a second encoding.
func DecodeKnown(data []byte) (e *Envelope, known bool, err error) {
	var exact Envelope
	if decodeOne(data, &exact, true) == nil {
		return &exact, true, nil
	}
	var lenient Envelope // an unknown field, or an error to report as Decode does
	if err := decodeOne(data, &lenient, false); err != nil {
		return nil, false, err
	}
	return &lenient, false, nil
}
