// Package bus is Mnemo's JetStream layout: the event stream partitioned by
// session, the per-partition worker consumers, the advisory and dead-letter
// streams, subject naming and publishing. The embedded server that the
// single-machine default and the tests run is pkg/natsembed, apart, so that
// the service binaries do not link nats-server.
package bus

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
)

// Stream and subject names (docs/ARCHITECTURE.md §4).
const (
	EventsStream     = "MNEMO_EVENTS"
	AdvisoriesStream = "MNEMO_ADVISORIES"
	DLQStream        = "MNEMO_DLQ"

	// EventsPrefix is what ingest publishes on: mnemo.ev.<session>. The
	// stream's subject transform stores it as mnemo.ev.<partition>.<session>.
	EventsPrefix = "mnemo.ev"
	// DLQPrefix is the subject prefix of dead events: mnemo.dlq.<session>.
	DLQPrefix = "mnemo.dlq"
	// StatusPrefix carries live status changes: mnemo.status.<what>.<session>.
	StatusPrefix = "mnemo.status"
	// AbortPrefix is where workers listen for "abort this session's work"
	// (DELETE /v1/sessions/{id}, query publishes): mnemo.ctl.abort.<session>.
	AbortPrefix = "mnemo.ctl.abort"
	// MemoryChangedSubject carries MemoryChange notices: stored memory
	// changed in a way a query process's semantic index follows at once
	// (docs/ARCHITECTURE.md §14).
	MemoryChangedSubject = "mnemo.changed.memory"
	// ReplaySubject is where a reaper (any one: a queue group) replays a
	// dead letter asked for by query's ops page (ReplayRequest).
	ReplaySubject = "mnemo.reaper.replay"

	// AdvisoryMaxDeliveries and AdvisoryTerminated are the server advisories
	// the advisory stream captures for the events stream.
	AdvisoryMaxDeliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + EventsStream + ".>"
	AdvisoryTerminated    = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + EventsStream + ".>"
)

// Layout holds the tunables of the broker layout. DefaultLayout gives the
// values of docs/ARCHITECTURE.md §4.
type Layout struct {
	Partitions    int
	Replicas      int
	MaxAge        time.Duration
	Duplicates    time.Duration
	MaxBytes      int64 // 0 = unlimited
	AckWait       time.Duration
	BackOff       []time.Duration
	MaxDeliver    int
	MaxAckPending int
	// MemoryConsumers keeps the partition consumers' delivery and ack state
	// in the broker's memory (replicated in a cluster) instead of files. A
	// file consumer rewrites its state file up to ten times a second while
	// it delivers; 64 of them under load stall a server on a slow disk. A
	// consumer lost with a restarted broker is recreated from the ack floor
	// the workers record in the store (Floors), so nothing is lost, and what
	// is redelivered is skipped by the sessions' cursors.
	MemoryConsumers bool
}

// Bind binds the layout settings every service reading the stream shares
// (worker and reaper) to flags and MNEMO_* variables, with l's values as the
// defaults, so both take the same names.
func (l *Layout) Bind(s *config.Set) {
	s.Int(&l.Partitions, "partitions", "MNEMO_PARTITIONS", l.Partitions, "partitions of the event stream")
	s.Int(&l.Replicas, "replicas", "MNEMO_REPLICAS", l.Replicas, "stream replicas (1 embedded, 3 clustered)")
	s.Duration(&l.AckWait, "ack-wait", "MNEMO_ACK_WAIT", l.AckWait, "consumer ack wait")
	s.Int(&l.MaxDeliver, "max-deliver", "MNEMO_MAX_DELIVER", l.MaxDeliver, "deliveries before an event is dead")
	s.Durations(&l.BackOff, "backoff", "MNEMO_BACKOFF", l.BackOff, "redelivery backoff steps, comma-separated, or none")
}

// DefaultLayout returns the layout of docs/ARCHITECTURE.md §4 for an embedded server.
func DefaultLayout() Layout {
	return Layout{
		Partitions:      64,
		Replicas:        1,
		MaxAge:          30 * 24 * time.Hour,
		Duplicates:      2 * time.Minute,
		AckWait:         30 * time.Second,
		BackOff:         []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute},
		MaxDeliver:      5,
		MaxAckPending:   256,
		MemoryConsumers: true,
	}
}

// Validate checks the layout; the errors say what to set.
func (l Layout) Validate() error {
	switch {
	case l.Partitions < 1 || l.Partitions > 1024:
		return fmt.Errorf("bus: partitions must be 1..1024, got %d (MNEMO_PARTITIONS)", l.Partitions)
	case l.Replicas != 1 && l.Replicas != 3 && l.Replicas != 5:
		return fmt.Errorf("bus: replicas must be 1, 3 or 5, got %d (MNEMO_REPLICAS)", l.Replicas)
	case l.MaxDeliver < 1:
		return fmt.Errorf("bus: max deliver must be ≥ 1, got %d", l.MaxDeliver)
	case l.AckWait <= 0:
		return fmt.Errorf("bus: ack wait must be positive, got %s", l.AckWait)
	case l.MaxAckPending < 1:
		return fmt.Errorf("bus: max ack pending must be ≥ 1, got %d", l.MaxAckPending)
	case len(l.BackOff) > 0 && len(l.BackOff) >= l.MaxDeliver:
		return fmt.Errorf("bus: max deliver %d must exceed the %d backoff steps", l.MaxDeliver, len(l.BackOff))
	}
	return nil
}

// PartitionOf returns the partition of a session: FNV-1a 32 of the session ID
// modulo partitions, exactly as the server's partition() transform computes it.
func PartitionOf(sessionID string, partitions int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(sessionID))
	return int(h.Sum32() % uint32(partitions))
}

// PublishSubject is the subject an event of the session is published on.
func PublishSubject(sessionID string) string { return EventsPrefix + "." + sessionID }

// StoredSubject is the subject an event of the session is stored under after
// the stream's subject transform.
func StoredSubject(sessionID string, partitions int) string {
	return EventsPrefix + "." + strconv.Itoa(PartitionOf(sessionID, partitions)) + "." + sessionID
}

// PartitionFilter is the filter subject of one partition's consumer.
func PartitionFilter(p int) string { return EventsPrefix + "." + strconv.Itoa(p) + ".*" }

// ConsumerName is the durable name of one partition's consumer.
func ConsumerName(p int) string { return fmt.Sprintf("worker-p%02d", p) }

// SessionOfSubject returns the session ID of a stored event subject.
func SessionOfSubject(subject string) (string, bool) {
	// mnemo.ev.<p>.<sid>
	const pre = EventsPrefix + "."
	if len(subject) <= len(pre) || subject[:len(pre)] != pre {
		return "", false
	}
	rest := subject[len(pre):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			if i == 0 || i == len(rest)-1 {
				return "", false
			}
			return rest[i+1:], true
		}
	}
	return "", false
}

// DLQSubject is the subject a dead event of the session is stored under.
func DLQSubject(sessionID string) string { return DLQPrefix + "." + sessionID }

// AbortSubject is the subject that aborts the session's work on every worker.
func AbortSubject(sessionID string) string { return AbortPrefix + "." + sessionID }

// AbortFilter is what a worker subscribes to for every session's abort.
const AbortFilter = AbortPrefix + ".*"

// SessionOfAbort returns the session ID of an abort subject.
func SessionOfAbort(subject string) (string, bool) {
	const pre = AbortPrefix + "."
	if len(subject) <= len(pre) || subject[:len(pre)] != pre {
		return "", false
	}
	return subject[len(pre):], true
}

// StatusSubject is the subject of a status change of a session.
func StatusSubject(what, sessionID string) string {
	return StatusPrefix + "." + what + "." + sessionID
}

func transformDest(partitions int) string {
	return fmt.Sprintf("%s.{{partition(%d,1)}}.{{wildcard(1)}}", EventsPrefix, partitions)
}

var partitionRe = regexp.MustCompile(`\{\{\s*partition\(\s*(\d+)\s*,\s*1\s*\)\s*\}\}`)

// ErrPartitionMismatch means the stream was created with another partition
// count than configured: changing it would reorder sessions, so Mnemo refuses.
var ErrPartitionMismatch = errors.New("bus: stream partition count differs from config")

func partitionsOfDest(dest string) (int, bool) {
	m := partitionRe.FindStringSubmatch(dest)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
