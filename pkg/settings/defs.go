package settings

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Applies says when a changed setting takes effect.
type Applies int

const (
	// NextSession: read by the context builder at every SessionStart.
	NextSession Applies = iota
	// NextHook: read by the hook each time Claude Code runs it.
	NextHook
	// Restart: read once when `mnemo run` (or a service) starts.
	Restart
)

// String says when a change applies, for `mnemo config`.
func (a Applies) String() string {
	switch a {
	case NextSession:
		return "applies at the next session start, no restart needed"
	case NextHook:
		return "applies at the next hook call, no restart needed"
	default:
		return "needs a restart of mnemo run (or of the service reading it) to apply"
	}
}

// Kind is how a setting's value is written.
type Kind int

// The kinds of values.
const (
	String Kind = iota
	Int
	Bool
	Duration
	List // comma-separated
	Enum
)

// Def is one user-facing setting: its MNEMO_* variable name (the key in
// settings.json too), default, meaning and when a change applies.
type Def struct {
	Key     string
	Default string
	Help    string
	Kind    Kind
	Min     int      // Int: the smallest accepted value
	Values  []string // Enum: the accepted values
	Applies Applies
	// Secret values are never printed by `mnemo config`.
	Secret bool
}

// Context settings, named as claude-mem names them (CLAUDE_MEM_ → MNEMO_).
const (
	ContextObservations       = "MNEMO_CONTEXT_OBSERVATIONS"
	ContextSessionCount       = "MNEMO_CONTEXT_SESSION_COUNT"
	ContextFullCount          = "MNEMO_CONTEXT_FULL_COUNT"
	ContextFullField          = "MNEMO_CONTEXT_FULL_FIELD"
	ContextShowLastSummary    = "MNEMO_CONTEXT_SHOW_LAST_SUMMARY"
	ContextShowLastMessage    = "MNEMO_CONTEXT_SHOW_LAST_MESSAGE"
	ContextShowReadTokens     = "MNEMO_CONTEXT_SHOW_READ_TOKENS"
	ContextShowWorkTokens     = "MNEMO_CONTEXT_SHOW_WORK_TOKENS"
	ContextShowSavingsAmount  = "MNEMO_CONTEXT_SHOW_SAVINGS_AMOUNT"
	ContextShowSavingsPercent = "MNEMO_CONTEXT_SHOW_SAVINGS_PERCENT"
	ContextObservationTypes   = "MNEMO_CONTEXT_OBSERVATION_TYPES"
	ContextConcepts           = "MNEMO_CONTEXT_OBSERVATION_CONCEPTS"
	ContextTokenBudget        = "MNEMO_CONTEXT_TOKEN_BUDGET"
	ExcludedProjects          = "MNEMO_EXCLUDED_PROJECTS"
)

// Defs are every user-facing setting, in the order `mnemo config list`
// shows them. settings.json is seeded with all of them.
var Defs = []Def{
	{Key: ContextObservations, Default: "50", Kind: Int, Min: 0, Applies: NextSession,
		Help: "how many of the newest observations the SessionStart context lists"},
	{Key: ContextSessionCount, Default: "10", Kind: Int, Min: 0, Applies: NextSession,
		Help: "how many of the newest session summaries the context lists"},
	{Key: ContextFullCount, Default: "0", Kind: Int, Min: 0, Applies: NextSession,
		Help: "how many of the newest observations are shown in full"},
	{Key: ContextFullField, Default: "narrative", Kind: Enum, Values: []string{"narrative", "facts"}, Applies: NextSession,
		Help: "what a full observation shows: narrative or facts"},
	{Key: ContextShowLastSummary, Default: "true", Kind: Bool, Applies: NextSession,
		Help: "show the latest session summary's fields"},
	{Key: ContextShowLastMessage, Default: "false", Kind: Bool, Applies: NextSession,
		Help: "show the last assistant message of the previous session under \"Previously\""},
	{Key: ContextShowReadTokens, Default: "false", Kind: Bool, Applies: NextSession,
		Help: "show the tokens it costs to read the context"},
	{Key: ContextShowWorkTokens, Default: "false", Kind: Bool, Applies: NextSession,
		Help: "show the tokens spent producing the memories (discovery tokens)"},
	{Key: ContextShowSavingsAmount, Default: "false", Kind: Bool, Applies: NextSession,
		Help: "show the tokens saved by reading memories instead of redoing the work"},
	{Key: ContextShowSavingsPercent, Default: "true", Kind: Bool, Applies: NextSession,
		Help: "show the savings as a percentage"},
	{Key: ContextObservationTypes, Default: "", Kind: List, Applies: NextSession,
		Help: "observation types the context includes, comma-separated (empty = every type)"},
	{Key: ContextConcepts, Default: "", Kind: List, Applies: NextSession,
		Help: "concepts an observation needs one of to be included, comma-separated (empty = any)"},
	{Key: ContextTokenBudget, Default: "8000", Kind: Int, Min: 100, Applies: NextSession,
		Help: "a cap on the context's tokens (≈ 4 characters a token); the counts select, this only caps"},
	{Key: ExcludedProjects, Default: "", Kind: List, Applies: NextHook,
		Help: "projects (globs on the name or the directory) never recorded and given no context"},
	{Key: "MNEMO_SKIP_TOOLS", Default: "ListMcpResourcesTool,SlashCommand,Skill,TodoWrite,AskUserQuestion,TaskCreate,TaskUpdate,TaskList,TaskGet",
		Kind: List, Applies: NextHook, Help: "tools whose uses are not recorded"},
	{Key: "MNEMO_URL", Default: "http://127.0.0.1:37800", Kind: String, Applies: NextHook,
		Help: "where the hook finds Mnemo"},
	{Key: "MNEMO_HOOK_TIMEOUT", Default: "300ms", Kind: Duration, Applies: NextHook,
		Help: "how long the hook waits for Mnemo before spooling the event"},
	{Key: "MNEMO_HOOK_CONTEXT_TIMEOUT", Default: "1500ms", Kind: Duration, Applies: NextHook,
		Help: "how long SessionStart waits for the context"},
	{Key: "MNEMO_SEMANTIC_INJECT", Default: "false", Kind: Bool, Applies: NextHook,
		Help: "add the memories most related to each prompt at UserPromptSubmit (semantic search; 100 ms deadline)"},
	{Key: "MNEMO_SEMANTIC_INJECT_LIMIT", Default: "5", Kind: Int, Min: 1, Applies: NextHook,
		Help: "how many related memories a prompt gets (MNEMO_SEMANTIC_INJECT)"},
	{Key: "MNEMO_LLM_PROVIDER", Default: "auto", Kind: Enum, Values: []string{"auto", "offline", "anthropic", "openai", "gemini", "claude-code"}, Applies: Restart,
		Help: "the compressor: auto chooses, offline needs no LLM"},
	{Key: "MNEMO_LLM_MODEL", Default: "", Kind: String, Applies: Restart, Help: "the compressor's model (empty = the provider's default)"},
	{Key: "MNEMO_LLM_BASE_URL", Default: "", Kind: String, Applies: Restart, Help: "the LLM provider's base URL (empty = its public API)"},
	{Key: "MNEMO_LLM_API_KEY", Default: "", Kind: String, Applies: Restart, Secret: true, Help: "the LLM provider's API key"},
	{Key: "MNEMO_ADDR", Default: "127.0.0.1:37800", Kind: String, Applies: Restart, Help: "mnemo run's HTTP listen address"},
	{Key: "MNEMO_NATS_PORT", Default: "0", Kind: Int, Min: 0, Applies: Restart, Help: "embedded NATS client port (0 = a free port)"},
	{Key: "MNEMO_NATS_HTTP_PORT", Default: "0", Kind: Int, Min: 0, Applies: Restart, Help: "embedded NATS monitoring port (0 = off)"},
	{Key: "MNEMO_REDIS_URL", Default: "", Kind: String, Applies: Restart, Help: "Redis URL (empty = a redis-server child)"},
	{Key: "MNEMO_STORE", Default: "", Kind: String, Applies: Restart, Help: "a SQLite path or postgres:// URL (empty = $MNEMO_HOME/mnemo.db)"},
	{Key: "MNEMO_TOKEN", Default: "", Kind: String, Applies: Restart, Secret: true, Help: "bearer token required of HTTP clients"},
	{Key: "MNEMO_LOG_LEVEL", Default: "info", Kind: Enum, Values: []string{"debug", "info", "warn", "error"}, Applies: Restart, Help: "log level"},
}

// Lookup finds a setting by its key.
func Lookup(key string) (Def, bool) {
	i := slices.IndexFunc(Defs, func(d Def) bool { return d.Key == key })
	if i < 0 {
		return Def{}, false
	}
	return Defs[i], true
}

// Check says why v is not a valid value of d, or nil.
func (d Def) Check(v string) error {
	v = strings.TrimSpace(v)
	switch d.Kind {
	case Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q is not a whole number", d.Key, v)
		}
		if n < d.Min {
			return fmt.Errorf("%s=%d is below its minimum %d", d.Key, n, d.Min)
		}
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s=%q is not true or false", d.Key, v)
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Errorf("%s=%q is not a duration (like 300ms or 2s)", d.Key, v)
			}
		}
	case Enum:
		if !slices.Contains(d.Values, v) {
			return fmt.Errorf("%s=%q: want one of %s", d.Key, v, strings.Join(d.Values, ", "))
		}
	}
	return nil
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
