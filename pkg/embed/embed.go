// Package embed turns text into vectors through an embedding provider (any
// OpenAI-compatible /v1/embeddings, or Gemini's batchEmbedContents), in
// batches, for semantic search (docs/ARCHITECTURE.md §14). It also encodes
// vectors for the store and compares them.
package embed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Providers.
const (
	ProviderOpenAI = "openai"
	ProviderGemini = "gemini"
)

// Limits, explicit (each also a check in Validate).
const (
	DefaultBatch   = 64   // texts per provider call
	MaxBatch       = 2048 // OpenAI's own cap on inputs per call
	MaxDimensions  = 8192 // the largest vector accepted from a provider
	MaxTextRunes   = 8000 // a text is cut to this many runes before it is sent (≈ 2k tokens)
	DefaultTimeout = 30 * time.Second
	maxAnswer      = 64 << 20 // bytes read of one provider answer
)

// EnvVars are the variables FromEnv reads (name → meaning), for the
// commands that use it to list in -h and not warn about.
var EnvVars = map[string]string{
	"MNEMO_EMBED_PROVIDER":   "embeddings for semantic search: openai (any OpenAI-compatible /v1/embeddings) or gemini; unset = full-text only",
	"MNEMO_EMBED_MODEL":      "the embedding model (default text-embedding-3-small for openai, gemini-embedding-001 for gemini)",
	"MNEMO_EMBED_BASE_URL":   "the provider's API base URL (openai: …/v1; Ollama: http://127.0.0.1:11434/v1)",
	"MNEMO_EMBED_API_KEY":    "the provider's API key (else OPENAI_API_KEY or GEMINI_API_KEY)",
	"MNEMO_EMBED_DIMENSIONS": "vector dimensions asked of models that support it (0 = the model's own)",
	"MNEMO_EMBED_BATCH":      "texts per embedding call (default 64)",
	"MNEMO_EMBED_TIMEOUT":    "one embedding call's timeout (default 30s)",
}

// Config chooses a provider and model. A zero Provider means embeddings are
// off: search stays full-text.
type Config struct {
	Provider   string
	Model      string
	BaseURL    string
	APIKey     string
	Dimensions int
	Batch      int
	Timeout    time.Duration
}

// FromEnv reads the MNEMO_EMBED_* variables (getenv is os.Getenv in
// production). An unset provider gives a zero Config and no error.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{Provider: strings.TrimSpace(getenv("MNEMO_EMBED_PROVIDER")), Model: getenv("MNEMO_EMBED_MODEL"),
		BaseURL: getenv("MNEMO_EMBED_BASE_URL"), APIKey: getenv("MNEMO_EMBED_API_KEY")}
	if c.Provider == "" || c.Provider == "off" || c.Provider == "none" {
		return Config{}, nil
	}
	if c.APIKey == "" {
		c.APIKey = getenv(map[string]string{ProviderOpenAI: "OPENAI_API_KEY", ProviderGemini: "GEMINI_API_KEY"}[c.Provider])
	}
	var errs []error
	if v := getenv("MNEMO_EMBED_DIMENSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MNEMO_EMBED_DIMENSIONS: %q is not a number", v))
		}
		c.Dimensions = n
	}
	if v := getenv("MNEMO_EMBED_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MNEMO_EMBED_BATCH: %q is not a number", v))
		}
		c.Batch = n
	}
	if v := getenv("MNEMO_EMBED_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("MNEMO_EMBED_TIMEOUT: %q is not a duration", v))
		}
		c.Timeout = d
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("embed: %w", errors.Join(errs...))
	}
	c = c.withDefaults()
	return c, c.Validate()
}

// On reports whether a provider is configured.
func (c Config) On() bool { return c.Provider != "" }

func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = map[string]string{ProviderOpenAI: "text-embedding-3-small", ProviderGemini: "gemini-embedding-001"}[c.Provider]
	}
	if c.BaseURL == "" {
		c.BaseURL = map[string]string{ProviderOpenAI: "https://api.openai.com/v1", ProviderGemini: "https://generativelanguage.googleapis.com"}[c.Provider]
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate says what to set when the configuration cannot work.
func (c Config) Validate() error {
	var errs []error
	add := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	add(c.Provider != ProviderOpenAI && c.Provider != ProviderGemini, "MNEMO_EMBED_PROVIDER must be openai or gemini (is %q)", c.Provider)
	add(c.Model == "", "MNEMO_EMBED_MODEL must name a model")
	add(c.Provider == ProviderGemini && c.APIKey == "", "gemini needs MNEMO_EMBED_API_KEY or GEMINI_API_KEY")
	add(c.Dimensions < 0 || c.Dimensions > MaxDimensions, "MNEMO_EMBED_DIMENSIONS must be 0..%d (is %d)", MaxDimensions, c.Dimensions)
	add(c.Batch < 1 || c.Batch > MaxBatch, "MNEMO_EMBED_BATCH must be 1..%d (is %d)", MaxBatch, c.Batch)
	add(c.Timeout < 100*time.Millisecond, "MNEMO_EMBED_TIMEOUT must be at least 100ms (is %s)", c.Timeout)
	if len(errs) > 0 {
		return fmt.Errorf("embed: %w", errors.Join(errs...))
	}
	return nil
}

// Key names the vector space of this configuration: provider, model and
// asked dimensions. Vectors are stored under it, and vectors of two keys are
// never compared (a model change makes the old vectors unused until
// reindexed).
func (c Config) Key() string {
	k := c.Provider + ":" + c.Model
	if c.Dimensions > 0 {
		k += ":" + strconv.Itoa(c.Dimensions)
	}
	return k
}

// Task says what a text is for; Gemini embeds a query and a document
// differently, OpenAI-compatible models ignore it.
type Task int

// Tasks.
const (
	Document Task = iota
	Query
)

// Client embeds texts with one provider.
type Client struct {
	cfg  Config
	http *http.Client
	t    transport
}

// transport speaks one provider's wire protocol for one batch.
type transport interface {
	embed(ctx context.Context, c *http.Client, texts []string, task Task) ([][]float32, error)
}

// New makes a client; cfg must be On and valid.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl := &Client{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}}
	switch cfg.Provider {
	case ProviderOpenAI:
		cl.t = openAI{cfg: cfg}
	case ProviderGemini:
		cl.t = gemini{cfg: cfg}
	}
	return cl, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Key is the configuration's vector space (Config.Key).
func (c *Client) Key() string { return c.cfg.Key() }

// Embed returns one unit-length vector per text, in order, calling the
// provider once per Batch texts. Every vector has the same dimensions, or
// the answer is refused.
func (c *Client) Embed(ctx context.Context, texts []string, task Task) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += c.cfg.Batch {
		batch := texts[start:min(start+c.cfg.Batch, len(texts))]
		in := make([]string, len(batch))
		for i, t := range batch {
			in[i] = clip(t)
		}
		vs, err := c.t.embed(ctx, c.http, in, task)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(in) {
			return nil, fmt.Errorf("embed: %s answered %d vectors for %d texts", c.cfg.Provider, len(vs), len(in))
		}
		for _, v := range vs {
			if len(v) == 0 || len(v) > MaxDimensions {
				return nil, fmt.Errorf("embed: %s answered a vector of %d dimensions (want 1..%d)", c.cfg.Provider, len(v), MaxDimensions)
			}
			if len(out) > 0 && len(v) != len(out[0]) {
				return nil, fmt.Errorf("embed: %s answered vectors of %d and %d dimensions", c.cfg.Provider, len(out[0]), len(v))
			}
			out = append(out, Normalize(v))
		}
	}
	return out, nil
}

// clip cuts a text to MaxTextRunes runes and replaces an empty one by a
// space (providers refuse empty input).
func clip(s string) string {
	if strings.TrimSpace(s) == "" {
		return " "
	}
	n := 0
	for i := range s {
		if n == MaxTextRunes {
			return s[:i]
		}
		n++
	}
	return s
}

// Normalize scales v to unit length in place (a zero vector stays zero), so
// that a dot product is the cosine similarity.
func Normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// Open returns a client for the MNEMO_EMBED_* configuration getenv reads,
// or nil (and no error) when embeddings are off.
func Open(getenv func(string) string) (*Client, error) {
	cfg, err := FromEnv(getenv)
	if err != nil || !cfg.On() {
		return nil, err
	}
	return New(cfg)
}
