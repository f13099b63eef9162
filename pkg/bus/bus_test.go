package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// ensured starts a broker and makes l's streams and consumers on it.
func ensured(t *testing.T, l bus.Layout) jetstream.JetStream {
	t.Helper()
	_, js := testkit.StartNATS(t).Connect(t)
	testkit.Ensure(t, js, l)
	return js
}

// The Go partition function must agree with the server's subject transform,
// or workers would pull the wrong sessions.
func TestPartitionOfMatchesServer(t *testing.T) {
	l := bus.DefaultLayout()
	js := ensured(t, l)
	c := ctx(t)

	ids := []string{"a", "b", "Z", "0", "-", "_", "b38da9b4-9527-4531-9287-3379a50b6d9e"}
	for i := 0; i < 500; i++ {
		ids = append(ids, fmt.Sprintf("sess-%d-%x", i, i*7919))
	}
	seen := map[int]bool{}
	for _, id := range ids {
		e := &event.Envelope{EventID: event.NewID(), SessionID: id, Kind: event.KindToolUse, At: time.Now()}
		ack, err := bus.Publish(c, js, e)
		if err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		s, _ := js.Stream(c, bus.EventsStream)
		m, err := s.GetMsg(c, ack.Sequence)
		if err != nil {
			t.Fatalf("get %d: %v", ack.Sequence, err)
		}
		want := bus.StoredSubject(id, l.Partitions)
		if m.Subject != want {
			t.Fatalf("session %q stored as %q, Go computes %q", id, m.Subject, want)
		}
		sid, ok := bus.SessionOfSubject(m.Subject)
		if !ok || sid != id {
			t.Fatalf("SessionOfSubject(%q) = %q, %v", m.Subject, sid, ok)
		}
		seen[bus.PartitionOf(id, l.Partitions)] = true
	}
	if len(seen) < 60 {
		t.Fatalf("507 sessions landed in only %d of 64 partitions", len(seen))
	}
}

// Each partition's consumer sees exactly the sessions of its partition.
func TestConsumersFilterTheirPartition(t *testing.T) {
	l := bus.DefaultLayout()
	l.Partitions = 4
	js := ensured(t, l)
	c := ctx(t)
	want := map[int]int{}
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("s%d", i)
		want[bus.PartitionOf(id, 4)]++
		if _, err := bus.Publish(c, js, &event.Envelope{EventID: event.NewID(), SessionID: id, Kind: event.KindStop, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for p := 0; p < 4; p++ {
		cons, err := js.Consumer(c, bus.EventsStream, bus.ConsumerName(p))
		if err != nil {
			t.Fatal(err)
		}
		// A consumer learns of stored messages asynchronously: wait for
		// the count to settle rather than read it once.
		deadline := time.Now().Add(5 * time.Second)
		for {
			info, err := cons.Info(c)
			if err != nil {
				t.Fatal(err)
			}
			if int(info.NumPending) == want[p] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: %d pending, want %d", p, info.NumPending, want[p])
			}
			time.Sleep(20 * time.Millisecond)
		}
		msgs, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		for m := range msgs.Messages() {
			sid, _ := bus.SessionOfSubject(m.Subject())
			if bus.PartitionOf(sid, 4) != p {
				t.Errorf("partition %d got session %s of partition %d", p, sid, bus.PartitionOf(sid, 4))
			}
		}
	}
}

func TestEnsureRefusesPartitionChange(t *testing.T) {
	l := bus.DefaultLayout()
	js := ensured(t, l)
	// Re-running with the same layout is fine.
	if err := bus.Ensure(ctx(t), js, l, nil); err != nil {
		t.Fatalf("re-ensure: %v", err)
	}
	l.Partitions = 32
	err := bus.EnsureStreams(ctx(t), js, l)
	if !errors.Is(err, bus.ErrPartitionMismatch) {
		t.Fatalf("got %v, want ErrPartitionMismatch", err)
	}
}

func TestPublishDeduplicatesByEventID(t *testing.T) {
	js := ensured(t, bus.DefaultLayout())
	c := ctx(t)
	e := &event.Envelope{EventID: event.NewID(), SessionID: "s1", Kind: event.KindStop, At: time.Now()}
	a1, err := bus.Publish(c, js, e)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := bus.Publish(c, js, e)
	if err != nil {
		t.Fatal(err)
	}
	if a1.Duplicate || !a2.Duplicate || a1.Sequence != a2.Sequence {
		t.Fatalf("first %+v second %+v: want one stored message and a duplicate ack", a1, a2)
	}
}

func TestAdvisoryStreamCapturesTerminations(t *testing.T) {
	l := bus.DefaultLayout()
	js := ensured(t, l)
	c := ctx(t)
	id := "poison"
	if _, err := bus.Publish(c, js, &event.Envelope{EventID: event.NewID(), SessionID: id, Kind: event.KindStop, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cons, _ := js.Consumer(c, bus.EventsStream, bus.ConsumerName(bus.PartitionOf(id, l.Partitions)))
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.TermWithReason("test poison"); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(c, bus.AdvisoriesStream)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		info, err := s.Info(c)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("MSG_TERMINATED advisory not captured in MNEMO_ADVISORIES")
}

func TestLayoutValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*bus.Layout)
	}{
		{"zero partitions", func(l *bus.Layout) { l.Partitions = 0 }},
		{"replicas 2", func(l *bus.Layout) { l.Replicas = 2 }},
		{"backoff too long", func(l *bus.Layout) { l.MaxDeliver = 4 }},
		{"no ack wait", func(l *bus.Layout) { l.AckWait = 0 }},
	} {
		l := bus.DefaultLayout()
		tc.mod(&l)
		if l.Validate() == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
	if err := bus.DefaultLayout().Validate(); err != nil {
		t.Fatalf("default layout invalid: %v", err)
	}
}
