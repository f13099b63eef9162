// Package outage bounds how long a long-running component rides out a
// dependency it cannot reach (Redis, NATS): a restart of either is retried
// through, an outage longer than the limit ends the component with a reason
// an operator can act on, so its process exits instead of idling forever.
package outage

import (
	"errors"
	"fmt"
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
