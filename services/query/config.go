package query

import (
	"fmt"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
)

// DefaultConfig returns the standalone binary's defaults.
func DefaultConfig() Config {
	c := Config{Addr: "127.0.0.1:37802", Partitions: bus.DefaultLayout().Partitions}.withDefaults()
	return c
}

// Bind registers the configuration's flags and MNEMO_* variables.
func (c *Config) Bind(s *config.Set) {
	d := DefaultConfig()
	s.String(&c.Addr, "addr", "MNEMO_ADDR", d.Addr, "HTTP listen address")
	s.String(&c.Token, "token", "MNEMO_TOKEN", "", "bearer token required of clients (required off loopback)")
	s.Int(&c.Partitions, "partitions", "MNEMO_PARTITIONS", d.Partitions, "partitions of the event stream (the workers' value)")
	s.Duration(&c.MemberTTL, "member-ttl", "MNEMO_MEMBER_TTL", d.MemberTTL, "the workers' heartbeat TTL, to count live workers")
	s.Int(&c.MaxPage, "max-page", "MNEMO_MAX_PAGE", d.MaxPage, "largest limit= of any list")
	s.Int(&c.DefaultBudget, "context-budget", "MNEMO_CONTEXT_BUDGET", d.DefaultBudget, "default token budget of /v1/context")
	s.Int(&c.MaxBudget, "max-context-budget", "MNEMO_MAX_CONTEXT_BUDGET", d.MaxBudget, "largest token budget of /v1/context")
	s.Duration(&c.Heartbeat, "stream-heartbeat", "MNEMO_STREAM_HEARTBEAT", d.Heartbeat, "keep-alive period of /v1/stream")
	s.Int(&c.Replay, "stream-replay", "MNEMO_STREAM_REPLAY", d.Replay, "recent stream events a reconnecting client can resume from")
	s.Duration(&c.IdleAfter, "idle-after", "MNEMO_IDLE_AFTER", d.IdleAfter, "time without events after which a session stops being active")
}

// Validate says what to set when the configuration cannot work. The listen
// address is checked by ValidateBind, since `mnemo run` serves query on its
// own address.
func (c Config) Validate() error {
	var p config.Problems
	p.Addf(c.Partitions < 1, "MNEMO_PARTITIONS must be at least 1 (is %d)", c.Partitions)
	p.Addf(c.MemberTTL < time.Second, "MNEMO_MEMBER_TTL must be at least 1s (is %s)", c.MemberTTL)
	p.Addf(c.MaxPage < 1, "MNEMO_MAX_PAGE must be at least 1 (is %d)", c.MaxPage)
	p.Addf(c.DefaultBudget < 1 || c.DefaultBudget > c.MaxBudget, "MNEMO_CONTEXT_BUDGET must be 1..MNEMO_MAX_CONTEXT_BUDGET (is %d)", c.DefaultBudget)
	p.Addf(c.Heartbeat < time.Second, "MNEMO_STREAM_HEARTBEAT must be at least 1s (is %s)", c.Heartbeat)
	p.Addf(c.Replay < 1, "MNEMO_STREAM_REPLAY must be at least 1 (is %d)", c.Replay)
	p.Addf(c.IdleAfter < time.Second, "MNEMO_IDLE_AFTER must be at least 1s (is %s)", c.IdleAfter)
	return p.Err()
}

// ValidateBind refuses a non-loopback address without a token.
func (c Config) ValidateBind() error {
	if err := config.CheckBind(c.Addr, c.Token); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}
