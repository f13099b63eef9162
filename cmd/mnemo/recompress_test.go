package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

// mnemo recompress queues the sessions whose events the stream holds and
// leaves memory without stored events (imported) as it is, saying how much
// it skipped; an earlier recompress request alone is no stored event.
func TestRecompressSkipsMemoryWithoutStoredEvents(t *testing.T) {
	cb := startCLIBackends(t)
	home, ns, js, layout, st := cb.home, cb.nats, cb.js, cb.layout, cb.store
	ctx := context.Background()

	// A live session: its events are in the stream and applied.
	live := "live-1"
	var applied []store.AppliedEvent
	for _, kind := range []event.Kind{event.KindSessionStart, event.KindToolUse} {
		e := &event.Envelope{EventID: event.NewID(), SessionID: live, Project: "acme", Kind: kind, At: time.Now().UTC()}
		if kind == event.KindToolUse {
			e.Tool = &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make"}`)}
		}
		ack, err := bus.Publish(ctx, js, e)
		if err != nil {
			t.Fatal(err)
		}
		applied = append(applied, store.AppliedEvent{EventID: e.EventID, Seq: ack.Sequence, Kind: string(kind), AcceptedAt: time.Now().UTC()})
	}
	if _, err := st.Apply(ctx, store.Unit{SessionID: live, Events: applied, Session: &store.SessionUpdate{Project: "acme"},
		Observations: []store.Observation{{SessionID: live, Project: "acme", Type: store.TypeDiscovery, Title: "Ran make: exit 0",
			AcceptedAt: time.Now().UTC(), SourceEventIDs: []string{applied[1].EventID}}}}); err != nil {
		t.Fatal(err)
	}

	// Imported memory: a session with two observations through `mnemo
	// import`, and no events.
	imported := "old-1"
	old := time.Now().UTC().Add(-48 * time.Hour)
	exp := &store.SessionExport{Session: store.Session{ID: imported, Project: "acme", Agent: "claude-code", Status: store.StatusCompleted,
		StartedAt: old, LastEventAt: old}}
	for i, title := range []string{"Chose exponential backoff", "Retries capped at five"} {
		exp.Observations = append(exp.Observations, store.ImportedObservation{Key: "test:" + title, Observation: store.Observation{
			SessionID: imported, Project: "acme", Type: store.TypeDecision, Title: title, AcceptedAt: old.Add(time.Duration(i) * time.Minute)}})
	}
	b, _ := json.Marshal(exportLine{Kind: "session", SessionExport: exp})
	file := filepath.Join(home, "old.jsonl")
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runMain([]string{"import", file}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("import: code %d\n%s%s", code, out.String(), errb.String())
	}
	// A recompress request queued for it before (by an older mnemo) is no
	// event to rebuild from.
	if _, err := bus.Publish(ctx, js, &event.Envelope{EventID: event.NewID(), SessionID: imported, Project: "acme",
		Kind: event.KindRecompress, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	lastSeq := func(sid string) uint64 {
		m, err := stream.GetLastMsgForSubject(ctx, bus.StoredSubject(sid, layout.Partitions))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return m.Sequence
	}
	liveBefore, importedBefore := lastSeq(live), lastSeq(imported)

	for run := 1; run <= 2; run++ {
		out.Reset()
		errb.Reset()
		code := runMain([]string{"recompress", "--project", "acme", "--nats", ns.URL()}, strings.NewReader(""), &out, &errb)
		if code != 0 {
			t.Fatalf("run %d: code %d\n%s%s", run, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), "recompression of 1 session(s) of acme queued") ||
			!strings.Contains(out.String(), "skipped 1 session(s) with no stored events") ||
			!strings.Contains(out.String(), "their 2 observation(s) are kept") {
			t.Errorf("run %d said:\n%s", run, out.String())
		}
		if got := lastSeq(imported); got != importedBefore {
			t.Errorf("run %d: a recompress request was queued for the imported session", run)
		}
		m, err := stream.GetLastMsgForSubject(ctx, bus.StoredSubject(live, layout.Partitions))
		if err != nil {
			t.Fatal(err)
		}
		if e, err := bus.DecodeEvent(m.Data); err != nil || e.Kind != event.KindRecompress || m.Sequence <= liveBefore {
			t.Errorf("run %d: the live session's last event is %+v (%v), want a new recompress request", run, e, err)
		}
		liveBefore = m.Sequence
	}
	if obs, _ := st.SessionObservations(ctx, imported); len(obs) != 2 {
		t.Errorf("imported session holds %d observations, want its 2", len(obs))
	}
}
