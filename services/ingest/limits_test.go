package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/services/ingest"
)

// Each size limit of an event (MNEMO_MAX_TOOL_INPUT, MNEMO_MAX_PROMPT, …:
// ingest.Config.Limits) is answered with a 413 naming the field and saying
// the limit, on /v1/events and per event on /v1/events:batch; nothing over a
// limit is stored, and a value at the limit is accepted.
func TestSizeLimitsAnswerTheLimit(t *testing.T) {
	l := event.Limits{Body: 64 << 10, ToolResponse: 6000, ToolInput: 5000, Prompt: 7000, Field: 300}
	e := newEnv(t, ingest.Config{Limits: l})
	// jsonString is a JSON document of exactly n bytes.
	jsonString := func(n int) json.RawMessage {
		return json.RawMessage(`"` + strings.Repeat("i", n-2) + `"`)
	}
	cases := []struct {
		field string
		limit int
		set   func(e *event.Envelope, n int)
	}{
		{"tool.input", l.ToolInput, func(e *event.Envelope, n int) { e.Tool.Input = jsonString(n) }},
		{"tool.response", l.ToolResponse, func(e *event.Envelope, n int) { e.Tool.Response = jsonString(n) }},
		{"tool.error", l.Prompt, func(e *event.Envelope, n int) { e.Tool.Error = strings.Repeat("e", n) }},
		{"prompt", l.Prompt, func(e *event.Envelope, n int) {
			e.Kind, e.Tool, e.Prompt = event.KindUserPrompt, nil, strings.Repeat("p", n)
		}},
		{"last_assistant_message", l.Prompt, func(e *event.Envelope, n int) {
			e.Kind, e.Tool, e.LastAssistantMessage = event.KindStop, nil, strings.Repeat("a", n)
		}},
		{"project", l.Field, func(e *event.Envelope, n int) { e.Project = strings.Repeat("p", n) }},
	}
	accepted := 0
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			over := envelope("limits", event.KindToolUse)
			tc.set(over, tc.limit+1)
			says := fmt.Sprintf("limit is %d", tc.limit)

			a := e.postEvent(over)
			if msg, _ := a.body["error"].(string); a.status != http.StatusRequestEntityTooLarge || a.body["field"] != tc.field || !strings.Contains(msg, says) {
				t.Fatalf("/v1/events, %s one byte over: %d %s; want 413 naming %s and saying %q", tc.field, a.status, a.raw, tc.field, says)
			}

			at := envelope("limits", event.KindToolUse)
			tc.set(at, tc.limit)
			over.EventID = event.NewID()
			b := e.post("/v1/events:batch", "application/json", mustJSON(t, []any{over, at}))
			var ans api.BatchAnswer
			if b.status != http.StatusOK || json.Unmarshal(b.raw, &ans) != nil || len(ans.Results) != 2 {
				t.Fatalf("batch: %d %s", b.status, b.raw)
			}
			if r := ans.Results[0]; r.Status != http.StatusRequestEntityTooLarge || r.Field != tc.field || !strings.Contains(r.Error, says) {
				t.Fatalf("batch, %s one byte over: %+v; want 413 naming %s and saying %q", tc.field, r, tc.field, says)
			}
			if r := ans.Results[1]; r.Status != http.StatusAccepted {
				t.Fatalf("batch, %s at its limit: %+v; want 202", tc.field, r)
			}
			accepted++
		})
	}
	if got := e.stored(); len(got) != accepted {
		t.Fatalf("%d events stored, want only the %d at their limits", len(got), accepted)
	}
}

// <private> content sent in a batch never reaches the broker, as on
// /v1/events (TestPrivateContentNeverReachesTheBroker), whether or not the
// client stripped it.
func TestBatchStripsPrivate(t *testing.T) {
	e := newEnv(t, ingest.Config{})
	tool := envelope("batch-priv", event.KindToolUse)
	tool.Tool.Input = json.RawMessage(`{"command":"echo <private>hunter2</private> done"}`)
	tool.Tool.Response = json.RawMessage(`{"stdout":"token <Private>sk-live-123</Private> ok"}`)
	prompt := envelope("batch-priv", event.KindUserPrompt)
	prompt.Prompt = "<private>my password is pw-AAA</private>"
	partial := envelope("batch-priv", event.KindUserPrompt)
	partial.Prompt = "deploy with <private>key-BBB</private> please"
	stop := envelope("batch-priv", event.KindStop)
	stop.LastAssistantMessage = "used <private>key-CCC</private>"
	a := e.post("/v1/events:batch", "application/json", mustJSON(t, []any{tool, prompt, partial, stop}))
	var ans api.BatchAnswer
	if a.status != http.StatusOK || json.Unmarshal(a.raw, &ans) != nil || ans.Accepted != 4 {
		t.Fatalf("batch: %d %s", a.status, a.raw)
	}
	e.storedWithout(4, "hunter2", "sk-live-123", "pw-AAA", "key-BBB", "key-CCC", "private>")
	got := e.stored()
	if !got[1].Private || got[1].Prompt != "" {
		t.Fatalf("an entirely private prompt must be stored empty and marked private: %+v", got[1])
	}
	if got[2].Private || got[2].Prompt != "deploy with  please" {
		t.Fatalf("a partly private prompt keeps the rest: %+v", got[2])
	}
}
