package worker

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/outage"
)

// Config is the agent worker's configuration.
type Config struct {
	// WorkerID names this worker in Redis (leases, locks, in-flight registry).
	WorkerID string
	// Addr is the HTTP address of /metrics and /healthz ("" = none, the
	// default: a machine may run several workers); off loopback it needs
	// Token.
	Addr string
	// Token, when set, is required as a bearer token on /metrics.
	Token  string
	Layout bus.Layout
	// Linger is how long a session actor waits for more events before it
	// exits (SessionManager's LINGER_TIMEOUT_MS).
	Linger time.Duration
	// LockTTL is the session lock lease; it is renewed every LockTTL/3.
	LockTTL time.Duration
	// MemberTTL is the heartbeat and partition lease time.
	MemberTTL time.Duration
	// Rebalance is how often partition leases are recomputed and renewed.
	Rebalance time.Duration
	// MaxBatch bounds how many queued tool uses of one session go into one
	// compressor call and one store transaction.
	MaxBatch int
	// PullBatch is how many messages a partition pull buffers.
	PullBatch int
	// AckDelay is how long applied messages' acknowledgements may wait to
	// be sent with the rest of their partition's (see acker): fewer
	// consumer state writes on the broker, at no cost to correctness.
	AckDelay time.Duration
	// FloorEvery is how often the worker records its partitions' ack floors
	// in the store (bus.Floors).
	FloorEvery time.Duration
	// Grace is how long shutdown waits for in-flight work before NAKing it.
	Grace time.Duration
	// RetryMax caps the backoff between in-place retries of transient errors.
	RetryMax time.Duration
	// MaxAttempts bounds the in-place attempts at one event: an event that
	// keeps failing is dead-lettered with its last error, and the session
	// goes on (claude-mem marked such messages failed after 3 retries).
	MaxAttempts int
	// SkipTools are tool names (or path.Match globs) whose uses carry no
	// memory value: recorded and acknowledged, never sent to the compressor.
	SkipTools []string
	// OutageLimit is the longest Redis or NATS outage the worker rides out
	// before it ends with the reason (MNEMO_OUTAGE_LIMIT; 0 = forever).
	OutageLimit time.Duration
}

// DefaultConfig returns the defaults of docs/ARCHITECTURE.md §4–§6.
func DefaultConfig() Config {
	return Config{
		WorkerID:   defaultWorkerID(),
		Layout:     bus.DefaultLayout(),
		Linger:     5 * time.Second,
		LockTTL:    30 * time.Second,
		MemberTTL:  15 * time.Second,
		Rebalance:  2 * time.Second,
		MaxBatch:   16,
		PullBatch:  64,
		AckDelay:   250 * time.Millisecond,
		FloorEvery: 5 * time.Second,
		Grace:      10 * time.Second,
		RetryMax:   5 * time.Second,
		// With backoff doubling to RetryMax, about a minute of retries.
		MaxAttempts: 16,
		SkipTools:   slices.Clone(hook.DefaultSkipTools),
		OutageLimit: outage.DefaultLimit,
	}
}

// skipTool reports whether a tool's uses are not compressed.
func (c Config) skipTool(name string) bool {
	for _, p := range c.SkipTools {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), event.NewID()[20:])
}

// Bind binds the config to flags and MNEMO_* variables.
func (c *Config) Bind(s *config.Set) {
	s.String(&c.WorkerID, "worker-id", "MNEMO_WORKER_ID", c.WorkerID, "this worker's ID in Redis")
	s.String(&c.Addr, "ops-addr", "MNEMO_WORKER_ADDR", c.Addr, "HTTP address of /metrics and /healthz (empty = none)")
	s.String(&c.Token, "token", "MNEMO_TOKEN", c.Token, "bearer token for /metrics (required off loopback)")
	c.Layout.Bind(s)
	s.Duration(&c.Linger, "linger", "MNEMO_LINGER", c.Linger, "how long a session actor waits for more events")
	s.Duration(&c.LockTTL, "lock-ttl", "MNEMO_LOCK_TTL", c.LockTTL, "session lock lease")
	s.Duration(&c.MemberTTL, "member-ttl", "MNEMO_MEMBER_TTL", c.MemberTTL, "worker heartbeat and partition lease")
	s.Duration(&c.Rebalance, "rebalance", "MNEMO_REBALANCE", c.Rebalance, "how often partition leases are recomputed and renewed")
	s.Int(&c.MaxBatch, "max-batch", "MNEMO_MAX_BATCH", c.MaxBatch, "tool uses of one session per compressor call")
	s.Int(&c.MaxAttempts, "max-attempts", "MNEMO_MAX_ATTEMPTS", c.MaxAttempts, "attempts at one event before it is dead-lettered")
	s.Duration(&c.RetryMax, "retry-max", "MNEMO_RETRY_MAX", c.RetryMax, "longest wait between in-place retries")
	s.Func("skip-tools", "MNEMO_SKIP_TOOLS", strings.Join(c.SkipTools, ","),
		"tools whose uses are never compressed, comma-separated names or globs (\"none\" = none)", func(v string) error {
			c.SkipTools = nil
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" && t != "none" {
					if _, err := path.Match(t, ""); err != nil {
						return fmt.Errorf("MNEMO_SKIP_TOOLS: bad pattern %q: %w", t, err)
					}
					c.SkipTools = append(c.SkipTools, t)
				}
			}
			return nil
		})
	s.Duration(&c.AckDelay, "ack-delay", "MNEMO_ACK_DELAY", c.AckDelay, "longest wait of an applied event's ack, to send a partition's acks together (0 = at once)")
	s.Duration(&c.FloorEvery, "floor-every", "MNEMO_FLOOR_EVERY", c.FloorEvery, "how often partition ack floors are recorded in the store")
	s.Bool(&c.Layout.MemoryConsumers, "memory-consumers", "MNEMO_MEMORY_CONSUMERS", c.Layout.MemoryConsumers, "keep consumer state in broker memory, recovered from the store's ack floors (false = state files); applies when a consumer is created")
	s.Duration(&c.Grace, "shutdown-grace", "MNEMO_SHUTDOWN_GRACE", c.Grace, "time in-flight work gets at shutdown")
	s.Duration(&c.OutageLimit, "outage-limit", "MNEMO_OUTAGE_LIMIT", c.OutageLimit, "longest Redis or NATS outage ridden out before the process ends with the reason (0 = forever)")
}

// Validate checks the config; its messages say what to set.
func (c Config) Validate() error {
	var p config.Problems
	p.Add(c.Layout.Validate())
	p.Addf(c.WorkerID == "" || len(c.WorkerID) > 128, "worker ID must be 1-128 characters (MNEMO_WORKER_ID)")
	if c.Addr != "" {
		p.Add(config.CheckBind(c.Addr, c.Token))
	}
	p.Addf(c.Linger < 0, "linger must not be negative (MNEMO_LINGER)")
	p.Addf(c.LockTTL < time.Second, "lock TTL must be at least 1s (MNEMO_LOCK_TTL)")
	p.Addf(c.MemberTTL < time.Second, "member TTL must be at least 1s (MNEMO_MEMBER_TTL)")
	p.Addf(c.Rebalance <= 0 || c.Rebalance >= c.MemberTTL, "rebalance period (MNEMO_REBALANCE, is %s) must be positive and below the member TTL (MNEMO_MEMBER_TTL, is %s)", c.Rebalance, c.MemberTTL)
	p.Addf(c.MaxBatch < 1 || c.MaxBatch > 500, "max batch must be 1..500 (MNEMO_MAX_BATCH)")
	p.Addf(c.PullBatch < 1, "pull batch must be ≥ 1")
	p.Addf(c.FloorEvery <= 0, "floor period must be positive (MNEMO_FLOOR_EVERY)")
	p.Addf(c.AckDelay < 0 || c.AckDelay >= c.Layout.AckWait, "ack delay (MNEMO_ACK_DELAY, is %s) must be 0 or more and below the ack wait (MNEMO_ACK_WAIT, is %s)", c.AckDelay, c.Layout.AckWait)
	p.Addf(c.MaxAttempts < 1, "max attempts must be ≥ 1 (MNEMO_MAX_ATTEMPTS)")
	p.Addf(c.RetryMax <= 0, "retry max must be positive (MNEMO_RETRY_MAX)")
	p.Addf(c.Grace < 0, "shutdown grace must not be negative (MNEMO_SHUTDOWN_GRACE)")
	p.Addf(c.OutageLimit < 0, "outage limit must not be negative (MNEMO_OUTAGE_LIMIT)")
	return p.Err()
}
