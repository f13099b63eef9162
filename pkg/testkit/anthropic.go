package testkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// AnthropicRequest is one Messages API request as the fake decoded it.
type AnthropicRequest struct {
	Path     string
	Model    string
	System   string   // every system block's text, joined
	Messages []string // each message's text blocks, joined
	Stream   bool
	Tools    int // how many tools the client offered
}

// LastUser is the text of the last message.
func (r AnthropicRequest) LastUser() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1]
}

// AnthropicAnswer is what the fake answers to a request.
type AnthropicAnswer struct {
	Text                      string
	InputTokens, OutputTokens int64
	// Status, when set, answers with that error status instead.
	Status int
}

// Anthropic is a fake of the Anthropic Messages API on a loopback port,
// speaking the wire protocol Claude Code uses: POST /v1/messages, streamed as
// server-sent events when the request says "stream" (a JSON message
// otherwise), and /v1/messages/count_tokens. Answer decides each reply;
// every request is recorded.
type Anthropic struct {
	*httptest.Server
	mu       sync.Mutex
	requests []AnthropicRequest
	answer   func(r *http.Request, req AnthropicRequest) AnthropicAnswer
}

// StartAnthropic starts the fake; answer is called for each messages request
// (concurrently) and may block until r.Context() ends.
func StartAnthropic(t testing.TB, answer func(r *http.Request, req AnthropicRequest) AnthropicAnswer) *Anthropic {
	t.Helper()
	a := &Anthropic{answer: answer}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// Requests returns the messages requests received so far.
func (a *Anthropic) Requests() []AnthropicRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AnthropicRequest(nil), a.requests...)
}

// anthropicError writes the API's error shape.
func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
	_, _ = w.Write(b)
}

// blocksText reads a system or content field: a string or a list of blocks.
func blocksText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type    string          `json:"type"`
		Text    string          `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		switch {
		case b.Text != "":
			parts = append(parts, b.Text)
		case len(b.Content) > 0:
			parts = append(parts, blocksText(b.Content))
		}
	}
	return strings.Join(parts, "\n")
}

func (a *Anthropic) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") == "" && r.Header.Get("Authorization") == "" {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return
	}
	path := r.URL.Path
	if r.Method != http.MethodPost || (path != "/v1/messages" && path != "/v1/messages/count_tokens") {
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found: "+r.Method+" "+path)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	var in struct {
		Model    string          `json:"model"`
		System   json.RawMessage `json:"system"`
		Stream   bool            `json:"stream"`
		Tools    []any           `json:"tools"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Model == "" || len(in.Messages) == 0 {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("want model and messages (%v)", err))
		return
	}
	req := AnthropicRequest{Path: path, Model: in.Model, System: blocksText(in.System), Stream: in.Stream, Tools: len(in.Tools)}
	for _, m := range in.Messages {
		req.Messages = append(req.Messages, blocksText(m.Content))
	}
	if path == "/v1/messages/count_tokens" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, len(body)/4)
		return
	}
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	ans := a.answer(r, req)
	if r.Context().Err() != nil {
		return
	}
	if ans.Status != 0 {
		anthropicError(w, ans.Status, "api_error", "the fake was told to fail")
		return
	}
	if ans.InputTokens == 0 {
		ans.InputTokens = int64(len(body) / 4)
	}
	msg := map[string]any{"id": "msg_fake", "type": "message", "role": "assistant", "model": in.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": ans.InputTokens, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
	if !in.Stream {
		msg["content"] = []any{map[string]string{"type": "text", "text": ans.Text}}
		msg["stop_reason"] = "end_turn"
		msg["usage"].(map[string]any)["output_tokens"] = ans.OutputTokens
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msg)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	bw := bufio.NewWriter(w)
	send := func(typ string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(bw, "event: %s\ndata: %s\n\n", typ, b)
	}
	send("message_start", map[string]any{"type": "message_start", "message": msg})
	send("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]string{"type": "text", "text": ""}})
	send("ping", map[string]string{"type": "ping"})
	// The text in a few deltas, as the API streams it.
	text := ans.Text
	for len(text) > 0 {
		n := min(len(text), 64)
		for n < len(text) && !utf8.RuneStart(text[n]) {
			n++
		}
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "text_delta", "text": text[:n]}})
		text = text[n:]
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": ans.OutputTokens}})
	send("message_stop", map[string]string{"type": "message_stop"})
	_ = bw.Flush()
}

// ObserverAnswer answers a request of Mnemo's observer contract as a model
// following its instructions would: for "Tool uses to observe:" one
// observation per tool use (titled "Claude saw <tool>"), for a stop a
// summary. The last request in the prompt is the one answered (earlier
// turns may come before it).
func ObserverAnswer(req AnthropicRequest) string {
	last := req.LastUser()
	i := strings.LastIndex(last, "Tool uses to observe:\n")
	if i < 0 || strings.LastIndex(last, "The session stopped.") > i {
		return `{"summary":{"request":"what the user asked","investigated":"i","learned":"l","completed":"c","next_steps":"","notes":""}}`
	}
	var in struct {
		ToolUses []struct {
			EventID string `json:"event_id"`
			Tool    string `json:"tool"`
		} `json:"tool_uses"`
	}
	_ = json.NewDecoder(strings.NewReader(last[i+len("Tool uses to observe:\n"):])).Decode(&in)
	obs := []map[string]any{}
	for _, u := range in.ToolUses {
		obs = append(obs, map[string]any{"type": "discovery", "title": "Claude saw " + u.Tool, "subtitle": "s", "narrative": "n",
			"facts": []string{"f"}, "concepts": []string{"how-it-works"}, "files_read": []string{}, "files_modified": []string{},
			"source_event_ids": []string{u.EventID}})
	}
	b, _ := json.Marshal(map[string]any{"observations": obs})
	return string(b)
}
