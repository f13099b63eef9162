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
	time.Sleep(500 * time.Millisecond)
	hub.Start()

	deadline := time.Now().Add(30 * time.Second)
	var got map[string][]string
	for {
		got = map[string][]string{}
		n := 0
		s, err := hubJS.Stream(context.Background(), bus.EventsStream)
		if err == nil {
			if info, err := s.Info(context.Background()); err == nil {
				for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
					m, err := s.GetMsg(context.Background(), seq)
					if err != nil {
						continue
					}
					e, _ := bus.DecodeEvent(m.Data)
					got[e.SessionID] = append(got[e.SessionID], e.EventID)
					n++
				}
			}
		}
		if n >= 100 {
			if n != 100 {
				t.Fatalf("%d events upstream, want 100 exactly once", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 100 events forwarded 30 s after the link returned", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for sid, ids := range want {
		if fmt.Sprint(got[sid]) != fmt.Sprint(ids) {
			t.Fatalf("session %s forwarded out of order", sid)
		}
	}
}
