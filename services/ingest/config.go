package ingest

import (
	"cmp"
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Config is the ingest service's configuration. Every limit is explicit.
type Config struct {
	// Addr is the HTTP listen address (standalone binary only).
	Addr string
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every /v1 endpoint. Required when Addr is not loopback.
	Token string
	// Limits bound one envelope; Limits.Body also bounds a single-event body.
	Limits event.Limits
	// BatchMax is the most envelopes one POST /v1/events:batch may carry.
	BatchMax int
	// BatchBody bounds a batch request body.
	BatchBody int
	// PublishTimeout is how long a request waits for JetStream's PubAck before
	// answering 503; the hook's own deadline should be a little longer.
	PublishTimeout time.Duration
	// RetryAfter is the Retry-After a 503 advertises.
	RetryAfter time.Duration
	// BatchWindow bounds the async publishes of one batch in flight at once.
	BatchWindow int
	// MetaQueue bounds the sessions whose best-effort Redis metadata update
	// waits to be written (a session's events fold into one update); updates
	// for further sessions are dropped (the worker repairs metadata).
	MetaQueue int
}

// DefaultConfig returns the defaults of docs/ARCHITECTURE.md §3.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:37801",
		Limits:         event.DefaultLimits,
		BatchMax:       500,
		BatchBody:      16 << 20,
		PublishTimeout: 2 * time.Second,
		RetryAfter:     time.Second,
		BatchWindow:    256,
		MetaQueue:      4096,
	}
}

// Bind registers the configuration's flags and MNEMO_* variables.
func (c *Config) Bind(s *config.Set) {
	d := DefaultConfig()
	s.String(&c.Addr, "addr", "MNEMO_ADDR", d.Addr, "HTTP listen address")
	s.String(&c.Token, "token", "MNEMO_TOKEN", "", "bearer token required of clients (required off loopback)")
	s.Int(&c.Limits.Body, "max-body", "MNEMO_MAX_BODY", d.Limits.Body, "largest event body in bytes")
	s.Int(&c.Limits.ToolResponse, "max-tool-response", "MNEMO_MAX_TOOL_RESPONSE", d.Limits.ToolResponse, "largest tool response in bytes")
	s.Int(&c.Limits.ToolInput, "max-tool-input", "MNEMO_MAX_TOOL_INPUT", d.Limits.ToolInput, "largest tool input in bytes")
	s.Int(&c.Limits.Prompt, "max-prompt", "MNEMO_MAX_PROMPT", d.Limits.Prompt, "largest prompt or message in bytes")
	s.Int(&c.Limits.Field, "max-field", "MNEMO_MAX_FIELD", d.Limits.Field, "largest short field (project, cwd, names) in bytes")
	s.Int(&c.BatchMax, "batch-max", "MNEMO_BATCH_MAX", d.BatchMax, "most events in one batch request")
	s.Int(&c.BatchBody, "batch-body", "MNEMO_BATCH_BODY", d.BatchBody, "largest batch request body in bytes")
	s.Duration(&c.PublishTimeout, "publish-timeout", "MNEMO_PUBLISH_TIMEOUT", d.PublishTimeout, "wait for the JetStream ack before answering 503")
	s.Duration(&c.RetryAfter, "retry-after", "MNEMO_RETRY_AFTER", d.RetryAfter, "Retry-After advertised with 503")
	s.Int(&c.BatchWindow, "batch-window", "MNEMO_BATCH_WINDOW", d.BatchWindow, "async publishes in flight per batch")
	c.MetaQueue = d.MetaQueue
}

// withDefaults fills zero values so a zero Config from a test works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Limits = cmp.Or(c.Limits, d.Limits)
	c.BatchMax = cmp.Or(c.BatchMax, d.BatchMax)
	c.BatchBody = cmp.Or(c.BatchBody, d.BatchBody)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, d.PublishTimeout)
	c.RetryAfter = cmp.Or(c.RetryAfter, d.RetryAfter)
	c.BatchWindow = cmp.Or(c.BatchWindow, d.BatchWindow)
	c.MetaQueue = cmp.Or(c.MetaQueue, d.MetaQueue)
	return c
}

// Validate says what to set when the configuration cannot work. The listen
// address is checked by ValidateBind, since `mnemo run` serves ingest on its
// own address.
func (c Config) Validate() error {
	var p config.Problems
	l := c.Limits
	p.Addf(l.Body < 1024, "MNEMO_MAX_BODY must be at least 1024 bytes (is %d)", l.Body)
	p.Addf(l.ToolResponse < 1 || l.ToolResponse > l.Body, "MNEMO_MAX_TOOL_RESPONSE must be 1..MNEMO_MAX_BODY (is %d)", l.ToolResponse)
	p.Addf(l.ToolInput < 1 || l.ToolInput > l.Body, "MNEMO_MAX_TOOL_INPUT must be 1..MNEMO_MAX_BODY (is %d)", l.ToolInput)
	p.Addf(l.Prompt < 1 || l.Prompt > l.Body, "MNEMO_MAX_PROMPT must be 1..MNEMO_MAX_BODY (is %d)", l.Prompt)
	p.Addf(l.Field < 64, "MNEMO_MAX_FIELD must be at least 64 (is %d)", l.Field)
	p.Addf(c.BatchMax < 1 || c.BatchMax > 10000, "MNEMO_BATCH_MAX must be 1..10000 (is %d)", c.BatchMax)
	p.Addf(c.BatchBody < l.Body, "MNEMO_BATCH_BODY must be at least MNEMO_MAX_BODY (is %d)", c.BatchBody)
	p.Addf(c.PublishTimeout < 10*time.Millisecond, "MNEMO_PUBLISH_TIMEOUT must be at least 10ms (is %s)", c.PublishTimeout)
	p.Addf(c.RetryAfter < time.Second, "MNEMO_RETRY_AFTER must be at least 1s (is %s)", c.RetryAfter)
	p.Addf(c.BatchWindow < 1, "MNEMO_BATCH_WINDOW must be at least 1 (is %d)", c.BatchWindow)
	return p.Err()
}

// ValidateBind refuses a non-loopback address without a token.
func (c Config) ValidateBind() error {
	if err := config.CheckBind(c.Addr, c.Token); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}
