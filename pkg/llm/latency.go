package llm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Latency wraps a compressor and waits a random time in [Min, Max] before
// each call, to load-test the pipeline with LLM-like latency without an LLM.
type Latency struct {
	Inner    Compressor
	Min, Max time.Duration
}

// Name implements Compressor.
func (l Latency) Name() string { return l.Inner.Name() }

func (l Latency) wait(ctx context.Context) error {
	d := l.Min
	if l.Max > l.Min {
		d += rand.N(l.Max - l.Min + 1)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Observe implements Compressor.
func (l Latency) Observe(ctx context.Context, r ObserveRequest) (ObserveResult, error) {
	if err := l.wait(ctx); err != nil {
		return ObserveResult{}, err
	}
	return l.Inner.Observe(ctx, r)
}

// Summarize implements Compressor.
func (l Latency) Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error) {
	if err := l.wait(ctx); err != nil {
		return SummarizeResult{}, err
	}
	return l.Inner.Summarize(ctx, r)
}

// ParseLatency parses "200ms" or "0-200ms" / "50ms-2s" into a range.
func ParseLatency(s string) (min, max time.Duration, err error) {
	lo, hi, ranged := strings.Cut(s, "-")
	if !ranged {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, 0, fmt.Errorf("latency %q: want a duration or a range like 0-200ms", s)
		}
		return d, d, nil
	}
	if max, err = time.ParseDuration(hi); err != nil {
		return 0, 0, fmt.Errorf("latency %q: want a range like 0-200ms", s)
	}
	if lo == "0" {
		return 0, max, nil
	}
	if min, err = time.ParseDuration(lo); err != nil {
		// "10-200ms": take the upper bound's unit.
		unit := strings.TrimLeft(hi, "0123456789.")
		if min, err = time.ParseDuration(lo + unit); err != nil {
			return 0, 0, fmt.Errorf("latency %q: want a range like 0-200ms", s)
		}
	}
	if min > max {
		return 0, 0, fmt.Errorf("latency %q: lower bound above upper bound", s)
	}
	return min, max, nil
}
