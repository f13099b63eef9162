// Package outage bounds how long a long-running component rides out a
// dependency it cannot reach (Redis, NATS): a restart of either is retried
// through, an outage longer than the limit ends the component with a reason
// an operator can act on, so its process exits instead of idling forever.
package outage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultLimit is MNEMO_OUTAGE_LIMIT's default.
const DefaultLimit = 2 * time.Minute

// ErrTooLong is wrapped by the error Observe returns once an outage lasted
// longer than the limit.
var ErrTooLong = errors.New("longer than MNEMO_OUTAGE_LIMIT")

// Tracker follows one dependency's reachability. The zero value has no limit.
type Tracker struct {
	// Name is the dependency, for the error ("Redis", "NATS").
	Name string
	// Limit is the longest outage ridden out; 0 rides out any.
	Limit time.Duration
	// now is time.Now unless a test sets it.
	now func() time.Time

	mu    sync.Mutex
	since time.Time // start of the current outage; zero while reachable
}

// Observe records the outcome of an attempt to use the dependency: nil
// ends an outage, an error starts or continues one. It returns an error
// wrapping ErrTooLong and err once the outage has lasted longer than Limit.
func (t *Tracker) Observe(err error) error {
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.since = time.Time{}
		return nil
	}
	n := now()
	if t.since.IsZero() {
		t.since = n
	}
	if d := n.Sub(t.since); t.Limit > 0 && d > t.Limit {
		return fmt.Errorf("%s unreachable for %s, %w (%s): %w", t.Name, d.Round(time.Second), ErrTooLong, t.Limit, err)
	}
	return nil
}

// Backends tracks the two dependencies the worker and the reaper run on.
type Backends struct{ Redis, NATS Tracker }

// NewBackends returns Backends that ride out limit (0: any outage).
func NewBackends(limit time.Duration) *Backends {
	return &Backends{Redis: Tracker{Name: "Redis", Limit: limit}, NATS: Tracker{Name: "NATS", Limit: limit}}
}

// Observe records the outcome of a Redis attempt and whether nc is
// connected, and returns the error that ends the component once either has
// been away longer than the limit.
func (b *Backends) Observe(redisErr error, nc *nats.Conn) error {
	var natsErr error
	if !nc.IsConnected() {
		natsErr = fmt.Errorf("connection %s", nc.Status())
	}
	if err := b.Redis.Observe(redisErr); err != nil {
		return err
	}
	return b.NATS.Observe(natsErr)
}

// During is Observe for the component name running under ctx, its error
// prefixed with name. Once ctx has ended it returns nil: the component is
// stopping, not cut off.
func (b *Backends) During(ctx context.Context, name string, redisErr error, nc *nats.Conn) error {
	if ctx.Err() != nil {
		return nil
	}
	if err := b.Observe(redisErr, nc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Retry calls try until it returns nil or an error that is final, which it
// returns as is, waiting 100ms between tries and twice as long each time up
// to 5s. Each failure is logged ("<what> not available yet") and counts as
// NATS being away: once that lasted past the limit, or when ctx ends, Retry
// returns why, prefixed with the component's name.
func (b *Backends) Retry(ctx context.Context, log *slog.Logger, name, what string, try func(context.Context) error, final error) error {
	backoff := 100 * time.Millisecond
	for {
		err := try(ctx)
		if err == nil || errors.Is(err, final) {
			return err
		}
		if ctx.Err() == nil {
			if oerr := b.NATS.Observe(err); oerr != nil {
				return fmt.Errorf("%s: %w", name, oerr)
			}
		}
		log.Warn(what+" not available yet", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", name, what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
