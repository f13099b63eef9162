package llm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// FromEnv chooses the compressor (Choose), builds it (CLI runs in
// home/observer) and wraps it in its daily per-project token budget, counted
// in rdb (nil: no budget). It logs
// the one start-up line that names the compressor, why, and the budget.
// MNEMO_LLM_SIMULATED_LATENCY ("2s", "0-200ms") adds latency to every call,
// for load tests.
func FromEnv(ctx context.Context, log *slog.Logger, rdb redis.UniversalClient, home string) (Compressor, Choice, error) {
	ch, err := Choose(ctx)
	if err != nil {
		return nil, Choice{}, err
	}
	c, err := Build(ch, home)
	if err != nil {
		return nil, Choice{}, err
	}
	log.Info("compressor: "+ch.String(), "provider", ch.Provider, "model", ch.Model, "daily_tokens", ch.DailyTokens)
	if s := os.Getenv("MNEMO_LLM_SIMULATED_LATENCY"); s != "" {
		min, max, err := ParseLatency(s)
		if err != nil {
			return nil, Choice{}, fmt.Errorf("MNEMO_LLM_SIMULATED_LATENCY: %w", err)
		}
		log.Warn("compressor latency simulated", "min", min, "max", max)
		c = Latency{Inner: c, Min: min, Max: max}
	}
	return WithBudget(c, rdb, ch.DailyTokens, log), ch, nil
}

// Build returns the compressor of a choice, configured from MNEMO_LLM_*; a
// CLI runs in home/observer.
func Build(ch Choice, home string) (Compressor, error) {
	if ch.Provider == ProviderOffline {
		return Offline{}, nil
	}
	key := os.Getenv("MNEMO_LLM_API_KEY")
	if key == "" && ch.Provider != ClaudeCode { // the CLI reads its own variables
		key = os.Getenv(map[string]string{"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}[ch.Provider])
	}
	cfg := Config{Provider: ch.Provider, Model: ch.Model, CheapModel: os.Getenv("MNEMO_LLM_CHEAP_MODEL"),
		BaseURL: os.Getenv("MNEMO_LLM_BASE_URL"), APIKey: key,
		CLIPath: ch.CLI, WorkDir: filepath.Join(home, "observer")}
	if v := os.Getenv("MNEMO_LLM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("MNEMO_LLM_TIMEOUT=%q is not a duration", v)
		}
		cfg.Timeout = d
	}
	if v := os.Getenv("MNEMO_LLM_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("MNEMO_LLM_CONCURRENCY=%q: want a number of CLI processes, 1 or more", v)
		}
		cfg.Concurrency = n
	}
	return New(cfg)
}
