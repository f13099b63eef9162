package llm

import (
	"fmt"
	"log/slog"
	"os"
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
	switch p := os.Getenv("MNEMO_LLM_PROVIDER"); p {
	case "", "offline":
		log.Info("compressor: offline extractive (no LLM); set MNEMO_LLM_PROVIDER to anthropic, openai or gemini for LLM observations")
		return Offline{}, nil
	default:
		return nil, fmt.Errorf("MNEMO_LLM_PROVIDER=%q is not supported yet: use offline", p)
	}
}
