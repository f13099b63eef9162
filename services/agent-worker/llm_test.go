package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// fakeAnthropic speaks the Messages API: it reads the tool uses of each
// request and answers one observation per tool use, or a summary.
func fakeAnthropic(t *testing.T, calls *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != "test-key" {
			http.Error(w, `{"type":"error","error":{"type":"authentication_error","message":"bad"}}`, 401)
			return
		}
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		_ = json.Unmarshal(body, &req)
		last := req.Messages[len(req.Messages)-1].Content
		var answer string
		if rest, ok := strings.CutPrefix(last, "Tool uses to observe:\n"); ok {
			var in struct {
				ToolUses []struct {
					EventID string `json:"event_id"`
					Tool    string `json:"tool"`
				} `json:"tool_uses"`
			}
			_ = json.Unmarshal([]byte(rest), &in)
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
		fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":%s}],"usage":{"input_tokens":%d,"output_tokens":17}}`, text, len(body)/4)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Through the real pipeline with an LLM provider speaking Anthropic's wire
// protocol: observations land with the model's fields, one per tool use in
// accept order, and the usage of every call is recorded.
func TestPipelineWithAnthropicProvider(t *testing.T) {
	var calls atomic.Int64
	srv := fakeAnthropic(t, &calls)
	m, err := llm.New(llm.Config{Provider: "anthropic", BaseURL: srv.URL, APIKey: "test-key", Backoff: 10 * time.Millisecond})
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
}
