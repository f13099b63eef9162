package reaper

import (
	"fmt"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/outage"
)

// Config is the reaper's configuration.
type Config struct {
	// ID names this reaper in the leadership lock.
	ID string
	// Layout must match the workers' (partitions and member TTL matter).
	Layout bus.Layout
	// Addr is the HTTP address of /metrics and /healthz ("" = none); off
	// loopback it needs Token.
	Addr string
	// Token, when set, is required as a bearer token on /metrics.
	Token string
	// LeaderTTL is the leadership lease; it is renewed every LeaderTTL/3.
	LeaderTTL time.Duration
	// Tick is how often the leader looks for dead workers and advisories.
	Tick time.Duration
	// MemberTTL is the workers' heartbeat TTL (MNEMO_MEMBER_TTL): a worker
	// silent for longer is dead.
	MemberTTL time.Duration
	// LockTTL is the session lock lease (only used to build the lock helper).
	LockTTL time.Duration
	// IdleSummary is how long a session may go without an event before the
	// reaper asks for its summary with a synthetic stop (MNEMO_IDLE_SUMMARY).
	IdleSummary time.Duration
	// IdleEvery is how often idle sessions are looked for.
	IdleEvery time.Duration
	// AuditEvery is how often consumers and metadata are audited.
	AuditEvery time.Duration
	// StuckAfter flags a partition whose oldest unacknowledged message is
	// older than this.
	StuckAfter time.Duration
	// OutageLimit is the longest Redis or NATS outage the reaper rides out
	// before it ends with the reason (MNEMO_OUTAGE_LIMIT; 0 = forever).
	OutageLimit time.Duration
}

// DefaultConfig returns the defaults of docs/ARCHITECTURE.md §4–§7.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "reaper"
	}
	return Config{
		ID:          fmt.Sprintf("%s-%d-%s", host, os.Getpid(), event.NewID()[20:]),
		Layout:      bus.DefaultLayout(),
		Addr:        "127.0.0.1:37803",
		LeaderTTL:   10 * time.Second,
		Tick:        time.Second,
		MemberTTL:   15 * time.Second,
		LockTTL:     30 * time.Second,
		IdleSummary: 30 * time.Minute,
		IdleEvery:   10 * time.Second,
		AuditEvery:  30 * time.Second,
		StuckAfter:  5 * time.Minute,
		OutageLimit: outage.DefaultLimit,
	}
}

// Bind binds the config to flags and MNEMO_* variables.
func (c *Config) Bind(s *config.Set) {
	s.String(&c.ID, "reaper-id", "MNEMO_REAPER_ID", c.ID, "this reaper's ID in the leadership lock")
	s.String(&c.Addr, "reaper-addr", "MNEMO_REAPER_ADDR", c.Addr, "HTTP address of /metrics and /healthz (empty = none)")
	s.String(&c.Token, "token", "MNEMO_TOKEN", c.Token, "bearer token for /metrics (required off loopback)")
	c.Layout.Bind(s)
	s.Duration(&c.LeaderTTL, "leader-ttl", "MNEMO_REAPER_LEADER_TTL", c.LeaderTTL, "leadership lease")
	s.Duration(&c.Tick, "tick", "MNEMO_REAPER_TICK", c.Tick, "how often dead workers and advisories are handled")
	s.Duration(&c.MemberTTL, "member-ttl", "MNEMO_MEMBER_TTL", c.MemberTTL, "worker heartbeat TTL")
	s.Duration(&c.LockTTL, "lock-ttl", "MNEMO_LOCK_TTL", c.LockTTL, "session lock lease")
	s.Duration(&c.IdleSummary, "idle-summary", "MNEMO_IDLE_SUMMARY", c.IdleSummary, "idle time after which a session is summarized")
	s.Duration(&c.IdleEvery, "idle-every", "MNEMO_REAPER_IDLE_EVERY", c.IdleEvery, "how often idle sessions are looked for")
	s.Duration(&c.AuditEvery, "audit-every", "MNEMO_REAPER_AUDIT_EVERY", c.AuditEvery, "how often consumers and metadata are audited")
	s.Duration(&c.StuckAfter, "stuck-after", "MNEMO_REAPER_STUCK_AFTER", c.StuckAfter, "age of the oldest unacked message that flags a partition")
	s.Duration(&c.OutageLimit, "outage-limit", "MNEMO_OUTAGE_LIMIT", c.OutageLimit, "longest Redis or NATS outage ridden out before the process ends with the reason (0 = forever)")
}

// Validate checks the config; its messages say what to set.
func (c Config) Validate() error {
	var p config.Problems
	p.Add(c.Layout.Validate())
	p.Addf(c.ID == "" || len(c.ID) > 128, "reaper ID must be 1-128 characters (MNEMO_REAPER_ID)")
	if c.Addr != "" {
		p.Add(config.CheckBind(c.Addr, c.Token))
	}
	p.Addf(c.LeaderTTL < time.Second, "leader TTL must be at least 1s (MNEMO_REAPER_LEADER_TTL)")
	p.Addf(c.Tick <= 0 || c.Tick > c.LeaderTTL/3, "tick must be positive and at most a third of the leader TTL (MNEMO_REAPER_TICK)")
	p.Addf(c.MemberTTL < time.Second, "member TTL must be at least 1s (MNEMO_MEMBER_TTL)")
	p.Addf(c.LockTTL < time.Second, "lock TTL must be at least 1s (MNEMO_LOCK_TTL)")
	p.Addf(c.IdleSummary < time.Second, "idle summary must be at least 1s (MNEMO_IDLE_SUMMARY)")
	p.Addf(c.IdleEvery <= 0, "idle check period must be positive (MNEMO_REAPER_IDLE_EVERY)")
	p.Addf(c.AuditEvery <= 0, "audit period must be positive (MNEMO_REAPER_AUDIT_EVERY)")
	p.Addf(c.StuckAfter <= 0, "stuck threshold must be positive (MNEMO_REAPER_STUCK_AFTER)")
	p.Addf(c.OutageLimit < 0, "outage limit must not be negative (MNEMO_OUTAGE_LIMIT)")
	return p.Err()
}
