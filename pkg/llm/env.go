package llm

// EnvVars are the variables this package reads (name → meaning), for the
// commands that use it to list in -h and not warn about.
var EnvVars = map[string]string{
	"MNEMO_LLM_PROVIDER":          "compressor: offline (default), anthropic, openai or gemini",
	"MNEMO_LLM_API_KEY":           "the provider's API key (else ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY)",
	"MNEMO_LLM_MODEL":             "the provider's model for observations",
	"MNEMO_LLM_CHEAP_MODEL":       "the provider's model for small calls",
	"MNEMO_LLM_BASE_URL":          "the provider's API base URL",
	"MNEMO_LLM_TIMEOUT":           "one LLM call's timeout",
	"MNEMO_LLM_DAILY_TOKENS":      "per-project daily token budget (0 = unlimited)",
	"MNEMO_LLM_SIMULATED_LATENCY": "latency added to every compressor call, for load tests (\"2s\", \"0-200ms\")",
}
