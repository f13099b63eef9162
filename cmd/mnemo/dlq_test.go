package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

func runDLQCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(append([]string{"dlq"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// mnemo dlq list, show and replay against a real store file and a real
// JetStream server: replay republishes the original under a new event ID with
// replay_of, marks the dead letter, and refuses to replay it twice.
func TestDLQListShowReplay(t *testing.T) {
	cb := startCLIBackends(t)
	ns, js, layout, dsn, st := cb.nats, cb.js, cb.layout, cb.dsn, cb.store
	ctx := context.Background()
	orig := &event.Envelope{EventID: event.NewID(), SessionID: "cli-1", Project: "acme", Agent: "claude-code",
		Kind: event.KindToolUse, At: time.Now().UTC(), Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"make"}`)}}
	payload, _ := json.Marshal(orig)
	goodID, err := st.AddDeadLetter(ctx, store.DeadLetter{EventID: orig.EventID, SessionID: "cli-1", Seq: 41,
		Reason: "delivered 5 times without an ack", Deliveries: 5, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	badID, err := st.AddDeadLetter(ctx, store.DeadLetter{EventID: "junk-1", SessionID: "cli-2", Seq: 42,
		Reason: "undecodable event", Deliveries: 1, Payload: []byte("{not json")})
	if err != nil {
		t.Fatal(err)
	}

	// The store comes from $MNEMO_HOME by default.
	code, out, errs := runDLQCmd(t, "list")
	if code != 0 || !strings.Contains(out, "cli-1") || !strings.Contains(out, "delivered 5 times") || !strings.Contains(out, "cli-2") {
		t.Fatalf("list: code %d\n%s%s", code, out, errs)
	}
	code, out, errs = runDLQCmd(t, "show", itoa(goodID))
	if code != 0 || !strings.Contains(out, orig.EventID) || !strings.Contains(out, `"command": "make"`) {
		t.Fatalf("show: code %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runDLQCmd(t, "show", "999"); code == 0 {
		t.Error("show of a missing dead letter succeeded")
	}
	if code, _, _ := runDLQCmd(t, "replay"); code != 2 {
		t.Errorf("replay without an ID: code %d, want 2", code)
	}

	code, out, errs = runDLQCmd(t, "replay", itoa(goodID), "--nats", ns.URL(), "--store", dsn)
	if code != 0 || !strings.Contains(out, "replayed dead letter") {
		t.Fatalf("replay: code %d\n%s%s", code, out, errs)
	}
	d, err := st.DeadLetter(ctx, goodID)
	if err != nil || d.ReplayedAs == "" || d.ReplayedAs == orig.EventID {
		t.Fatalf("dead letter after replay: %+v %v", d, err)
	}
	s, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(ctx, bus.StoredSubject("cli-1", layout.Partitions))
	if err != nil {
		t.Fatal(err)
	}
	got, err := bus.DecodeEvent(raw.Data)
	if err != nil || got.EventID != d.ReplayedAs || got.ReplayOf != orig.EventID || got.Tool == nil || got.Tool.Name != "Bash" {
		t.Fatalf("replayed event %+v (%v): want the original under %s with replay_of %s", got, err, d.ReplayedAs, orig.EventID)
	}
	if raw.Header.Get(jetstream.MsgIDHeader) != d.ReplayedAs {
		t.Errorf("replayed Nats-Msg-Id %q, want %q", raw.Header.Get(jetstream.MsgIDHeader), d.ReplayedAs)
	}

	code, _, errs = runDLQCmd(t, "replay", itoa(goodID), "--nats", ns.URL())
	if code == 0 || !strings.Contains(errs, "already replayed") {
		t.Errorf("second replay: code %d, %s", code, errs)
	}
	// --all: the replayed one is skipped, the undecodable one cannot be.
	code, _, errs = runDLQCmd(t, "replay", "--all", "--nats", ns.URL())
	if code == 0 || !strings.Contains(errs, "not an event envelope") || strings.Contains(errs, "already replayed") {
		t.Errorf("replay --all: code %d, %s", code, errs)
	}
	if d, _ := st.DeadLetter(ctx, badID); d.ReplayedAs != "" {
		t.Error("undecodable dead letter marked replayed")
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("events stream holds %d messages (%v), want the one replay", info.State.Msgs, err)
	}

	code, out, _ = runDLQCmd(t, "list", "--json")
	var rows []store.DeadLetter
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Errorf("list --json: code %d\n%s", code, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
