package bus

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// MemoryChange is a notice on MemoryChangedSubject, published by whoever
// changed stored memory: a worker that wrote vectors or recompressed a
// session, a query process that deleted an observation or purged a
// session. Query processes' semantic indexes follow it: new vectors are
// read at once rather than at the next poll, a deleted observation leaves
// every replica's index at once. It is core NATS, at most once: polling the
// store stays the catch-up for a notice lost.
type MemoryChange struct {
	// Vectors: vectors were written.
	Vectors bool `json:"vectors,omitempty"`
	// Deleted lists observations deleted.
	Deleted []int64 `json:"deleted,omitempty"`
	// Reconcile: observations went that the notice does not list (a
	// purged session, a recompression): compare with the store now.
	Reconcile bool `json:"reconcile,omitempty"`
}

// maxNoticeIDs bounds the IDs one notice lists; more become a Reconcile.
const maxNoticeIDs = 1000

// PublishMemoryChange publishes c on MemoryChangedSubject.
func PublishMemoryChange(nc *nats.Conn, c MemoryChange) error {
	if len(c.Deleted) > maxNoticeIDs {
		c.Deleted, c.Reconcile = nil, true
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("bus: encode memory change: %w", err)
	}
	if err := nc.Publish(MemoryChangedSubject, b); err != nil {
		return fmt.Errorf("bus: publish memory change: %w", err)
	}
	return nil
}

// DecodeMemoryChange reads a notice; one larger than a notice can be, or
// not JSON, is an error.
func DecodeMemoryChange(data []byte) (MemoryChange, error) {
	var c MemoryChange
	if len(data) > 64<<10 {
		return c, fmt.Errorf("bus: memory change of %d bytes", len(data))
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("bus: decode memory change: %w", err)
	}
	return c, nil
}
