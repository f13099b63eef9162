package outage

import (
	"errors"
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
