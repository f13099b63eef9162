// Package store is Mnemo's memory store: sessions, prompts, observations,
// summaries and the bookkeeping that makes the worker's writes exactly-once
// (applied events, per-session cursors and fences). Two databases sit behind
// this interface, one logic (sqlStore, over a thin driver each) and one
// conformance suite (storetest): SQLite, the embedded default, and
// PostgreSQL, the store many machines share (docs/ARCHITECTURE.md §8). Redis
// and NATS hold nothing canonical; this does.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Observation types: an open set checked for its shape in one place,
// pkg/event (docs/ARCHITECTURE.md §17); these are claude-mem's code mode's.
const (
	TypeBugfix        = event.TypeBugfix
	TypeFeature       = event.TypeFeature
	TypeRefactor      = event.TypeRefactor
	TypeChange        = event.TypeChange
	TypeDiscovery     = event.TypeDiscovery
	TypeDecision      = event.TypeDecision
	TypeSecurityAlert = event.TypeSecurityAlert
	TypeSecurityNote  = event.TypeSecurityNote
	TypeSensitive     = event.TypeSensitive
)

// ObservationTypes lists claude-mem's code mode's types; others of the same
// shape are valid too.
var ObservationTypes = event.ObservationTypes

// ValidType reports whether t is an observation type (event.CheckObservationType).
func ValidType(t string) bool { return event.ValidObservationType(t) }

// Session statuses.
const (
	StatusActive    = "active"
	StatusCompleted = "completed"
	StatusAborted   = "aborted"
)

// Field limits enforced by every implementation (ErrInvalid beyond them).
const (
	MaxIDLen    = 128
	MaxShortLen = 4096      // project, agent, cwd, title, subtitle, provider, model, each list item
	MaxTextLen  = 256 << 10 // narrative, prompt text, summary fields
	MaxListLen  = 256       // items in facts, concepts, files
)

// Session is one agent session.
type Session struct {
	ID          string     `json:"id"`
	Project     string     `json:"project"`
	Agent       string     `json:"agent"`
	Cwd         string     `json:"cwd"`
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	LastEventAt time.Time  `json:"last_event_at"`
	PromptCount int        `json:"prompt_count"`
}

// SessionUpdate creates a session or updates it. Empty strings and zero times
// leave the stored value unchanged; a new session takes StartedAt (or the
// unit's first event time) and status active.
type SessionUpdate struct {
	Project     string
	Agent       string
	Cwd         string
	Status      string     // "" keeps the status
	StartedAt   time.Time  // used when the session is created
	EndedAt     *time.Time // set with Status completed or aborted
	LastEventAt time.Time
}

// Prompt is one user prompt of a session.
type Prompt struct {
	SessionID string    `json:"session_id"`
	Number    int       `json:"number"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	// Private marks a prompt that was entirely private: Text is empty and the
	// turn's tool uses are not compressed.
	Private bool `json:"private,omitempty"`
	// PromptID is the agent's own ID of the prompt (Claude Code's
	// prompt_id), when it sends one: Apply stores a prompt ID once per
	// session. A prompt without one is a repeat when its text is the
	// session's latest prompt's.
	PromptID string `json:"prompt_id,omitempty"`
}

// Observation is one compressed memory of what happened in a session.
type Observation struct {
	ID            int64    `json:"id"`
	SessionID     string   `json:"session_id"`
	Project       string   `json:"project"`
	Type          string   `json:"type"`
	Title         string   `json:"title"`
	Subtitle      string   `json:"subtitle,omitempty"`
	Narrative     string   `json:"narrative,omitempty"`
	Facts         []string `json:"facts"`
	Concepts      []string `json:"concepts"`
	FilesRead     []string `json:"files_read"`
	FilesModified []string `json:"files_modified"`
	PromptNumber  int      `json:"prompt_number"`
	// AcceptedAt is the accept time (broker timestamp) of the earliest source
	// event: the time it happened, not the time it was processed.
	AcceptedAt     time.Time `json:"accepted_at"`
	SourceEventIDs []string  `json:"source_event_ids"`
	CreatedAt      time.Time `json:"created_at"`
	// DiscoveryTokens are the LLM input tokens spent producing this
	// observation: its share of its batch's input (0 offline).
	DiscoveryTokens int64 `json:"discovery_tokens"`
}

// Summary is the summary of a session (claude-mem's session_summaries).
type Summary struct {
	ID             int64     `json:"id"`
	SessionID      string    `json:"session_id"`
	Project        string    `json:"project"`
	Request        string    `json:"request"`
	Investigated   string    `json:"investigated"`
	Learned        string    `json:"learned"`
	Completed      string    `json:"completed"`
	NextSteps      string    `json:"next_steps"`
	Notes          string    `json:"notes"`
	PromptNumber   int       `json:"prompt_number"`
	AcceptedAt     time.Time `json:"accepted_at"`
	SourceEventIDs []string  `json:"source_event_ids"`
	CreatedAt      time.Time `json:"created_at"`
	// LastAssistantMessage is the agent's last message at the stop this
	// summary is of (the context's "Previously").
	LastAssistantMessage string `json:"last_assistant_message,omitempty"`
}

// AppliedEvent records that a stream message was applied to the store.
type AppliedEvent struct {
	EventID    string    `json:"event_id"`
	Seq        uint64    `json:"seq"` // stream sequence in MNEMO_EVENTS
	Kind       string    `json:"kind"`
	AcceptedAt time.Time `json:"accepted_at"`
	// Dead marks an event given up on: recorded so the cursor moves past it,
	// with a DeadLetter row in the same unit saying why.
	Dead bool `json:"dead,omitempty"`
	// ToolUseID is the agent's ID of the tool use the event reports. Apply
	// claims it for the session; a later event of the session with the
	// same tool use is recorded but its observations are not written.
	ToolUseID string `json:"tool_use_id,omitempty"`
}

// Cursor is a session's position in the stream and its write fence.
type Cursor struct {
	SessionID string `json:"session_id"`
	LastSeq   uint64 `json:"last_seq"`
	Fence     int64  `json:"fence"`
}

// LLMUsage is the token cost of one LLM call.
type LLMUsage struct {
	SessionID    string    `json:"session_id"`
	Project      string    `json:"project"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	InputTokens  int64     `json:"input_tokens"`
	OutputTokens int64     `json:"output_tokens"`
	At           time.Time `json:"at"`
	CostUSD      float64   `json:"cost_usd"` // what the provider said the call cost; 0 when it does not say (only the Claude Code CLI does)
}

// DeadLetter is an event Mnemo gave up on, with why.
type DeadLetter struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	SessionID  string    `json:"session_id"`
	Seq        uint64    `json:"seq"`
	Reason     string    `json:"reason"`
	Deliveries int       `json:"deliveries"`
	Payload    []byte    `json:"payload,omitempty"` // the original envelope JSON
	At         time.Time `json:"at"`
	ReplayedAs string    `json:"replayed_as,omitempty"` // new event ID once replayed
}

// Conversation is the LLM conversation state of one session, so that another
// worker or another provider continues it (claude-mem's conversationHistory).
type Conversation struct {
	SessionID string    `json:"session_id"`
	Provider  string    `json:"provider"`
	State     []byte    `json:"state"` // provider-neutral JSON
	UpdatedAt time.Time `json:"updated_at"`
}

// Unit is one atomic write of the worker: the effect of one or more
// consecutive events of one session.
type Unit struct {
	SessionID string
	// Fence is the lock fence the writer holds; an older one than stored is
	// refused with ErrStaleFence.
	Fence int64
	// Events are the applied stream messages in ascending Seq; at least one.
	Events       []AppliedEvent
	Session      *SessionUpdate
	Prompts      []Prompt
	Observations []Observation
	Summary      *Summary
	Usage        []LLMUsage
	DeadLetters  []DeadLetter
	Conversation *Conversation
	// ReplaceObservations deletes the session's existing observations and
	// summaries before writing these (re-compression).
	ReplaceObservations bool
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	// Duplicate is true when every event of the unit was applied before:
	// nothing was written (idempotent re-apply).
	Duplicate      bool
	LastSeq        uint64
	ObservationIDs []int64
	SummaryID      int64
	// Session is the session's row as the unit left it: merged with the
	// unit's update when it had one, as stored otherwise; nil when the
	// session has no row or the unit was a duplicate. A writer keeps this
	// instead of merging session fields itself.
	Session *Session
	// SkippedEvents are the unit's events whose tool use the session had
	// recorded already: applied, without their observations.
	SkippedEvents []string
	// SkippedPrompts counts the unit's prompts the session held already
	// (same prompt ID, or the latest prompt's text): not written again.
	SkippedPrompts int
}

// Errors. Implementations wrap them so errors.Is works.
var (
	// ErrStaleFence: the unit's fence is older than the stored one; the
	// writer lost its session lock and must stop.
	ErrStaleFence = errors.New("store: stale fence")
	// ErrCursorBackwards: an event's sequence is at or below the session's
	// stored cursor and the event is not known as applied.
	ErrCursorBackwards = errors.New("store: cursor would go backwards")
	// ErrPartialDuplicate: some but not all of the unit's events were applied
	// before; the writer must drop those and recompute.
	ErrPartialDuplicate = errors.New("store: some events already applied")
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid: the input breaks a rule (empty ID, over-long field, bad type).
	ErrInvalid = errors.New("store: invalid input")
)

// InvalidError names the field that is invalid; it wraps ErrInvalid.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("store: invalid %s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// SessionFilter selects sessions.
type SessionFilter struct {
	Project string // "" = all projects
	Status  string // "" = any
	Limit   int
	Offset  int
}

// ContextQuery asks for the SessionStart context of a project.
type ContextQuery struct {
	Project string
	// Budget is the token budget (≈ 4 characters a token) for observations
	// and summaries together.
	Budget          int
	MaxObservations int // default 50
	MaxSummaries    int // default 10
	// Types and Concepts, when not empty, select the observations of one
	// of these types having at least one of these concepts.
	Types, Concepts []string
	// Also names other projects whose memory the context includes with
	// Project's, newest first among all (a worktree project's parent,
	// docs/ARCHITECTURE.md §18); at most 8 are used.
	Also []string
}

// Context is what RecentContext selected, newest first.
type Context struct {
	Observations []Observation
	Summaries    []Summary
	Tokens       int // estimated tokens of what was selected
}

// SearchQuery is a full-text search with filters.
//
// A full-text search ranks the newest SearchWindow matches of the query and
// its filters (by store order), or Offset+Limit of them when that is more:
// ranking every match of two common words costs a scan of most of the
// store, and recent memory is the memory an agent needs. Older matches are
// still found whenever fewer newer ones match.
type SearchQuery struct {
	Text    string // full text; "" = filters only, newest first
	Project string
	Types   []string
	File    string    // matches files_read or files_modified
	Since   time.Time // accepted at or after (inclusive)
	Until   time.Time // accepted before (exclusive)
	Limit   int       // default 20, max 100
	Offset  int
	// OrderBy is OrderRelevance (the default with Text), OrderDateDesc (the
	// default without) or OrderDateAsc.
	OrderBy string
	// Platform keeps only rows of sessions recorded by this agent
	// (claude-mem's platformSource; Session.Agent, e.g. "claude-code").
	Platform string
	// Before pages a listing newest first (no text, OrderDateDesc): only
	// rows after this position in that order, so a page never repeats or
	// skips a row however many arrive meanwhile (a keyset cursor).
	Before *Position
}

// Position is a row's place in a newest-first listing: its time and its
// key, an observation's or summary's ID, or a prompt's session and number.
// The last row of a page is the next page's Before.
type Position struct {
	At        time.Time `json:"at"`
	ID        int64     `json:"id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	Number    int       `json:"number,omitempty"`
}

// SearchHit is one search result.
type SearchHit struct {
	Observation Observation `json:"observation"`
	Rank        float64     `json:"rank"` // higher is better
}

// Counts are figures for stats.
type Counts struct {
	Sessions       int64 `json:"sessions"`
	ActiveSessions int64 `json:"active_sessions"`
	Observations   int64 `json:"observations"`
	Summaries      int64 `json:"summaries"`
	Prompts        int64 `json:"prompts"`
	DeadLetters    int64 `json:"dead_letters"`
	InputTokens    int64 `json:"input_tokens"`  // LLM usage since the Counts call's "since"
	OutputTokens   int64 `json:"output_tokens"` // LLM usage since the Counts call's "since"
	// CostUSD is the reported cost of the LLM calls since "since" (LLMUsage.CostUSD).
	CostUSD float64 `json:"cost_usd"`
}

// Store is the memory store.
type Store interface {
	// Apply writes one unit atomically: fence check, duplicate check, cursor
	// check, then content, applied events and cursor in one transaction.
	Apply(ctx context.Context, u Unit) (ApplyResult, error)
	// Cursor returns the session's cursor; a zero Cursor when none is stored.
	Cursor(ctx context.Context, sessionID string) (Cursor, error)
	// AppliedSeqs returns, of the given event IDs, those already applied with
	// the stream sequence they were applied at.
	AppliedSeqs(ctx context.Context, eventIDs []string) (map[string]uint64, error)
	// ClaimFence records fence as the session's current fence before its
	// holder writes anything: a writer with an older or equal fence is then
	// refused (ErrStaleFence), even one that never wrote under its fence. A
	// claim with a fence not above the stored one fails with ErrStaleFence.
	ClaimFence(ctx context.Context, sessionID string, fence int64) error
	// ClaimedToolUses returns, of the given tool use IDs, those the session
	// has recorded, with the event that recorded each: the worker skips
	// such a tool use before compressing it.
	ClaimedToolUses(ctx context.Context, sessionID string, toolUseIDs []string) (map[string]string, error)
	// DeadLettered returns, of the given event IDs, those that have a dead
	// letter (written by the reaper when JetStream gave up delivering them),
	// with its ID: the worker treats such an event as done.
	DeadLettered(ctx context.Context, eventIDs []string) (map[string]int64, error)

	Session(ctx context.Context, id string) (Session, error)
	Sessions(ctx context.Context, f SessionFilter) ([]Session, error)
	Prompts(ctx context.Context, sessionID string) ([]Prompt, error)
	// SessionObservations returns a session's observations in accept order.
	SessionObservations(ctx context.Context, sessionID string) ([]Observation, error)
	// SessionSummaries returns a session's summaries, oldest first.
	SessionSummaries(ctx context.Context, sessionID string) ([]Summary, error)
	Observations(ctx context.Context, ids []int64) ([]Observation, error)
	// ObservationsByFile returns a project's observations that read or
	// modified path, newest first, created after since.
	ObservationsByFile(ctx context.Context, project, path string, since time.Time, limit int) ([]Observation, error)
	RecentContext(ctx context.Context, q ContextQuery) (Context, error)
	Search(ctx context.Context, q SearchQuery) ([]SearchHit, error)
	// SearchPrompts searches user prompts: Text, Project and Platform (of
	// the prompt's session), Since/Until, OrderBy, Limit and Offset; Types
	// and File are observations' filters and refused here.
	SearchPrompts(ctx context.Context, q SearchQuery) ([]PromptHit, error)
	// SearchSummaries searches session summaries, with SearchPrompts' filters.
	SearchSummaries(ctx context.Context, q SearchQuery) ([]SummaryHit, error)
	// Projects lists every project with its counts and last activity, most
	// recently active first.
	Projects(ctx context.Context) ([]Project, error)
	// Size is the bytes the store occupies (database file or database).
	Size(ctx context.Context) (int64, error)
	// Timeline returns up to before observations older than around, the
	// observation itself and up to after newer ones, of the same project.
	Timeline(ctx context.Context, around int64, before, after int) ([]Observation, error)
	// Counts returns figures for a project ("" = all); token sums since since.
	Counts(ctx context.Context, project string, since time.Time) (Counts, error)

	// AddMemory stores a manual observation outside any event stream.
	AddMemory(ctx context.Context, o Observation) (int64, error)
	DeleteObservation(ctx context.Context, id int64) error
	// DeleteSession marks a session aborted; with purge it also deletes its
	// prompts, observations and summaries. Cursor and applied events stay, so
	// redelivered events do not bring the memory back.
	DeleteSession(ctx context.Context, id string, purge bool) error

	AddDeadLetter(ctx context.Context, d DeadLetter) (int64, error)
	DeadLetters(ctx context.Context, limit, offset int) ([]DeadLetter, error)
	DeadLetter(ctx context.Context, id int64) (DeadLetter, error)
	MarkReplayed(ctx context.Context, id int64, newEventID string) error

	Conversation(ctx context.Context, sessionID string) (Conversation, error)

	// PartitionFloors returns the ack floors recorded for one incarnation of
	// the events stream (bus.StreamKey), by partition.
	PartitionFloors(ctx context.Context, stream string) (map[int]uint64, error)
	// SavePartitionFloors records ack floors; a floor only ever rises.
	SavePartitionFloors(ctx context.Context, stream string, floors map[int]uint64) error

	// Import writes memory brought from outside the event stream (a
	// claude-mem database, an export), each row once by its stable key,
	// moving no cursor (imports.go).
	Import(ctx context.Context, b ImportBatch) (ImportResult, error)
	// ExportSession returns a session's memory with the keys Import uses.
	ExportSession(ctx context.Context, id string) (SessionExport, error)

	// PutVectors writes memories' embeddings, one per memory, kind and
	// model (an upsert: never a second vector); vectors.go, §14.
	PutVectors(ctx context.Context, vs []Vector) error
	// ToEmbed returns memories of a kind to embed under a model, by ID.
	ToEmbed(ctx context.Context, q EmbedQuery) ([]Embeddable, error)
	// Vectors pages through a kind's stored vectors of a model: by ID, or
	// those written since a time in the order written (VectorQuery).
	Vectors(ctx context.Context, q VectorQuery) ([]Vector, error)
	// VectorIDs lists the memories of kind having a vector under model.
	VectorIDs(ctx context.Context, kind Kind, model string) ([]int64, error)
	// CountVectors says how many memories of kind have a vector under
	// model and how many wait for one.
	CountVectors(ctx context.Context, kind Kind, model, project string) (VectorCounts, error)
	// DropVectors deletes the vectors of every kind and model but keep.
	DropVectors(ctx context.Context, keep string) (int64, error)
	// Summaries returns the summaries with the given IDs in ID order;
	// unknown IDs are left out.
	Summaries(ctx context.Context, ids []int64) ([]Summary, error)
	// PromptsByID returns the prompts with the given IDs (with their
	// sessions' project and agent) in ID order; unknown IDs are left out.
	PromptsByID(ctx context.Context, ids []int64) ([]PromptHit, error)

	// Optimize refreshes what the query planner knows and compacts the
	// search index, as a store does after a bulk load (import, seeding)
	// rather than waiting for background maintenance.
	Optimize(ctx context.Context) error

	Close() error
}
