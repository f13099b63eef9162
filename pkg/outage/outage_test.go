package outage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOutageEndsOnlyPastTheLimit(t *testing.T) {
	clock := time.Unix(1000, 0)
	tr := &Tracker{Name: "Redis", Limit: time.Minute, now: func() time.Time { return clock }}
	down := errors.New("connection refused")
	if err := tr.Observe(down); err != nil {
		t.Fatalf("first failure: %v", err)
	}
	clock = clock.Add(59 * time.Second)
	if err := tr.Observe(down); err != nil {
		t.Fatalf("59s into a 1m limit: %v", err)
	}
	if err := tr.Observe(nil); err != nil {
		t.Fatal(err)
	}
	// Reachable again: the next outage counts from its own start.
	clock = clock.Add(30 * time.Second)
	if err := tr.Observe(down); err != nil {
		t.Fatalf("a new outage ended at once: %v", err)
	}
	clock = clock.Add(61 * time.Second)
	err := tr.Observe(down)
	if !errors.Is(err, ErrTooLong) || !errors.Is(err, down) || !strings.Contains(err.Error(), "Redis unreachable for 1m1s") {
		t.Fatalf("past the limit: %v", err)
	}
	unlimited := &Tracker{Name: "NATS", now: func() time.Time { return clock }}
	_ = unlimited.Observe(down)
	clock = clock.Add(time.Hour)
	if err := unlimited.Observe(down); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

func TestRetryStopsOnSuccessAFinalErrorTheLimitOrCtx(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	down, final := errors.New("no responders"), errors.New("partition count differs")
	tries := 0
	failTwice := func(context.Context) error {
		if tries++; tries < 3 {
			return down
		}
		return nil
	}
	if err := NewBackends(0).Retry(context.Background(), log, "worker", "stream", failTwice, final); err != nil || tries != 3 {
		t.Fatalf("after two failures: %v in %d tries, want success in 3", err, tries)
	}
	tries = 0
	err := NewBackends(0).Retry(context.Background(), log, "worker", "stream", func(context.Context) error {
		tries++
		return errors.Join(down, final)
	}, final)
	if !errors.Is(err, final) || tries != 1 {
		t.Fatalf("a final error: %v in %d tries, want it at once", err, tries)
	}
	clock := time.Unix(1000, 0)
	b := NewBackends(time.Minute)
	b.NATS.now = func() time.Time { clock = clock.Add(31 * time.Second); return clock }
	err = b.Retry(context.Background(), log, "reaper", "streams", func(context.Context) error { return down }, final)
	if !errors.Is(err, ErrTooLong) || !errors.Is(err, down) || !strings.HasPrefix(err.Error(), "reaper: NATS unreachable") {
		t.Fatalf("past the limit: %v, want reaper: NATS unreachable … wrapping ErrTooLong and the cause", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = NewBackends(0).Retry(ctx, log, "worker", "stream", func(context.Context) error { cancel(); return down }, final)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "worker: waiting for stream") {
		t.Fatalf("ctx ended: %v, want worker: waiting for stream … wrapping context.Canceled", err)
	}
}
