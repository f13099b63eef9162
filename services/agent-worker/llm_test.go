package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// fakeLLM speaks the Messages API (anthropic) or chat completions (openai):
// it reads the tool uses of each request and answers one observation per
// tool use, or a summary. delay, when set, holds each answer that long;
// asked, when set, records the tool uses of each request as it arrives.
func fakeLLM(t *testing.T, provider string, calls *atomic.Int64, delay time.Duration, inFlight *atomic.Int64, asked *askedLog) *httptest.Server {
	stop := make(chan struct{}) // ends held answers before the server closes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case provider == "anthropic" && (r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != "test-key"),
			provider == "openai" && (r.URL.Path != "/chat/completions" || r.Header.Get("Authorization") != "Bearer test-key"):
			http.Error(w, `{"error":{"type":"authentication_error","message":"bad"}}`, 401)
			return
		}
		if inFlight != nil {
			inFlight.Add(1)
			defer inFlight.Add(-1)
		}
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		_ = json.Unmarshal(body, &req)
		last := req.Messages[len(req.Messages)-1].Content
		rest, observe := strings.CutPrefix(last, "Tool uses to observe:\n")
		var in struct {
			ToolUses []struct {
				EventID string `json:"event_id"`
				Tool    string `json:"tool"`
			} `json:"tool_uses"`
		}
		if observe {
			_ = json.Unmarshal([]byte(rest), &in)
			for _, u := range in.ToolUses {
				asked.add(u.EventID)
			}
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
		calls.Add(1)
		var answer string
		if observe {
			var obs []map[string]any
			for _, u := range in.ToolUses {
				obs = append(obs, map[string]any{"type": "discovery", "title": "LLM saw " + u.Tool, "subtitle": "s", "narrative": "n",
					"facts": []string{"f"}, "concepts": []string{"how-it-works"}, "files_read": []string{}, "files_modified": []string{},
					"source_event_ids": []string{u.EventID}})
			}
			b, _ := json.Marshal(map[string]any{"observations": obs})
			answer = string(b)
		} else {
			answer = `{"summary":{"request":"r","investigated":"i","learned":"l","completed":"c","next_steps":"","notes":""}}`
		}
		text, _ := json.Marshal(answer)
		w.Header().Set("Content-Type", "application/json")
		if provider == "openai" {
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":17}}`, text, len(body)/4)
			return
		}
		fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":%s}],"usage":{"input_tokens":%d,"output_tokens":17}}`, text, len(body)/4)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return srv
}

// Through the real pipeline with LLM providers speaking Anthropic's and the
// OpenAI-compatible wire protocols: observations land with the model's
// fields, one per tool use in accept order, and every call's usage is
// recorded.
func TestPipelineWithLLMProviders(t *testing.T) {
	for _, provider := range []string{"anthropic", "openai"} {
		t.Run(provider, func(t *testing.T) {
			var calls atomic.Int64
			srv := fakeLLM(t, provider, &calls, 0, nil, nil)
			m, err := llm.New(llm.Config{Provider: provider, BaseURL: srv.URL, APIKey: "test-key", Backoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			p := newPipeline(t, "")
			startWorker(t, p, "w1", m)
			startWorker(t, p, "w2", m)
			ctx := context.Background()
			p.publish(ctx, sessionIDs("llm", 8), 12, 12)
			p.waitApplied(60 * time.Second)
			p.checkInvariants()
			obs, err := p.store.SessionObservations(ctx, sessionIDs("llm", 8)[0])
			if err != nil || len(obs) == 0 || !strings.HasPrefix(obs[0].Title, "LLM saw ") {
				t.Fatalf("observations %v %+v", err, obs)
			}
			c, err := p.store.Counts(ctx, "", time.Now().Add(-time.Hour))
			if err != nil || c.InputTokens == 0 || c.OutputTokens != 17*calls.Load() {
				t.Fatalf("usage %+v after %d calls (%v)", c, calls.Load(), err)
			}
			// Each observation carries its share of its batch's input
			// tokens; the shares never exceed what was spent.
			var discovery int64
			for _, sid := range sessionIDs("llm", 8) {
				obs, err := p.store.SessionObservations(ctx, sid)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range obs {
					if o.DiscoveryTokens <= 0 {
						t.Fatalf("observation %d %q has no discovery tokens", o.ID, o.Title)
					}
					discovery += o.DiscoveryTokens
				}
			}
			if discovery > c.InputTokens {
				t.Fatalf("discovery tokens %d exceed the %d input tokens spent", discovery, c.InputTokens)
			}
		})
	}
}

// A worker killed with -9 while its LLM calls are in flight: another worker
// redoes them, and no observation is lost or doubled.
func TestWorkerKilledMidLLMCall(t *testing.T) {
	var slowCalls, fastCalls, inFlight atomic.Int64
	var slowAsked, fastAsked askedLog
	slow := fakeLLM(t, "anthropic", &slowCalls, time.Minute, &inFlight, &slowAsked)
	fast := fakeLLM(t, "anthropic", &fastCalls, 0, nil, &fastAsked)
	p := newPipeline(t, "")
	w1 := p.spawn(t, "w1", "MNEMO_LLM_PROVIDER=anthropic", "MNEMO_LLM_BASE_URL="+slow.URL, "MNEMO_LLM_API_KEY=test-key")
	ctx := context.Background()
	p.publish(ctx, sessionIDs("mid", 6), 8, 8)
	deadline := time.Now().Add(30 * time.Second)
	for inFlight.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no LLM call in flight")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w1.Signal(syscall.SIGKILL)
	m, err := llm.New(llm.Config{Provider: "anthropic", BaseURL: fast.URL, APIKey: "test-key"})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, p, "w2", m)
	p.waitApplied(60 * time.Second)
	p.checkInvariants()
	// The killed worker's calls were cut off (the slow LLM holds each for a
	// minute), and every tool use it had asked about was asked again of w2's.
	held := slowAsked.ids()
	if len(held) == 0 || slowCalls.Load() != 0 {
		t.Fatalf("slow LLM: asked about %d tool uses, answered %d calls: want calls in flight at the kill, none answered", len(held), slowCalls.Load())
	}
	redone := map[string]bool{}
	for _, id := range fastAsked.ids() {
		redone[id] = true
	}
	for _, id := range held {
		if !redone[id] {
			t.Fatalf("tool use %s was in flight at the kill but never asked of the other worker's LLM", id)
		}
	}
}

// askedLog records the tool-use event IDs an LLM was asked to observe.
type askedLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *askedLog) add(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.seen = append(l.seen, id)
	l.mu.Unlock()
}

func (l *askedLog) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}
