package llm

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Budgeted caps each project's LLM tokens per UTC day, counted in Redis so
// that every worker of a deployment shares the count. A project over its
// budget is compressed by Fallback (the offline compressor) until the day
// ends: runaway observer spend is claude-mem users' top complaint.
type Budgeted struct {
	Inner    Compressor
	Fallback Compressor
	Redis    redis.UniversalClient
	// Daily is the token budget per project per UTC day (input + output).
	Daily int64
	Log   *slog.Logger
	// FellBack counts calls served by Fallback because of the budget.
	FellBack atomic.Int64
}

// BudgetKey is the Redis counter of a project's tokens on a day.
func BudgetKey(project string, day time.Time) string {
	return "mnemo:llm:tokens:" + day.UTC().Format("20060102") + ":" + project
}

// Name is the inner compressor's.
func (b *Budgeted) Name() string { return b.Inner.Name() }

// over reports whether the project has spent its budget today. A Redis
// failure does not block compression: the budget is a guard, not a gate.
func (b *Budgeted) over(ctx context.Context, project string) bool {
	n, err := b.Redis.Get(ctx, BudgetKey(project, time.Now())).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		b.Log.Warn("token budget unreadable; calling the LLM", "project", project, "err", err)
		return false
	}
	if n >= b.Daily {
		b.FellBack.Add(1)
		b.Log.Warn("project over its daily LLM token budget; using the offline compressor", "project", project, "spent", n, "budget", b.Daily)
		return true
	}
	return false
}

func (b *Budgeted) spend(ctx context.Context, project string, usage []Usage) {
	var n int64
	for _, u := range usage {
		n += u.InputTokens + u.OutputTokens
	}
	if n == 0 {
		return
	}
	key := BudgetKey(project, time.Now())
	p := b.Redis.TxPipeline()
	p.IncrBy(ctx, key, n)
	p.Expire(ctx, key, 48*time.Hour)
	if _, err := p.Exec(ctx); err != nil {
		b.Log.Warn("token budget not updated", "project", project, "tokens", n, "err", err)
	}
}

// Observe compresses with Inner, or Fallback once the project is over budget.
func (b *Budgeted) Observe(ctx context.Context, r ObserveRequest) (ObserveResult, error) {
	return budgeted(ctx, b, r.Session.Project, r, b.Inner.Observe, b.Fallback.Observe,
		func(res ObserveResult) []Usage { return res.Usage })
}

// Summarize summarizes with Inner, or Fallback once over budget.
func (b *Budgeted) Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error) {
	return budgeted(ctx, b, r.Session.Project, r, b.Inner.Summarize, b.Fallback.Summarize,
		func(res SummarizeResult) []Usage { return res.Usage })
}

// budgeted makes call r with fallback once project is over its budget, and
// otherwise with inner, counting inner's usage against the budget.
func budgeted[Q, R any](ctx context.Context, b *Budgeted, project string, r Q,
	inner, fallback func(context.Context, Q) (R, error), usage func(R) []Usage) (R, error) {
	if b.over(ctx, project) {
		return fallback(ctx, r)
	}
	res, err := inner(ctx, r)
	b.spend(ctx, project, usage(res))
	return res, err
}

// WithBudget wraps c in a daily per-project budget when daily > 0.
func WithBudget(c Compressor, rdb redis.UniversalClient, daily int64, log *slog.Logger) Compressor {
	if daily <= 0 || rdb == nil {
		return c
	}
	if _, ok := c.(Offline); ok {
		return c
	}
	return &Budgeted{Inner: c, Fallback: Offline{}, Redis: rdb, Daily: daily, Log: log}
}
