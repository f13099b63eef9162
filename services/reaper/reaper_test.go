package reaper_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/session"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/reaper"
	"github.com/nats-io/nats.go/jetstream"
)

// A worker killed with kill -9 while it holds messages (a slow LLM call and
// queued tool uses) has them NAKed by the reaper, so another worker applies
// them within seconds although AckWait is a minute, each exactly once.
func TestDeadWorkerWorkRedeliveredAtOnce(t *testing.T) {
	r := newRig(t, time.Minute)
	cfg := r.reaperConfig("r1")
	cfg.IdleSummary = time.Hour // no synthetic stops in this test
	cfg.StuckAfter = time.Second
	rp, reg := r.startReaper(cfg)
	w1 := r.spawnWorker("w1", "MNEMO_LLM_SIMULATED_LATENCY=60s")

	sessions := []string{"dw-a", "dw-b", "dw-c", "dw-d"}
	tools, last, toolSeqs := r.publishToolUses(sessions, 2)
	ctx := context.Background()
	// w1 holds every tool use: the first of each session in its (slow)
	// compressor call, the second queued behind it.
	r.waitHolding("w1", toolSeqs, 20*time.Second)
	// The audit sees the held messages, and flags their partitions once the
	// oldest is older than StuckAfter (1s here).
	var audit []reaper.PartitionAudit
	testkit.WaitFor(t, 10*time.Second, "the audit to flag stuck partitions", func() bool {
		var err error
		if audit, err = rp.AuditPartitions(ctx); err != nil {
			t.Fatal(err)
		}
		for _, a := range audit {
			if a.Stuck {
				return true
			}
		}
		return false
	})
	ackPending := 0
	for _, a := range audit {
		ackPending += a.AckPending
		if a.AckPending > 0 && a.OldestUnacked <= 0 {
			t.Errorf("partition audit %+v: want the age of its oldest unacked message", a)
		}
	}
	if ackPending < len(toolSeqs) {
		t.Errorf("audit sees %d messages pending ack, want at least %d", ackPending, len(toolSeqs))
	}

	r.spawnWorker("w2")
	r.waitLeasing("w2", 20*time.Second)
	for _, sid := range sessions {
		if r.applied(sid, last[sid]) {
			t.Fatalf("session %s applied before the kill; the test holds nothing", sid)
		}
	}
	killed := time.Now()
	w1.Signal(syscall.SIGKILL)
	for _, sid := range sessions {
		testkit.WaitFor(t, 30*time.Second, "session "+sid+" applied by w2", func() bool { return r.applied(sid, last[sid]) })
	}
	took := time.Since(killed)
	t.Logf("held work applied %s after kill -9 (AckWait %s)", took.Round(time.Millisecond), r.layout.AckWait)
	// Before AckWait ran out, so the reaper's NAK redelivered it (how fast
	// is BenchmarkRecoveryAfterKill's figure).
	if took >= r.layout.AckWait {
		t.Errorf("held work took %s after the kill, not before AckWait %s: the reaper did not redeliver it", took, r.layout.AckWait)
	}
	for _, sid := range sessions {
		if got := storetest.ObservedFrom(r.t, r.store, sid); fmt.Sprint(got) != fmt.Sprint(tools[sid]) {
			t.Errorf("session %s: observations from %v, want exactly once in order %v", sid, got, tools[sid])
		}
	}
	st := rp.Stats()
	if st.DeadWorkers < 1 || st.Naked < int64(len(toolSeqs)) {
		t.Errorf("reaper stats %+v: want the dead worker reaped and its %d messages NAKed", st, len(toolSeqs))
	}
	if n, _ := r.rdb.Exists(ctx, session.InflightKey("w1")).Result(); n != 0 {
		t.Error("dead worker's in-flight registry still there")
	}
	if _, err := r.rdb.ZScore(ctx, session.WorkersKey, "w1").Result(); err == nil {
		t.Error("dead worker still registered")
	}
	if n, _ := r.rdb.SCard(ctx, session.WorkerLocksKey("w1")).Result(); n != 0 {
		t.Errorf("dead worker still holds %d session locks", n)
	}
	hs := httptest.NewServer(daemon.API{}.WithRegistry(reg).Handler(rp.Handler())) // as mnemo-reaper serves it
	defer hs.Close()
	body := httpGet(t, hs.URL+"/metrics")
	for _, want := range []string{"mnemo_reaper_dead_workers_total 1", "mnemo_reaper_consumer_ack_pending", "mnemo_reaper_leader 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A poison event (a kind this worker cannot process) is terminated by the
// worker; the reaper turns the advisory into a DLQ entry with the reason and
// a store row; the session's later events are processed; a replay re-runs it
// under a new event ID that records the original.
func TestPoisonEventDeadLetteredSessionGoesOn(t *testing.T) {
	r := newRig(t, 5*time.Second)
	r.startReaper(r.reaperConfig("r1"))
	r.spawnWorker("w1")
	const sid = "poison-1"
	var want []string
	r.publish(&event.Envelope{SessionID: sid, Kind: event.KindSessionStart, Source: "startup"})
	r.publish(&event.Envelope{SessionID: sid, Kind: event.KindUserPrompt, Prompt: "fix the bug"})
	e := toolUse(sid, 1)
	r.publish(e)
	want = append(want, e.EventID)
	poison := &event.Envelope{SessionID: sid, Kind: "compact_start"}
	poisonSeq := r.publish(poison)
	var lastSeq uint64
	for i := 2; i < 4; i++ {
		e := toolUse(sid, i)
		lastSeq = r.publish(e)
		want = append(want, e.EventID)
	}
	ctx := context.Background()
	testkit.WaitFor(t, 20*time.Second, "later events applied", func() bool { return r.applied(sid, lastSeq) })
	if got := storetest.ObservedFrom(r.t, r.store, sid); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observations from %v, want %v", got, want)
	}
	dlq := r.dlqEntries(sid, 1, 20*time.Second)
	d := dlq[0]
	if d.EventID != poison.EventID || d.Seq != poisonSeq || d.Kind != "terminated" || !strings.Contains(d.Reason, "unknown event kind") || d.Deliveries < 1 {
		t.Errorf("dlq entry %+v: want event %s seq %d terminated with its reason", d, poison.EventID, poisonSeq)
	}
	if env, err := bus.DecodeEvent(d.Envelope); err != nil || env.EventID != poison.EventID {
		t.Errorf("dlq entry does not carry the original envelope: %v", err)
	}
	row := r.deadLetterOf(poison.EventID)

	// The micro service answers with the reaper's figures.
	if m, err := r.nc.Request("$SRV.INFO.mnemo-reaper", nil, 2*time.Second); err != nil || !strings.Contains(string(m.Data), `"mnemo-reaper"`) {
		t.Errorf("micro service info: %v", err)
	}
	m, err := r.nc.Request("mnemo.reaper.stats.r1", nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st reaper.Stats
	if err := json.Unmarshal(m.Data, &st); err != nil || !st.Leader || st.DeadLetters < 1 {
		t.Errorf("stats %s (%v): want the leader with a dead letter", m.Data, err)
	}

	newID, err := reaper.Replay(ctx, r.js, r.store, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reaper.Replay(ctx, r.js, r.store, row.ID); !errors.Is(err, reaper.ErrAlreadyReplayed) {
		t.Errorf("second replay: %v, want ErrAlreadyReplayed", err)
	}
	if got, _ := r.store.DeadLetter(ctx, row.ID); got.ReplayedAs != newID {
		t.Errorf("dead letter replayed_as %q, want %q", got.ReplayedAs, newID)
	}
	// The worker re-runs it: still poison, so it is dead again, now under
	// the new ID, with replay_of pointing at the original.
	dlq = r.dlqEntries(sid, 2, 20*time.Second)
	again := dlq[1]
	env, err := bus.DecodeEvent(again.Envelope)
	if err != nil || again.EventID != newID || env.ReplayOf != poison.EventID || again.Seq <= lastSeq {
		t.Errorf("replayed dlq entry %+v (replay_of %q): want event %s replaying %s", again, env.ReplayOf, newID, poison.EventID)
	}
}

// MAX_DELIVERIES: a consumer that never acks an event exhausts its deliveries;
// the DLQ entry and the store row carry the delivery count. Two reapers and a
// reaper restart write it once.
func TestMaxDeliveriesDeadLetteredOnce(t *testing.T) {
	const sid = "flaky-1"
	r, e, seq := exhaustedEvent(t, sid)
	ctx := context.Background()
	r.startReaper(r.reaperConfig("r1"))
	r.startReaper(r.reaperConfig("r2"))
	d := r.dlqEntries(sid, 1, 20*time.Second)[0]
	if d.Kind != "max_deliveries" || d.Deliveries != 2 || d.Seq != seq || d.EventID != e.EventID || !strings.Contains(d.Reason, "flaky") {
		t.Errorf("dlq entry %+v: want max deliveries 2 of seq %d", d, seq)
	}
	row := r.deadLetterOf(e.EventID)
	if row.Deliveries != 2 || row.SessionID != sid || row.Seq != seq {
		t.Errorf("dead letter row %+v", row)
	}
	// A new leader re-reading the advisory stream adds nothing.
	if err := r.js.DeleteConsumer(ctx, bus.AdvisoriesStream, reaper.AdvisoryConsumer); err != nil {
		t.Fatal(err)
	}
	r.startReaper(r.reaperConfig("r3"))
	// The advisory consumer is back and has read the stream again ...
	waitAdvisoriesRead(t, r)
	// ... and a quiet period after the last change shows nothing was added.
	written := func() int {
		rows, err := r.store.DeadLetters(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		dlq, err := r.js.Stream(ctx, bus.DLQStream)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows) + len(subjectMsgs(t, dlq, bus.DLQSubject(sid)))
	}
	if n := testkit.Settled(t, "dead letter rows and dlq entries", 2, 20*time.Second, 2*time.Second, written); n != 2 {
		t.Errorf("%d dead letter rows and dlq entries together, want 1 of each", n)
	}
}

// waitAdvisoriesRead waits until the reaper's advisory consumer exists and
// has delivered and acknowledged everything in the advisory stream.
func waitAdvisoriesRead(t *testing.T, r *rig) {
	t.Helper()
	ctx := context.Background()
	testkit.WaitFor(t, 20*time.Second, "the reaper to read the advisories", func() bool {
		c, err := r.js.Consumer(ctx, bus.AdvisoriesStream, reaper.AdvisoryConsumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
	})
}

// exhaustedEvent is a rig where JetStream gave up on session sid's one
// event, e at seq: a consumer with MaxDeliver 2 whose handler never acks.
func exhaustedEvent(t *testing.T, sid string) (r *rig, e *event.Envelope, seq uint64) {
	t.Helper()
	r = newRig(t, 5*time.Second)
	e = toolUse(sid, 1)
	seq = r.publish(e)
	ctx := context.Background()
	cons, err := r.events.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "flaky", FilterSubject: bus.StoredSubject(sid, r.layout.Partitions),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 300 * time.Millisecond, MaxDeliver: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range b.Messages() {
			n++ // never acked: the consumer's handler "crashes"
		}
		if n != 1 {
			t.Fatalf("delivery %d: got %d messages", i+1, n)
		}
	}
	// The server gives up (and advises) when it would deliver a third time.
	b, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range b.Messages() {
		t.Fatal("delivered a third time past MaxDeliver 2")
	}
	return r, e, seq
}

// Deliveries exhausted by a slow worker whose actor then applied the event
// from the stream: not dead, so no dead letter (a replay would duplicate it).
func TestMaxDeliveriesOfAnAppliedEventIsNotDeadLettered(t *testing.T) {
	const sid = "slow-1"
	r, e, seq := exhaustedEvent(t, sid)
	ctx := context.Background()
	if _, err := r.store.Apply(ctx, store.Unit{SessionID: sid, Fence: 1, Events: []store.AppliedEvent{
		{EventID: e.EventID, Seq: seq, Kind: string(e.Kind), AcceptedAt: time.Now()},
	}}); err != nil {
		t.Fatal(err)
	}
	r.startReaper(r.reaperConfig("r1"))
	waitAdvisoriesRead(t, r)
	rows, err := r.store.DeadLetters(ctx, 100, 0)
	if err != nil || len(rows) != 0 {
		t.Fatalf("%d dead letter rows (%v) for an applied event, want none", len(rows), err)
	}
}

// Two reapers: one leader; kill -9 the leader and the other takes over.
func TestLeaderFailover(t *testing.T) {
	r := newRig(t, 5*time.Second)
	addrs := map[string]string{}
	procs := map[string]*testkit.Proc{}
	for _, id := range []string{"ra", "rb"} {
		procs[id] = r.spawnReaper(id, "127.0.0.1:0")
		addrs[id] = procs[id].WaitLog(t, "reaper listening", 20*time.Second)
	}
	ctx := context.Background()
	var leader string
	testkit.WaitFor(t, 20*time.Second, "a leader", func() bool {
		leader, _ = reaper.LeaderID(ctx, r.rdb)
		return leader != ""
	})
	// Both up: exactly one says it leads, the whole time.
	testkit.WaitFor(t, 20*time.Second, "both reapers healthy", func() bool {
		return healthz(addrs["ra"]) != "" && healthz(addrs["rb"]) != ""
	})
	for i := 0; i < 10; i++ {
		n := 0
		for _, a := range addrs {
			if healthz(a) == "leader" {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d reapers lead at once", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	other := "ra"
	if leader == "ra" {
		other = "rb"
	}
	procs[leader].Signal(syscall.SIGKILL)
	// A hang guard ten times the leader TTL (3 s); how fast the takeover is
	// lives in BenchmarkLeaderTakeover.
	took := testkit.WaitFor(t, 30*time.Second, "the other reaper to lead", func() bool {
		id, _ := reaper.LeaderID(ctx, r.rdb)
		return id == other && healthz(addrs[other]) == "leader"
	})
	t.Logf("%s took over %s after %s was killed", other, took.Round(time.Millisecond), leader)
}

// An idle session gets exactly one summary, from a synthetic stop published
// on the normal path, with two reapers, a kill -9 of the leader, a restart
// and Redis metadata lost and rebuilt meanwhile.
func TestIdleSessionSummarizedOnce(t *testing.T) {
	r := newRig(t, 5*time.Second)
	r.spawnWorker("w1")
	ra := r.spawnReaper("ra", "127.0.0.1:0")
	rb := r.spawnReaper("rb", "127.0.0.1:0")
	const sid = "idle-1"
	ctx := context.Background()
	meta := session.NewMetaStore(r.rdb)
	var lastID string
	var lastSeq uint64
	for i, e := range []*event.Envelope{
		{SessionID: sid, Kind: event.KindSessionStart, Source: "startup"},
		{SessionID: sid, Kind: event.KindUserPrompt, Prompt: "refactor the parser"},
		toolUse(sid, 1),
		toolUse(sid, 2),
	} {
		lastSeq = r.publish(e)
		lastID = e.EventID
		// As ingest does on every accepted event.
		if err := meta.Touch(ctx, sid, "acme", "claude-code", "/w", e.At); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	summaries := func() int {
		s, err := r.store.SessionSummaries(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}
	testkit.WaitFor(t, 30*time.Second, "the idle summary", func() bool { return summaries() == 1 })
	stops := r.subjectMsgs(bus.StoredSubject(sid, r.layout.Partitions))
	stop, err := bus.DecodeEvent(stops[len(stops)-1].Data)
	if err != nil || stop.Kind != event.KindStop || stop.Source != reaper.IdleSource || stops[len(stops)-1].Sequence <= lastSeq {
		t.Fatalf("last stored event %+v: want the synthetic idle stop", stop)
	}
	if stop.Project != "acme" {
		t.Errorf("synthetic stop project %q, want acme", stop.Project)
	}
	lastRaw := stops[len(stops)-2]
	if want := reaper.StopID(sid, lastID, lastRaw.Time); stop.EventID != want {
		t.Errorf("stop ID %s, want the deterministic %s", stop.EventID, want)
	}

	// Kill the leader, restart a reaper, and lose the session's Redis
	// metadata: the survivors rebuild it from the store (the session is
	// active there), see it idle again, find its stop, and publish nothing.
	leader, _ := reaper.LeaderID(ctx, r.rdb)
	for _, p := range []*testkit.Proc{ra, rb} {
		if p.ID == leader {
			p.Signal(syscall.SIGKILL)
		}
	}
	r.spawnReaper("rc", "127.0.0.1:0")
	if err := r.rdb.Del(ctx, session.MetaKey(sid)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.rdb.ZRem(ctx, session.ActiveKey, sid).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "metadata rebuilt from the store", func() bool {
		m, err := meta.Get(ctx, sid)
		return err == nil && m.Project == "acme"
	})
	testkit.WaitFor(t, 20*time.Second, "the rebuilt session to leave the active set", func() bool {
		_, err := r.rdb.ZScore(ctx, session.ActiveKey, sid).Result()
		return err != nil
	})
	stopsStored := func() int {
		n := 0
		for _, m := range r.subjectMsgs(bus.StoredSubject(sid, r.layout.Partitions)) {
			if e, err := bus.DecodeEvent(m.Data); err == nil && e.Kind == event.KindStop {
				n++
			}
		}
		return n
	}
	// Quiet for several idle scans (every 500 ms, idle after 2 s) after the
	// last change: a second stop or summary would have shown.
	if n := testkit.Settled(t, "stops and summaries", 2, 20*time.Second, 4*time.Second,
		func() int { return summaries() + stopsStored() }); n != 2 {
		t.Errorf("%d summaries, %d stops, want exactly 1 of each", summaries(), stopsStored())
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := reaper.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg.Addr = "0.0.0.0:9000"
	cfg.Tick = cfg.LeaderTTL
	cfg.IdleSummary = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"reachable from other machines", "MNEMO_REAPER_TICK", "MNEMO_IDLE_SUMMARY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	scraped := reaper.DefaultConfig()
	scraped.Addr, scraped.Token = "0.0.0.0:9000", "s3cret"
	if err := scraped.Validate(); err != nil {
		t.Fatalf("off loopback with a token: %v", err)
	}
}

func TestDeterministicIDs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := reaper.StopID("s1", "01J0000000000000000000000A", at)
	if a != reaper.StopID("s1", "01J0000000000000000000000A", at) {
		t.Error("stop ID not deterministic")
	}
	if a == reaper.StopID("s1", "01J0000000000000000000000B", at) || a == reaper.StopID("s2", "01J0000000000000000000000A", at) {
		t.Error("stop IDs collide across sessions or last events")
	}
	if !event.ValidEventID(a) {
		t.Errorf("stop ID %q is not a valid event ID", a)
	}
	if ts, ok := event.IDTime(a); !ok || !ts.Equal(at.Add(time.Millisecond)) {
		t.Errorf("stop ID time %v, want just after the last event", ts)
	}
	d := store.DeadLetter{EventID: "e1", Seq: 7, At: at}
	if reaper.ReplayID(d) != reaper.ReplayID(d) || !event.ValidEventID(reaper.ReplayID(d)) {
		t.Error("replay ID not deterministic or invalid")
	}
}

// dlqEntries waits until the DLQ holds n entries for the session and returns
// them in order; more than n fails.
func (r *rig) dlqEntries(sid string, n int, timeout time.Duration) []reaper.Entry {
	r.t.Helper()
	ctx := context.Background()
	s, err := r.js.Stream(ctx, bus.DLQStream)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []reaper.Entry
	testkit.WaitFor(r.t, timeout, fmt.Sprintf("%d dlq entries", n), func() bool {
		msgs := subjectMsgs(r.t, s, bus.DLQSubject(sid))
		out = out[:0]
		for _, m := range msgs {
			var e reaper.Entry
			if err := json.Unmarshal(m.Data, &e); err != nil {
				r.t.Fatal(err)
			}
			out = append(out, e)
		}
		return len(out) >= n
	})
	if len(out) != n {
		r.t.Fatalf("%d dlq entries, want %d: %+v", len(out), n, out)
	}
	return out
}

func (r *rig) deadLetterOf(eventID string) store.DeadLetter {
	r.t.Helper()
	// The reaper publishes the DLQ entry before it writes the row, so a
	// test that saw the entry waits for the row.
	var found store.DeadLetter
	testkit.WaitFor(r.t, 10*time.Second, "dead letter row for "+eventID, func() bool {
		rows, err := r.store.DeadLetters(context.Background(), 100, 0)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, d := range rows {
			if d.EventID == eventID {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// healthz returns "leader", "follower", or "" when the reaper's /healthz
// does not say ok (leadership is read from its /metrics: probes say only up).
func healthz(addr string) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return ""
	}
	var h struct {
		Status string `json:"status"`
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || h.Status != "ok" {
		return ""
	}
	resp, err = c.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "\nmnemo_reaper_leader 1\n") {
		return "leader"
	}
	return "follower"
}

// A replay asked over the bus (as query's ops page asks) is done by a
// reaper: the original event is republished under its replay ID and the
// dead letter marked; a second ask reports ErrAlreadyReplayed with that ID,
// and a malformed request gets the reaper's reason.
func TestReplayOverTheBus(t *testing.T) {
	r := newRig(t, 30*time.Second)
	r.startReaper(r.reaperConfig("r1"))
	ctx := context.Background()
	orig := &event.Envelope{EventID: event.NewID(), SessionID: "bus-replay-1", Project: "acme", Agent: "claude-code",
		Kind: event.KindUserPrompt, At: time.Now().UTC(), Prompt: "replay me"}
	payload, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.store.AddDeadLetter(ctx, store.DeadLetter{EventID: orig.EventID, SessionID: orig.SessionID, Seq: 1,
		Reason: "test", Deliveries: 5, Payload: payload, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var newID string
	testkit.WaitFor(t, 10*time.Second, "a reaper answering on "+bus.ReplaySubject, func() bool {
		newID, err = bus.RequestReplay(ctx, r.nc, id)
		return !errors.Is(err, bus.ErrNoReaper)
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.store.DeadLetter(ctx, id)
	if err != nil || d.ReplayedAs != newID || newID == orig.EventID || !event.ValidEventID(newID) {
		t.Fatalf("dead letter %+v (%v) after replay as %q", d, err, newID)
	}
	msgs := r.subjectMsgs(bus.EventsPrefix + ".>")
	if len(msgs) != 1 {
		t.Fatalf("%d events on the stream, want the one replayed", len(msgs))
	}
	if env, err := bus.DecodeEvent(msgs[0].Data); err != nil || env.EventID != newID || env.ReplayOf != orig.EventID {
		t.Fatalf("event on the stream %+v (%v): want %s replaying %s", env, err, newID, orig.EventID)
	}
	again, err := bus.RequestReplay(ctx, r.nc, id)
	if !errors.Is(err, bus.ErrAlreadyReplayed) || again != newID {
		t.Fatalf("second replay: %q %v, want ErrAlreadyReplayed as %s", again, err, newID)
	}
	if m, err := r.nc.Request(bus.ReplaySubject, []byte(`{"id":0}`), 5*time.Second); err != nil || !strings.Contains(string(m.Data), "positive") {
		t.Fatalf("malformed request: %v %v", m, err)
	}
}
