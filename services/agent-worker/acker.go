package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ackItem is one applied message waiting for its acknowledgement; reason
// != "" terminates it instead (a dead event).
type ackItem struct {
	d      delivery
	reason string
}

// acker acknowledges applied messages off the sessions' path, one
// partition's acknowledgements in bursts. JetStream rewrites a consumer's
// state file up to ten times a second while acks keep arriving; with 64
// partition consumers that is hundreds of file replacements a second, and
// on a slow disk they stall the whole server (publishes included). Holding
// a partition's acks for up to AckDelay turns those into about one write
// per consumer per AckDelay. Nothing depends on an ack for correctness: the
// effect is committed with the cursor before the ack is queued, and a
// message redelivered because its ack came late or never is skipped by the
// cursor.
type acker struct {
	delay time.Duration
	burst int // a partition with this many pending acks is sent at once
	log   *slog.Logger
	sent  func(ds []delivery)

	mu      sync.Mutex
	pending map[int][]ackItem
	oldest  map[int]time.Time
	kick    chan struct{}
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
}

func newAcker(delay time.Duration, burst int, log *slog.Logger, sent func([]delivery)) *acker {
	return &acker{
		delay: delay, burst: max(burst, 1), log: log, sent: sent,
		pending: map[int][]ackItem{}, oldest: map[int]time.Time{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// add queues acknowledgements of partition p's messages.
func (k *acker) add(p int, items ...ackItem) {
	if len(items) == 0 {
		return
	}
	k.mu.Lock()
	if len(k.pending[p]) == 0 {
		k.oldest[p] = time.Now()
	}
	k.pending[p] = append(k.pending[p], items...)
	full := len(k.pending[p]) >= k.burst || k.delay == 0
	k.mu.Unlock()
	if full {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
}

// depth returns how many acknowledgements wait.
func (k *acker) depth() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, items := range k.pending {
		n += len(items)
	}
	return n
}

// take removes and returns the partitions due: all of them with all, else
// those whose oldest ack waited delay or that reached a burst.
func (k *acker) take(all bool) map[int][]ackItem {
	k.mu.Lock()
	defer k.mu.Unlock()
	due := map[int][]ackItem{}
	now := time.Now()
	for p, items := range k.pending {
		if all || len(items) >= k.burst || now.Sub(k.oldest[p]) >= k.delay {
			due[p] = items
			delete(k.pending, p)
			delete(k.oldest, p)
		}
	}
	return due
}

// close makes run send every held acknowledgement and return, and waits
// for it; it may be called more than once.
func (k *acker) close() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}

// run sends due acknowledgements until close, then sends the rest.
func (k *acker) run() {
	defer close(k.done)
	every := max(k.delay/4, 5*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			k.send(k.take(false))
		case <-k.kick:
			k.send(k.take(false))
		case <-k.stop:
			k.send(k.take(true))
			return
		}
	}
}

// send acknowledges each partition's messages in order, partitions in
// parallel (a DoubleAck waits for the server's confirmation).
func (k *acker) send(due map[int][]ackItem) {
	if len(due) == 0 {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, items := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			k.sendPartition(items)
		}()
	}
	wg.Wait()
}

func (k *acker) sendPartition(items []ackItem) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds := make([]delivery, 0, len(items))
	for _, it := range items {
		var err error
		if it.reason != "" {
			err = it.d.msg.TermWithReason(it.reason)
		} else {
			err = it.d.msg.DoubleAck(ctx)
		}
		if err != nil {
			// The effect is committed; a redelivery is skipped by the cursor.
			k.log.Debug("ack failed", "seq", it.d.seq, "err", err)
		}
		ds = append(ds, it.d)
	}
	k.sent(ds)
}
