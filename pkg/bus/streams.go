package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventsConfig is the MNEMO_EVENTS stream configuration for a layout.
func EventsConfig(l Layout) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "Mnemo agent events, partitioned by session",
		Subjects:    []string{EventsPrefix + ".*"},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source:      EventsPrefix + ".*",
			Destination: transformDest(l.Partitions),
		},
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   l.Replicas,
		MaxAge:     l.MaxAge,
		MaxBytes:   orUnlimited(l.MaxBytes),
		Duplicates: l.Duplicates,
		Discard:    jetstream.DiscardOld,
		// Direct gets only on a single replica: with more, a direct get
		// may be answered by a replica that lags, and the worker's gap walk
		// must see every message the stream acked, so reads go through the
		// stream leader instead (slower, but correct).
		AllowDirect: l.Replicas <= 1,
	}
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// EnsureStreams creates or updates MNEMO_EVENTS, MNEMO_ADVISORIES and
// MNEMO_DLQ. It refuses (ErrPartitionMismatch) when MNEMO_EVENTS exists with
// another partition count than the layout's.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, l Layout) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if s, err := js.Stream(ctx, EventsStream); err == nil {
		info, err := s.Info(ctx)
		if err != nil {
			return fmt.Errorf("bus: read %s: %w", EventsStream, err)
		}
		if tr := info.Config.SubjectTransform; tr != nil {
			if n, ok := partitionsOfDest(tr.Destination); ok && n != l.Partitions {
				return fmt.Errorf("%w: %s has %d partitions, config says %d (set MNEMO_PARTITIONS=%d, or migrate the stream)",
					ErrPartitionMismatch, EventsStream, n, l.Partitions, n)
			}
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bus: look up %s: %w", EventsStream, err)
	}
	cfgs := []jetstream.StreamConfig{
		EventsConfig(l),
		{
			Name:        AdvisoriesStream,
			Description: "JetStream advisories about Mnemo events that exhausted deliveries or were terminated",
			Subjects:    []string{AdvisoryMaxDeliveries, AdvisoryTerminated},
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
			MaxAge:      l.MaxAge,
		},
		{
			Name:        DLQStream,
			Description: "Mnemo events given up on, with their reason",
			Subjects:    []string{DLQPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Replicas:    l.Replicas,
			MaxAge:      l.MaxAge,
			AllowDirect: true,
		},
	}
	for _, cfg := range cfgs {
		err := retryJS(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("bus: ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// retryJS runs a JetStream API call with a deadline per attempt and tries
// again while ctx allows: in a cluster an API request can go unanswered
// (a meta leader election, routes still forming) and would otherwise hold
// the whole budget.
func retryJS(ctx context.Context, call func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := call(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrNoResponders) &&
			!errors.Is(err, jetstream.ErrNoHeartbeat) && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ConsumerConfig is the durable pull consumer of one partition.
func ConsumerConfig(l Layout, p int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(p),
		Description:   fmt.Sprintf("Mnemo worker, partition %d of %d", p, l.Partitions),
		FilterSubject: PartitionFilter(p),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.AckWait,
		BackOff:       l.BackOff,
		MaxDeliver:    l.MaxDeliver,
		MaxAckPending: l.MaxAckPending,
		Replicas:      l.Replicas,
		MemoryStorage: l.MemoryConsumers,
	}
}

// Floors are the recorded ack floors of the events stream's partitions:
// every message of partition p at or below Floors[p] was acknowledged.
type Floors map[int]uint64

// FloorsFunc returns the floors recorded for one incarnation of the events
// stream (StreamKey); nil means none are recorded.
type FloorsFunc func(ctx context.Context, streamKey string) (Floors, error)

// StreamKey names one incarnation of a stream: a stream deleted and created
// again restarts its sequences, and the floors of the old one must not
// apply to it.
func StreamKey(info *jetstream.StreamInfo) string {
	return fmt.Sprintf("%s@%d", info.Config.Name, info.Created.UnixNano())
}

// EnsureConsumers creates or updates the layout's partition consumers. A
// consumer that exists keeps how it was created (deliver policy, start
// sequence, state storage); one that is missing (a new stream, or memory
// state lost with a restarted broker) is created to start after its
// partition's recorded floor.
func EnsureConsumers(ctx context.Context, js jetstream.JetStream, l Layout, floors FloorsFunc) error {
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return fmt.Errorf("bus: look up %s: %w", EventsStream, err)
	}
	floorOf := floorReader(s, floors)
	for p := 0; p < l.Partitions; p++ {
		if err := ensureConsumer(ctx, s, l, p, floorOf); err != nil {
			return err
		}
	}
	return nil
}

// EnsureConsumer is EnsureConsumers for partition p alone: created after its
// recorded floor when missing, updated keeping how it was created otherwise.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, l Layout, p int, floors FloorsFunc) error {
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return fmt.Errorf("bus: look up %s: %w", EventsStream, err)
	}
	return ensureConsumer(ctx, s, l, p, floorReader(s, floors))
}

// floorReader returns a partition's recorded floor, reading the stream's
// floors once, on the first call: only a missing consumer needs them.
func floorReader(s jetstream.Stream, floors FloorsFunc) func(context.Context, int) (uint64, error) {
	var known Floors
	loaded := false
	return func(ctx context.Context, p int) (uint64, error) {
		if !loaded && floors != nil {
			f, err := floors(ctx, StreamKey(s.CachedInfo()))
			if err != nil {
				return 0, fmt.Errorf("bus: read partition floors: %w", err)
			}
			known, loaded = f, true
		}
		return known[p], nil
	}
}

func ensureConsumer(ctx context.Context, s jetstream.Stream, l Layout, p int, floorOf func(context.Context, int) (uint64, error)) error {
	name := ConsumerName(p)
	want := ConsumerConfig(l, p)
	return retryJS(ctx, func(ctx context.Context) error {
		c, err := s.Consumer(ctx, name)
		switch {
		case err == nil:
			// Settings fixed at creation stay as they are.
			have := c.CachedInfo().Config
			cfg := want
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
			cfg.MemoryStorage = have.MemoryStorage
			if _, err := s.UpdateConsumer(ctx, cfg); err != nil {
				return fmt.Errorf("bus: update consumer %s: %w", name, err)
			}
			return nil
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return err
		}
		floor, err := floorOf(ctx, p)
		if err != nil {
			return err
		}
		cfg := want
		if floor > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
		}
		_, err = s.CreateConsumer(ctx, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			// Another process created it meanwhile, from its own reading
			// of the floor: use that one.
			return nil
		}
		if err != nil {
			return fmt.Errorf("bus: create consumer %s: %w", name, err)
		}
		return nil
	})
}

// Ensure runs EnsureStreams then EnsureConsumers.
func Ensure(ctx context.Context, js jetstream.JetStream, l Layout, floors FloorsFunc) error {
	if err := EnsureStreams(ctx, js, l); err != nil {
		return err
	}
	return EnsureConsumers(ctx, js, l, floors)
}
