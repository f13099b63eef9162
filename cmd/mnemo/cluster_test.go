package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

// accepted is what the hook-facing ingest said 202 to, per session in order.
type accepted struct {
	mu    sync.Mutex
	all   map[string]uint64   // event ID → seq
	tools map[string][]string // session → tool_use event IDs in accept order
	last  map[string]uint64   // session → highest seq
}

// TestClusterChaos runs the clustered topology on one machine: a real 3-node
// JetStream cluster with R3 streams, two workers as child processes, the
// PostgreSQL store, and ingest taking load over HTTP. Mid-load the stream
// leader is shut down and a worker is killed with -9. Then: no event ingest
// answered 202 for is missing from the stream or stored twice, every one is
// applied exactly once, and each session's observations keep accept order.
func TestClusterChaos(t *testing.T) {
	cluster := testkit.StartCluster(t, 3)
	nc, js := cluster.Connect(t)
	layout := testkit.TestLayout()
	layout.Replicas = 3
	layout.AckWait = 5 * time.Second
	testkit.Ensure(t, js, layout)
	dsn := testkit.StartPostgres(t)
	rds := testkit.StartRedis(t)

	in, err := ingest.New(t.Context(), ingest.Config{PublishTimeout: 2 * time.Second}, ingest.Deps{NC: nc, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	srv := httptest.NewServer(in.Handler())
	defer srv.Close()

	workerBin := buildWorker(t)
	spawn := func(id string) *testkit.Proc {
		return testkit.StartProc(t, id, workerBin, "MNEMO_NATS_URL="+cluster.URLs(), "MNEMO_REDIS_URL="+rds.URL(), "MNEMO_STORE="+dsn,
			"MNEMO_WORKER_ID="+id, fmt.Sprintf("MNEMO_PARTITIONS=%d", layout.Partitions), "MNEMO_REPLICAS=3",
			"MNEMO_ACK_WAIT="+layout.AckWait.String(), "MNEMO_BACKOFF=none", "MNEMO_LINGER=500ms", "MNEMO_LOCK_TTL=3s",
			"MNEMO_MEMBER_TTL=2s", "MNEMO_REBALANCE=500ms", "MNEMO_LLM_SIMULATED_LATENCY=0-10ms", "MNEMO_LOG_LEVEL=warn")
	}
	w1 := spawn("w1")
	spawn("w2")

	acc := &accepted{all: map[string]uint64{}, tools: map[string][]string{}, last: map[string]uint64{}}
	const sessions, perSession = 24, 30
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(e *event.Envelope) {
		body, _ := json.Marshal(e)
		// Like the hook's spool: retry a refused event with the same ID.
		for deadline := time.Now().Add(60 * time.Second); ; {
			resp, err := client.Post(srv.URL+"/v1/events", "application/json", bytes.NewReader(body))
			if err == nil {
				var a api.Accepted
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted && json.Unmarshal(b, &a) == nil {
					acc.mu.Lock()
					acc.all[e.EventID] = a.Seq
					if e.Kind == event.KindToolUse {
						acc.tools[e.SessionID] = append(acc.tools[e.SessionID], e.EventID)
					}
					acc.last[e.SessionID] = max(acc.last[e.SessionID], a.Seq)
					acc.mu.Unlock()
					return
				}
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("event %s: HTTP %d %s", e.EventID, resp.StatusCode, b)
					return
				}
			}
			if time.Now().After(deadline) {
				t.Errorf("event %s never accepted", e.EventID)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var progress sync.WaitGroup
	progress.Add(sessions)
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("cl-%02d", s)
			for i := 0; i < perSession; i++ {
				kind := event.KindToolUse
				switch {
				case i == 0:
					kind = event.KindSessionStart
				case i == 1:
					kind = event.KindUserPrompt
				case i == perSession-1:
					kind = event.KindStop
				}
				e := &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "cluster", Kind: kind, At: time.Now(), Prompt: "p"}
				if kind == event.KindToolUse {
					e.Tool = &event.Tool{Name: "Bash", Input: json.RawMessage(fmt.Sprintf(`{"command":"step %d"}`, i))}
				}
				post(e)
				if i == perSession/3 {
					progress.Done()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	progress.Wait() // a third of the load is in: now the chaos
	leader := cluster.StreamLeader(bus.EventsStream)
	if leader == nil {
		t.Fatal("no stream leader")
	}
	killedAt := time.Now()
	leader.Shutdown()
	w1.Signal(syscall.SIGKILL)
	t.Logf("shut down the stream leader and killed w1 at a third of the load")
	wg.Wait()
	leader.Start()

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		behind := 0
		for sid, last := range acc.last {
			if c, err := st.Cursor(ctx, sid); err != nil || c.LastSeq < last {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions not fully applied 3 minutes after the load", behind)
		}
		time.Sleep(200 * time.Millisecond)
	}
	recovery := time.Since(killedAt)

	// Every 202 is in the stream exactly once.
	s, info := testkit.StreamInfo(t, ctx, js, bus.EventsStream)
	inStream := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted or interior gap
		}
		if e, err := bus.DecodeEvent(m.Data); err == nil {
			inStream[e.EventID]++
		}
	}
	lost, dup := 0, 0
	for id := range acc.all {
		switch inStream[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	applied := 0
	for _, ids := range acc.tools {
		applied += len(ids)
	}
	t.Logf("cluster chaos figures: events accepted %d (tool uses %d), lost %d, duplicated %d, all applied %.1f s after the leader shutdown and kill -9",
		len(acc.all), applied, lost, dup, recovery.Seconds())
	if lost > 0 || dup > 0 || len(acc.all) != sessions*perSession {
		t.Fatalf("accepted %d of %d; %d accepted but missing from the stream, %d stored twice", len(acc.all), sessions*perSession, lost, dup)
	}
	// Applied exactly once, in accept order.
	for sid, want := range acc.tools {
		if got := storetest.ObservedFrom(t, st, sid); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("session %s: observations from %d events, want %d exactly once in accept order", sid, len(got), len(want))
		}
		if sums, _ := st.SessionSummaries(ctx, sid); len(sums) != 1 {
			t.Fatalf("session %s: %d summaries, want 1", sid, len(sums))
		}
	}
}

// buildWorker builds the mnemo-worker binary for a test's worker processes.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mnemo-worker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../services/agent-worker/cmd/mnemo-worker").CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	return bin
}
