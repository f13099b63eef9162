package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

const secretKey = "sk-test-SECRET-0123456789"

// fake is an HTTP server speaking one provider's wire protocol. Each request
// is recorded and answered by the next scripted step.
type fake struct {
	t        *testing.T
	provider string
	mu       sync.Mutex
	steps    []step
	requests []recorded
	srv      *httptest.Server
}

type step struct {
	status     int
	retryAfter string
	text       string // the model's answer text (2xx)
	body       string // a raw body instead (errors)
	delay      time.Duration
}

type recorded struct {
	path    string
	header  http.Header
	body    map[string]any
	rawBody []byte
}

func newFake(t *testing.T, provider string, steps ...step) *fake {
	f := &fake{t: t, provider: provider, steps: steps}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{path: r.URL.Path, header: r.Header.Clone(), body: body, rawBody: raw})
	if len(f.steps) == 0 {
		f.mu.Unlock()
		http.Error(w, `{"error":"no more scripted answers"}`, 500)
		return
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	f.mu.Unlock()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
	}
	if s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	if s.status == 0 {
		s.status = 200
	}
	w.WriteHeader(s.status)
	if s.body != "" {
		io.WriteString(w, s.body)
		return
	}
	text, _ := json.Marshal(s.text)
	switch f.provider {
	case "anthropic":
		fmt.Fprintf(w, `{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":%s}],"stop_reason":"end_turn","usage":{"input_tokens":%d,"output_tokens":42}}`, text, len(raw)/4)
	case "openai":
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":42,"total_tokens":0}}`, text, len(raw)/4)
	case "gemini":
		fmt.Fprintf(w, `{"candidates":[{"content":{"parts":[{"text":%s}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":42,"totalTokenCount":0}}`, text, len(raw)/4)
	}
}

func (f *fake) model(t *testing.T, opts ...func(*llm.Config)) *llm.Model {
	cfg := llm.Config{Provider: f.provider, BaseURL: f.srv.URL, APIKey: secretKey, Backoff: 10 * time.Millisecond, MaxWait: 2 * time.Second, Timeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func request() llm.ObserveRequest {
	return llm.ObserveRequest{
		Session: llm.Session{ID: "s1", Project: "acme", UserPrompt: "fix the flaky test"},
		ToolUses: []llm.ToolUse{
			{EventID: "ev1", Tool: "Bash", Input: json.RawMessage(`{"command":"go test ./auth"}`), Response: json.RawMessage(`{"stdout":"FAIL TestLogin race"}`)},
			{EventID: "ev2", Tool: "Edit", Input: json.RawMessage(`{"file_path":"/src/acme/auth/login.go"}`)},
		},
	}
}

const goodAnswer = `{"observations":[{"type":"bugfix","title":"Login test race fixed","subtitle":"mutex around refresh","narrative":"The test raced.","facts":["auth/login.go holds the lock"],"concepts":["problem-solution"],"files_read":[],"files_modified":["/src/acme/auth/login.go"],"source_event_ids":["ev1","ev2"]}]}`

func TestProvidersSpeakTheirWireProtocol(t *testing.T) {
	for _, p := range []string{"anthropic", "openai", "gemini"} {
		t.Run(p, func(t *testing.T) {
			f := newFake(t, p, step{text: "```json\n" + goodAnswer + "\n```"})
			res, err := f.model(t).Observe(context.Background(), request())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Observations) != 1 || res.Observations[0].Type != "bugfix" || fmt.Sprint(res.Observations[0].SourceEventIDs) != "[ev1 ev2]" {
				t.Fatalf("observations %+v", res.Observations)
			}
			if len(res.Usage) != 1 || res.Usage[0].InputTokens == 0 || res.Usage[0].OutputTokens != 42 || res.Usage[0].Provider != p {
				t.Fatalf("usage %+v", res.Usage)
			}
			r := f.requests[0]
			switch p {
			case "anthropic":
				if r.path != "/v1/messages" || r.header.Get("x-api-key") != secretKey || r.header.Get("anthropic-version") == "" ||
					r.body["system"] == nil || r.body["max_tokens"] == nil || r.body["model"] != "claude-haiku-4-5" {
					t.Fatalf("messages request %s %v %v", r.path, r.header, r.body)
				}
			case "openai":
				msgs, _ := r.body["messages"].([]any)
				if r.path != "/chat/completions" || r.header.Get("Authorization") != "Bearer "+secretKey || len(msgs) != 2 ||
					msgs[0].(map[string]any)["role"] != "system" {
					t.Fatalf("chat request %s %v %v", r.path, r.header, r.body)
				}
			case "gemini":
				if r.path != "/v1beta/models/gemini-2.5-flash:generateContent" || r.header.Get("x-goog-api-key") != secretKey ||
					r.body["systemInstruction"] == nil || r.body["contents"] == nil {
					t.Fatalf("generateContent request %s %v %v", r.path, r.header, r.body)
				}
			}
			if !strings.Contains(string(r.rawBody), "ev1") || !strings.Contains(string(r.rawBody), "go test ./auth") {
				t.Fatalf("the tool uses are not in the request: %s", r.rawBody)
			}
			if len(res.State) == 0 {
				t.Fatal("no conversation state returned")
			}
		})
	}
}

func TestRetriesAndPermanentFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("429 honours retry-after", func(t *testing.T) {
		f := newFake(t, "anthropic", step{status: 429, retryAfter: "1", body: `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`}, step{text: goodAnswer})
		start := time.Now()
		if _, err := f.model(t).Observe(ctx, request()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("retried after %s, before the 1 s Retry-After", d)
		}
	})
	t.Run("500 then 529 overloaded then ok", func(t *testing.T) {
		f := newFake(t, "anthropic", step{status: 500, body: `{"type":"error","error":{"type":"api_error","message":"boom"}}`},
			step{status: 529, body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`}, step{text: goodAnswer})
		if _, err := f.model(t).Observe(ctx, request()); err != nil || len(f.requests) != 3 {
			t.Fatalf("%v after %d requests", err, len(f.requests))
		}
	})
	t.Run("400 is permanent, not retried", func(t *testing.T) {
		f := newFake(t, "openai", step{status: 400, body: `{"error":{"message":"bad model","type":"invalid_request_error"}}`}, step{text: goodAnswer})
		_, err := f.model(t).Observe(ctx, request())
		if !errors.Is(err, llm.ErrPermanent) || len(f.requests) != 1 {
			t.Fatalf("%v after %d requests, want ErrPermanent after 1", err, len(f.requests))
		}
		if strings.Contains(err.Error(), secretKey) {
			t.Fatal("the API key leaked into the error")
		}
	})
	t.Run("attempts run out", func(t *testing.T) {
		f := newFake(t, "gemini", step{status: 503}, step{status: 503}, step{status: 503})
		_, err := f.model(t, func(c *llm.Config) { c.Attempts = 3 }).Observe(ctx, request())
		if err == nil || errors.Is(err, llm.ErrPermanent) || len(f.requests) != 3 {
			t.Fatalf("%v after %d requests: want a transient error after 3", err, len(f.requests))
		}
	})
	t.Run("malformed then fixed", func(t *testing.T) {
		f := newFake(t, "anthropic", step{text: `Here you go: {"observations": [`}, step{text: goodAnswer})
		res, err := f.model(t).Observe(ctx, request())
		if err != nil || len(res.Observations) != 1 || len(res.Usage) != 2 {
			t.Fatalf("%v %+v", err, res)
		}
		if !strings.Contains(string(f.requests[1].rawBody), "could not be used") {
			t.Fatal("the retry does not tell the model what was wrong")
		}
	})
	t.Run("malformed twice is permanent", func(t *testing.T) {
		f := newFake(t, "openai", step{text: `{"observations":[{"type":"Rant!","title":"x","source_event_ids":["ev1"]}]}`},
			step{text: `{"observations":[{"type":"bugfix","title":"x","source_event_ids":["nope"]}]}`})
		_, err := f.model(t).Observe(ctx, request())
		if !errors.Is(err, llm.ErrPermanent) || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("%v, want ErrPermanent naming the unknown source", err)
		}
	})
	t.Run("claude-mem's security types are asked for and taken", func(t *testing.T) {
		f := newFake(t, "anthropic", step{text: `{"observations":[{"type":"security_alert","title":"Key in a log","source_event_ids":["ev1"]}]}`})
		res, err := f.model(t).Observe(ctx, request())
		if err != nil || len(res.Observations) != 1 || res.Observations[0].Type != "security_alert" || len(f.requests) != 1 {
			t.Fatalf("%v %+v after %d requests", err, res, len(f.requests))
		}
		if !strings.Contains(string(f.requests[0].rawBody), "security_note") {
			t.Fatal("the observer prompt does not offer claude-mem's security types")
		}
	})
	t.Run("a malformed type is re-asked naming the shape", func(t *testing.T) {
		f := newFake(t, "openai", step{text: `{"observations":[{"type":"Rant!","title":"x","source_event_ids":["ev1"]}]}`}, step{text: goodAnswer})
		if _, err := f.model(t).Observe(ctx, request()); err != nil || len(f.requests) != 2 {
			t.Fatalf("%v after %d requests", err, len(f.requests))
		}
		if !strings.Contains(string(f.requests[1].rawBody), "a-z") {
			t.Fatal("the re-ask does not say which types are allowed")
		}
	})
	t.Run("nothing worth recording", func(t *testing.T) {
		f := newFake(t, "gemini", step{text: `{"observations": []}`})
		res, err := f.model(t).Observe(ctx, request())
		if err != nil || len(res.Observations) != 0 {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// The answer would take a minute: only the caller's deadline ends the
		// call, and 20 s is a hang guard, not a speed claim.
		f := newFake(t, "anthropic", step{delay: time.Minute, text: goodAnswer})
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := f.model(t).Observe(cctx, request()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
			t.Fatalf("%v after %s: want the deadline to end the call", err, time.Since(start))
		}
	})
}

func TestSummaryAndConversationState(t *testing.T) {
	f := newFake(t, "anthropic", step{text: goodAnswer},
		step{text: `{"summary":{"request":"fix the flaky test","investigated":"the race","learned":"refresh needs the lock","completed":"fixed","next_steps":"","notes":""}}`})
	m := f.model(t)
	ctx := context.Background()
	obs, err := m.Observe(ctx, request())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := m.Summarize(ctx, llm.SummarizeRequest{Session: llm.Session{Project: "acme"}, State: obs.State,
		Observations: obs.Observations, LastAssistantMessage: "Done."})
	if err != nil || sum.Summary == nil || sum.Summary.Learned != "refresh needs the lock" {
		t.Fatalf("%v %+v", err, sum)
	}
	// The second call carries the first exchange: the same conversation.
	msgs, _ := f.requests[1].body["messages"].([]any)
	if len(msgs) != 3 || msgs[1].(map[string]any)["role"] != "assistant" {
		t.Fatalf("summary request does not continue the conversation: %d messages", len(msgs))
	}
}

func TestCheapModelForReadOnlyBatches(t *testing.T) {
	f := newFake(t, "openai", step{text: `{"observations":[]}`}, step{text: `{"observations":[]}`})
	m := f.model(t, func(c *llm.Config) { c.Model, c.CheapModel = "big", "small" })
	ro := llm.ObserveRequest{ToolUses: []llm.ToolUse{{EventID: "a", Tool: "Read"}, {EventID: "b", Tool: "Grep"}}}
	if _, err := m.Observe(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Observe(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	if f.requests[0].body["model"] != "small" || f.requests[1].body["model"] != "big" {
		t.Fatalf("models %v, %v: want small for read-only, big for edits", f.requests[0].body["model"], f.requests[1].body["model"])
	}
}

func TestBudgetFallsBackToOffline(t *testing.T) {
	r := testkit.StartRedis(t)
	rdb := r.Client(t)
	f := newFake(t, "anthropic", step{text: goodAnswer}, step{text: goodAnswer})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := llm.WithBudget(f.model(t), rdb, 100, log).(*llm.Budgeted)
	ctx := context.Background()
	res, err := c.Observe(ctx, request())
	if err != nil || res.Observations[0].Title != "Login test race fixed" {
		t.Fatalf("first call under budget: %v %+v", err, res)
	}
	spent, _ := rdb.Get(ctx, llm.BudgetKey("acme", time.Now())).Int64()
	if spent < 100 {
		t.Fatalf("spent %d tokens recorded; the fake reports over 100", spent)
	}
	res, err = c.Observe(ctx, request())
	if err != nil || len(f.requests) != 1 || c.FellBack.Load() != 1 || len(res.Observations) == 0 || res.Usage != nil {
		t.Fatalf("over budget: %v, %d provider calls, fell back %d, %+v", err, len(f.requests), c.FellBack.Load(), res)
	}
	// Another project still has its budget.
	other := request()
	other.Session.Project = "other"
	if _, err := c.Observe(ctx, other); err != nil || len(f.requests) != 2 {
		t.Fatalf("other project: %v after %d calls", err, len(f.requests))
	}
}
