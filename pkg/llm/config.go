package llm

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// FromEnv returns the compressor MNEMO_LLM_PROVIDER selects. Until a provider
// is configured it is the offline extractive compressor, and it says so.
// MNEMO_LLM_SIMULATED_LATENCY ("2s", "0-200ms") adds latency to every call,
// for load tests.
func FromEnv(log *slog.Logger) (Compressor, error) {
	c, err := providerFromEnv(log)
	if err != nil {
		return nil, err
	}
	if s := os.Getenv("MNEMO_LLM_SIMULATED_LATENCY"); s != "" {
		min, max, err := ParseLatency(s)
		if err != nil {
			return nil, fmt.Errorf("MNEMO_LLM_SIMULATED_LATENCY: %w", err)
		}
		log.Warn("compressor latency simulated", "min", min, "max", max)
		return Latency{Inner: c, Min: min, Max: max}, nil
	}
	return c, nil
}

func providerFromEnv(log *slog.Logger) (Compressor, error) {
	p := os.Getenv("MNEMO_LLM_PROVIDER")
	switch p {
	case "", "offline":
		log.Info("compressor: offline extractive (no LLM); set MNEMO_LLM_PROVIDER to anthropic, openai or gemini for LLM observations")
		return Offline{}, nil
	case "anthropic", "openai", "gemini":
	default:
		return nil, fmt.Errorf("MNEMO_LLM_PROVIDER=%q: want offline, anthropic, openai or gemini", p)
	}
	key := os.Getenv("MNEMO_LLM_API_KEY")
	if key == "" {
		key = os.Getenv(map[string]string{"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}[p])
	}
	cfg := Config{Provider: p, Model: os.Getenv("MNEMO_LLM_MODEL"), CheapModel: os.Getenv("MNEMO_LLM_CHEAP_MODEL"),
		BaseURL: os.Getenv("MNEMO_LLM_BASE_URL"), APIKey: key}
	if v := os.Getenv("MNEMO_LLM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("MNEMO_LLM_TIMEOUT=%q is not a duration", v)
		}
		cfg.Timeout = d
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	log.Info("compressor: LLM", "provider", p, "model", m.cfg.Model, "cheap_model", m.cfg.CheapModel, "base_url", m.cfg.BaseURL)
	return m, nil
}

// DailyTokensFromEnv is MNEMO_LLM_DAILY_TOKENS, the per-project daily token
// budget (0 = unlimited).
func DailyTokensFromEnv() (int64, error) {
	v := os.Getenv("MNEMO_LLM_DAILY_TOKENS")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("MNEMO_LLM_DAILY_TOKENS=%q is not a token count", v)
	}
	return n, nil
}
