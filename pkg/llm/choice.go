package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// DefaultAutoDailyTokens is the per-project daily token budget when the
// user's Claude Code was chosen without being asked for: claude-mem's users
// have reported tens of millions of tokens a day spent by its observer.
const DefaultAutoDailyTokens = 2_000_000

// Offline names the extractive compressor in a Choice.
const ProviderOffline = "offline"

// Choice is the compressor a process runs, why, and its token budget.
type Choice struct {
	Provider string // offline | anthropic | openai | gemini | claude-code
	Model    string
	Why      string
	CLI      string // claude-code: the CLI that runs
	// DailyTokens is the per-project budget per UTC day (0 = unlimited);
	// BudgetWhy says where it comes from.
	DailyTokens int64
	BudgetWhy   string
}

// Budget describes the token budget in words.
func (c Choice) Budget() string {
	switch {
	case c.Provider == ProviderOffline:
		return "none needed (no LLM)"
	case c.DailyTokens == 0:
		return "unlimited (MNEMO_LLM_DAILY_TOKENS caps it)"
	default:
		return fmt.Sprintf("%d tokens per project per UTC day (%s)", c.DailyTokens, c.BudgetWhy)
	}
}

// String is the one line `mnemo run` and `mnemo doctor` show.
func (c Choice) String() string {
	name := c.Provider
	if c.Model != "" {
		name += "/" + c.Model
	}
	return fmt.Sprintf("%s, because %s; budget: %s", name, c.Why, c.Budget())
}

// Choose decides the compressor from the environment: MNEMO_LLM_PROVIDER
// when set; otherwise the user's own Claude Code when a claude CLI with
// credentials is found (MNEMO_CLAUDE_PATH, else PATH), with a default daily
// budget; otherwise the offline compressor. MNEMO_LLM_PROVIDER=offline opts
// out of the automatic choice.
func Choose(ctx context.Context) (Choice, error) {
	c := Choice{Provider: os.Getenv("MNEMO_LLM_PROVIDER")}
	if v := os.Getenv("MNEMO_LLM_DAILY_TOKENS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Choice{}, fmt.Errorf("MNEMO_LLM_DAILY_TOKENS=%q is not a token count", v)
		}
		c.DailyTokens, c.BudgetWhy = n, "MNEMO_LLM_DAILY_TOKENS"
	}
	switch c.Provider {
	case ProviderOffline:
		c.Why = "MNEMO_LLM_PROVIDER=offline"
	case "anthropic", "openai", "gemini":
		c.Why = "MNEMO_LLM_PROVIDER=" + c.Provider
	case ClaudeCode:
		cli, err := FindClaude()
		if err != nil {
			return Choice{}, fmt.Errorf("MNEMO_LLM_PROVIDER=claude-code: %w", err)
		}
		if cli == "" {
			return Choice{}, errors.New("MNEMO_LLM_PROVIDER=claude-code: no claude CLI on PATH: install Claude Code or set MNEMO_CLAUDE_PATH")
		}
		c.CLI, c.Why = cli, "MNEMO_LLM_PROVIDER=claude-code ("+cli+")"
	case "":
		cli, err := FindClaude()
		if err != nil {
			return Choice{}, err
		}
		if cli == "" {
			c.Provider, c.Why = ProviderOffline, "no MNEMO_LLM_PROVIDER is set and no claude CLI was found (MNEMO_CLAUDE_PATH, PATH)"
			break
		}
		how, ok := ClaudeCredentials(ctx, cli)
		if !ok {
			c.Provider = ProviderOffline
			c.Why = fmt.Sprintf("no MNEMO_LLM_PROVIDER is set and %s has no credentials (%s): log in with `claude` or set ANTHROPIC_API_KEY", cli, how)
			break
		}
		c.Provider, c.CLI = ClaudeCode, cli
		c.Why = fmt.Sprintf("no MNEMO_LLM_PROVIDER is set and %s has credentials (%s); MNEMO_LLM_PROVIDER=offline opts out", cli, how)
		if c.BudgetWhy == "" {
			c.DailyTokens, c.BudgetWhy = DefaultAutoDailyTokens, "default of the automatic choice; MNEMO_LLM_DAILY_TOKENS changes it"
		}
	default:
		return Choice{}, fmt.Errorf("MNEMO_LLM_PROVIDER=%q: want offline, claude-code, anthropic, openai or gemini", c.Provider)
	}
	if c.Provider != ProviderOffline {
		c.Model = os.Getenv("MNEMO_LLM_MODEL")
		if c.Model == "" {
			c.Model = defaultModel[c.Provider]
		}
	}
	return c, nil
}

// FindClaude is the Claude Code CLI to run: MNEMO_CLAUDE_PATH when set (an
// error when it is not an executable), else `claude` on PATH, else "".
func FindClaude() (string, error) {
	if p := os.Getenv("MNEMO_CLAUDE_PATH"); p != "" {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("MNEMO_CLAUDE_PATH=%s is not an executable file", p)
		}
		return p, nil
	}
	p, err := exec.LookPath("claude")
	if err != nil {
		return "", nil
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, nil
}

// ClaudeCredentials reports whether the CLI can call a model without a
// login prompt, and how: ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN set,
// else what `claude auth status` says of its stored login (the keychain
// included), else whether its credentials file exists.
func ClaudeCredentials(ctx context.Context, cli string) (how string, ok bool) {
	for _, v := range []string{"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"} {
		if os.Getenv(v) != "" {
			return v + " is set", true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "auth", "status")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), event.ObserverEnv+"=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.Output() // exits 1 when logged out, with the same JSON
	var st struct {
		LoggedIn   *bool  `json:"loggedIn"`
		AuthMethod string `json:"authMethod"`
	}
	if jerr := json.Unmarshal(out, &st); jerr == nil && st.LoggedIn != nil {
		if *st.LoggedIn {
			return "`claude auth status`: logged in, " + st.AuthMethod, true
		}
		return "`claude auth status`: not logged in", false
	}
	dir := os.Getenv("CLAUDE_CONFIG_DIR")
	if dir == "" {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return fmt.Sprintf("`claude auth status` failed (%v) and no home directory", err), false
		}
		dir = filepath.Join(home, ".claude")
	}
	if _, serr := os.Stat(filepath.Join(dir, ".credentials.json")); serr == nil {
		return "stored login in " + filepath.Join(dir, ".credentials.json"), true
	}
	return fmt.Sprintf("`claude auth status` gave no answer (%v) and no stored login", err), false
}
