package llm_test

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

	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// countingAnthropic answers one observation per tool use and counts the
// input bytes and tokens it was sent (tokens ≈ bytes / 4, as billed text).
func countingAnthropic(b *testing.B, inBytes *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		inBytes.Add(int64(len(body)))
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		_ = json.Unmarshal(body, &req)
		rest, _ := strings.CutPrefix(req.Messages[len(req.Messages)-1].Content, "Tool uses to observe:\n")
		var in struct {
			ToolUses []struct {
				EventID string `json:"event_id"`
			} `json:"tool_uses"`
		}
		_ = json.Unmarshal([]byte(rest), &in)
		var obs []map[string]any
		for _, u := range in.ToolUses {
			obs = append(obs, map[string]any{"type": "change", "title": "t", "source_event_ids": []string{u.EventID}})
		}
		a, _ := json.Marshal(map[string]any{"observations": obs})
		text, _ := json.Marshal(string(a))
		fmt.Fprintf(w, `{"content":[{"type":"text","text":%s}],"usage":{"input_tokens":%d,"output_tokens":10}}`, text, len(body)/4)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// session200 is a generated 200-event session of realistic tool uses.
func session200() []llm.ToolUse {
	tools := []string{"Read", "Bash", "Edit", "Grep", "Write"}
	out := make([]llm.ToolUse, 200)
	for i := range out {
		out[i] = llm.ToolUse{EventID: fmt.Sprintf("ev-%03d", i), Tool: tools[i%len(tools)],
			Input:    json.RawMessage(fmt.Sprintf(`{"file_path":"/src/acme/pkg/mod%d/file%d.go","command":"go test ./pkg/mod%d/..."}`, i%7, i, i%7)),
			Response: json.RawMessage(fmt.Sprintf(`{"stdout":"%s"}`, strings.Repeat(fmt.Sprintf("line %d of output; ", i), 20)))}
	}
	return out
}

// BenchmarkBatchedInputTokens compares the input tokens per observation of
// one call per batch of 16 tool uses (what the worker does) with one call
// per event, on the same 200-event session, reporting both and the ratio.
func BenchmarkBatchedInputTokens(b *testing.B) {
	uses := session200()
	run := func(batch int) (tokensPerObs float64) {
		var in atomic.Int64
		srv := countingAnthropic(b, &in)
		m, err := llm.New(llm.Config{Provider: "anthropic", BaseURL: srv.URL, APIKey: "k"})
		if err != nil {
			b.Fatal(err)
		}
		var state []byte
		var tokens, n int64
		for i := 0; i < len(uses); i += batch {
			res, err := m.Observe(context.Background(), llm.ObserveRequest{Session: llm.Session{Project: "acme"}, ToolUses: uses[i:min(i+batch, len(uses))], State: state})
			if err != nil {
				b.Fatal(err)
			}
			state = res.State
			for _, u := range res.Usage {
				tokens += u.InputTokens
			}
			n += int64(len(res.Observations))
		}
		return float64(tokens) / float64(n)
	}
	for i := 0; i < b.N; i++ {
		batched, single := run(16), run(1)
		b.ReportMetric(batched, "batched-tokens/obs")
		b.ReportMetric(single, "single-tokens/obs")
		b.ReportMetric(batched/single, "ratio")
	}
}
