package semantic

import (
	"context"
	"time"
)

// nudged is a loop's wake-up: a pass now rather than at the next period.
// It holds at most one pending nudge, so asking never blocks.
type nudged chan struct{}

func newNudged() nudged { return make(nudged, 1) }

// nudge asks for a pass soon; it never blocks.
func (n nudged) nudge() {
	select {
	case n <- struct{}{}:
	default:
	}
}

// every runs pass at once, then after each period and each nudge, until
// ctx ends.
func (n nudged) every(ctx context.Context, period time.Duration, pass func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		pass()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n:
		}
	}
}
