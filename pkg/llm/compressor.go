// Package llm turns a session's tool uses into observations and its stop into a
// summary. A Compressor is either an LLM provider (Anthropic, OpenAI-compatible,
// Gemini) or the offline extractive compressor that needs no LLM at all and is
// the default, so Mnemo works out of the box.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Session is what a compressor knows of the session it works for.
type Session struct {
	ID           string
	Project      string
	UserPrompt   string // the current prompt of the session
	PromptNumber int
}

// ToolUse is one tool use to compress, from one event.
type ToolUse struct {
	EventID    string
	AcceptedAt time.Time
	Tool       string
	Input      json.RawMessage
	Response   json.RawMessage
	Error      string
	Cwd        string
}

// Observation is a compressor's output, in claude-mem's schema.
type Observation struct {
	Type          string   `json:"type"`
	Title         string   `json:"title"`
	Subtitle      string   `json:"subtitle,omitempty"`
	Narrative     string   `json:"narrative,omitempty"`
	Facts         []string `json:"facts,omitempty"`
	Concepts      []string `json:"concepts,omitempty"`
	FilesRead     []string `json:"files_read,omitempty"`
	FilesModified []string `json:"files_modified,omitempty"`
	// SourceEventIDs are the events this observation came from.
	SourceEventIDs []string `json:"source_event_ids,omitempty"`
}

// Summary is a session summary in claude-mem's schema.
type Summary struct {
	Request      string `json:"request"`
	Investigated string `json:"investigated"`
	Learned      string `json:"learned"`
	Completed    string `json:"completed"`
	NextSteps    string `json:"next_steps"`
	Notes        string `json:"notes"`
}

// Empty reports whether a summary says nothing: every field blank. Such a
// summary is never stored.
func (s *Summary) Empty() bool {
	if s == nil {
		return true
	}
	for _, f := range []string{s.Request, s.Investigated, s.Learned, s.Completed, s.NextSteps, s.Notes} {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// Usage is the cost of one provider call.
type Usage struct {
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	InputBytes   int64
	// CostUSD is what the provider reported the call cost (0 when it does
	// not say).
	CostUSD float64
}

// ObserveRequest asks for observations of one or more consecutive tool uses.
type ObserveRequest struct {
	Session  Session
	ToolUses []ToolUse
	// State is the stored conversation state of the session (nil when new).
	State []byte
}

// ObserveResult holds the observations (possibly none: "nothing worth
// recording" is a valid answer), the usage and the new conversation state.
type ObserveResult struct {
	Observations []Observation
	Usage        []Usage
	State        []byte
}

// SummarizeRequest asks for the summary of a session at a stop.
type SummarizeRequest struct {
	Session              Session
	EventID              string
	LastUserMessage      string
	LastAssistantMessage string
	// Observations are the session's observations so far, oldest first.
	Observations []Observation
	State        []byte
}

// SummarizeResult holds the summary (nil when the compressor chose to skip
// it), the usage and the new conversation state.
type SummarizeResult struct {
	Summary *Summary
	Usage   []Usage
	State   []byte
}

// Compressor compresses events into memory.
type Compressor interface {
	// Name says which compressor this is, for logs and usage rows.
	Name() string
	Observe(ctx context.Context, r ObserveRequest) (ObserveResult, error)
	Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error)
}

// ErrPermanent marks a failure that retrying cannot fix (a 4xx other than
// 429, an answer that stays malformed): the event becomes a dead letter.
var ErrPermanent = errors.New("llm: permanent failure")
