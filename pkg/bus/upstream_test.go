package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// A laptop's local server keeps accepting events while the shared cluster is
// unreachable; once it is back, all of them reach its stream exactly once, in
// order per session.
func TestForwarderDeliversAfterTheLinkReturns(t *testing.T) {
	hub := testkit.StartNATS(t)
	local := testkit.StartNATS(t)
	_, hubJS := hub.Connect(t)
	_, localJS := local.Connect(t)
	testkit.Ensure(t, hubJS, testkit.TestLayout())
	testkit.Ensure(t, localJS, testkit.TestLayout())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	f := &bus.Forwarder{Local: localJS, Upstream: hubJS, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Second}
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	hub.Shutdown() // the train enters the tunnel
	want := map[string][]string{}
	for i := 0; i < 10; i++ {
		for s := 0; s < 10; s++ {
			sid := fmt.Sprintf("laptop-%d", s)
			e := &event.Envelope{EventID: event.NewID(), SessionID: sid, Kind: event.KindUserPrompt, At: time.Now(), Prompt: fmt.Sprint(i)}
			if _, err := bus.Publish(context.Background(), localJS, e); err != nil {
				t.Fatalf("local accept while the link is down: %v", err)
			}
			want[sid] = append(want[sid], e.EventID)
		}
	}
	// The forwarder holds the first event and retries it while the link is
	// down.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := localJS.Consumer(context.Background(), bus.EventsStream, bus.UpstreamConsumer)
		if err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.NumAckPending == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the forwarder never took an event while the link was down")
		}
	}
	hub.Start()

	var got map[string][]string
	upstream := func() int {
		got = map[string][]string{}
		n := 0
		s, err := hubJS.Stream(context.Background(), bus.EventsStream)
		if err != nil {
			return 0
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return 0
		}
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			if err != nil {
				continue
			}
			e, _ := bus.DecodeEvent(m.Data)
			got[e.SessionID] = append(got[e.SessionID], e.EventID)
			n++
		}
		return n
	}
	// All arrive, and a quiet period after the last change shows no copy.
	if n := testkit.Settled(t, "events upstream", 100, 30*time.Second, 2*time.Second, upstream); n != 100 {
		t.Fatalf("%d events upstream, want 100 exactly once", n)
	}
	upstream()
	for sid, ids := range want {
		if fmt.Sprint(got[sid]) != fmt.Sprint(ids) {
			t.Fatalf("session %s forwarded out of order", sid)
		}
	}
}
