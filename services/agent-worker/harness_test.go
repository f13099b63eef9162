package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pipeline is a real broker, a real redis-server and a real store that
// workers (in-process or child processes) run against.
type pipeline struct {
	t        testing.TB
	nats     *testkit.NATS
	redis    *testkit.Redis
	nc       *nats.Conn
	js       jetstream.JetStream
	storeDSN string
	store    store.Store
	layout   bus.Layout

	mu       sync.Mutex
	sessions map[string]*sessionLog
}

// sessionLog is what the test published for one session, in accept order.
type sessionLog struct {
	events   []string // every accepted event ID
	tools    []string // accepted tool_use event IDs, in order
	stops    int
	prompts  int
	lastSeq  uint64
	position int // next event index to publish
}

func newPipeline(t testing.TB, dsn string) *pipeline {
	t.Helper()
	p := &pipeline{t: t, nats: testkit.StartNATS(t), redis: testkit.StartRedis(t), sessions: map[string]*sessionLog{}}
	p.layout = testkit.TestLayout()
	p.layout.AckWait = 3 * time.Second
	p.nc, p.js = p.nats.Connect(t)
	testkit.Ensure(t, p.js, p.layout)
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "mnemo.db")
	}
	p.storeDSN = dsn
	p.store = storetest.Open(t, dsn)
	return p
}

// script is the event sequence of a session of n events: start, a prompt,
// tool uses with another prompt every 10 events, and a stop at the end.
func script(i, n int) event.Kind {
	switch {
	case i == 0:
		return event.KindSessionStart
	case i == 1 || i%10 == 0:
		return event.KindUserPrompt
	case i == n-1:
		return event.KindStop
	default:
		return event.KindToolUse
	}
}

// publish publishes events rounds of every session, interleaved across
// sessions, and records what was accepted. It retries a publish that failed
// (the broker may be restarting) with the same event ID, as the hook's spool
// would, so an event is accepted at most once.
func (p *pipeline) publish(ctx context.Context, sessions []string, perSession, rounds int) {
	p.t.Helper()
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, sid := range sessions {
			p.mu.Lock()
			sl := p.sessions[sid]
			if sl == nil {
				sl = &sessionLog{}
				p.sessions[sid] = sl
			}
			i := sl.position
			sl.position++
			p.mu.Unlock()
			if i >= perSession {
				continue
			}
			e := &event.Envelope{
				EventID: event.NewID(), SessionID: sid, Project: "proj-" + sid[len(sid)-1:], Agent: "claude-code",
				Kind: script(i, perSession), At: time.Now(), Cwd: "/w/" + sid,
			}
			switch e.Kind {
			case event.KindUserPrompt:
				e.Prompt = fmt.Sprintf("prompt %d of %s", i, sid)
			case event.KindToolUse:
				e.Tool = &event.Tool{Name: "Read", Input: json.RawMessage(fmt.Sprintf(`{"file_path":"/w/%s/f%d.go"}`, sid, i))}
			case event.KindStop:
				e.LastAssistantMessage = "done " + sid
			}
			wg.Add(1)
			sem <- struct{}{}
			// Events of one session are published one round at a time, so
			// the accept order of a session is the round order.
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ack := p.mustPublish(ctx, e)
				p.mu.Lock()
				defer p.mu.Unlock()
				sl.events = append(sl.events, e.EventID)
				switch e.Kind {
				case event.KindToolUse:
					sl.tools = append(sl.tools, e.EventID)
				case event.KindStop:
					sl.stops++
				case event.KindUserPrompt:
					sl.prompts++
				}
				sl.lastSeq = max(sl.lastSeq, ack.Sequence)
			}()
		}
		wg.Wait()
	}
}

func (p *pipeline) mustPublish(ctx context.Context, e *event.Envelope) *jetstream.PubAck {
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := bus.Publish(pctx, p.js, e)
		cancel()
		if err == nil {
			return ack
		}
		if ctx.Err() != nil {
			p.t.Errorf("publish %s: %v", e.EventID, err)
			return &jetstream.PubAck{}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recompress publishes a recompress request for sid and waits until the
// worker applied it.
func (p *pipeline) recompress(ctx context.Context, sid string) {
	p.t.Helper()
	ack, err := bus.Publish(ctx, p.js, &event.Envelope{EventID: event.NewID(), SessionID: sid, Kind: event.KindRecompress, At: time.Now()})
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	if p.sessions[sid] == nil {
		p.sessions[sid] = &sessionLog{}
	}
	p.sessions[sid].lastSeq = ack.Sequence
	p.mu.Unlock()
	p.waitApplied(30 * time.Second)
}

// waitApplied waits until every session's cursor reached its last accepted
// sequence.
func (p *pipeline) waitApplied(timeout time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	ctx := context.Background()
	for {
		behind := 0
		p.mu.Lock()
		for sid, sl := range p.sessions {
			c, err := p.store.Cursor(ctx, sid)
			if err != nil || c.LastSeq < sl.lastSeq {
				behind++
			}
		}
		p.mu.Unlock()
		if behind == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			p.t.Fatalf("%d sessions not fully applied after %s", behind, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkInvariants checks what the design promises: every accepted event
// applied exactly once; one observation per tool use, in accept order; one
// summary per stop; prompts numbered 1..n.
func (p *pipeline) checkInvariants() {
	p.t.Helper()
	ctx := context.Background()
	p.mu.Lock()
	defer p.mu.Unlock()
	var all []string
	for sid, sl := range p.sessions {
		all = append(all, sl.events...)
		obs, err := p.store.SessionObservations(ctx, sid)
		if err != nil {
			p.t.Fatalf("observations of %s: %v", sid, err)
		}
		var got []string
		for _, o := range obs {
			got = append(got, o.SourceEventIDs...)
		}
		if fmt.Sprint(got) != fmt.Sprint(sl.tools) {
			p.t.Errorf("session %s: observations from %d events %v, want %d in accept order %v", sid, len(got), head(got), len(sl.tools), head(sl.tools))
		}
		if !sort.SliceIsSorted(obs, func(i, j int) bool { return obs[i].AcceptedAt.Before(obs[j].AcceptedAt) }) {
			p.t.Errorf("session %s: observations not in accept-time order", sid)
		}
		sums, err := p.store.SessionSummaries(ctx, sid)
		if err != nil {
			p.t.Fatal(err)
		}
		if len(sums) != sl.stops {
			p.t.Errorf("session %s: %d summaries, want %d", sid, len(sums), sl.stops)
		}
		prompts, err := p.store.Prompts(ctx, sid)
		if err != nil {
			p.t.Fatal(err)
		}
		if len(prompts) != sl.prompts {
			p.t.Errorf("session %s: %d prompts, want %d", sid, len(prompts), sl.prompts)
		}
		for i, pr := range prompts {
			if pr.Number != i+1 {
				p.t.Errorf("session %s: prompt %d numbered %d", sid, i+1, pr.Number)
				break
			}
		}
	}
	applied, err := p.store.AppliedSeqs(ctx, all)
	if err != nil {
		p.t.Fatal(err)
	}
	if len(applied) != len(all) {
		p.t.Errorf("%d of %d accepted events applied", len(applied), len(all))
	}
}

func head(s []string) []string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}

func sessionIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// republish stores an already accepted event again under a fresh message ID,
// as a replay after JetStream's dedupe window would.
func republish(t testing.TB, p *pipeline, sid, eventID string) {
	t.Helper()
	republishEnvelope(t, p, &event.Envelope{EventID: eventID, SessionID: sid, Kind: event.KindToolUse, At: time.Now(),
		Tool: &event.Tool{Name: "Read", Input: json.RawMessage(`{"file_path":"/again"}`)}})
}

// republishEnvelope stores e, an already accepted event, again under a
// fresh message ID.
func republishEnvelope(t testing.TB, p *pipeline, e *event.Envelope) {
	t.Helper()
	sid := e.SessionID
	m, err := bus.EventMsg(e)
	if err != nil {
		t.Fatal(err)
	}
	m.Header.Set(jetstream.MsgIDHeader, event.NewID())
	ack, err := p.js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.sessions[sid].lastSeq = ack.Sequence
	p.mu.Unlock()
}
