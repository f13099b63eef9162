package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is one turn of a provider-neutral conversation.
type Message struct {
	Role    string `json:"role"` // user | assistant
	Content string `json:"content"`
}

// reply is what a provider answered: its text and what it cost.
type reply struct {
	Text         string
	InputTokens  int64
	OutputTokens int64
	CostUSD      float64 // when the provider reports it (the Claude Code CLI)
}

// transport speaks one provider's wire protocol.
type transport interface {
	provider() string
	// request builds the HTTP request of one completion.
	request(ctx context.Context, model, system string, msgs []Message, maxTokens int) (*http.Request, error)
	// parse reads a 2xx answer.
	parse(body []byte) (reply, error)
}

// StatusError is a provider's non-2xx answer. Its message never holds the
// request (so never the API key).
type StatusError struct {
	Provider   string
	Status     int
	Body       string // the head of the answer, for the reason
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("llm: %s answered %d: %s", e.Provider, e.Status, e.Body)
}

// retryable reports whether a status is worth another attempt: rate limits,
// server errors and Anthropic's 529 overloaded.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// attempt is one try of a completion over some channel to a model: an HTTP
// call (httpCall) or a run of the Claude Code CLI (claudeCLI). A *StatusError
// says whether another try may help.
type attempt func(ctx context.Context, model, system string, msgs []Message, maxTokens int) (reply, error)

// caller sends completions with deadlines and retries.
type caller struct {
	name     string // the provider, for errors
	try      attempt
	attempts int           // total attempts on retryable failures
	backoff  time.Duration // first backoff; doubles, with jitter
	maxWait  time.Duration // cap of one wait, Retry-After included
}

func (c *caller) complete(ctx context.Context, model, system string, msgs []Message, maxTokens int) (reply, error) {
	var last error
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		r, err := c.try(ctx, model, system, msgs, maxTokens)
		if err == nil {
			return r, nil
		}
		last = err
		var se *StatusError
		switch {
		case ctx.Err() != nil:
			return reply{}, fmt.Errorf("llm: %s: %w", c.name, ctx.Err())
		case errors.As(err, &se) && !retryable(se.Status):
			return reply{}, fmt.Errorf("%w: %w", ErrPermanent, err)
		case attempt >= c.attempts:
			return reply{}, fmt.Errorf("llm: %s: gave up after %d attempts: %w", c.name, attempt, last)
		}
		d := wait/2 + rand.N(wait/2+1) // jitter
		if se != nil && se.RetryAfter > 0 {
			d = se.RetryAfter
		}
		d = min(d, c.maxWait)
		select {
		case <-ctx.Done():
			return reply{}, fmt.Errorf("llm: %s: %w (last: %v)", c.name, ctx.Err(), last)
		case <-time.After(d):
		}
		wait = min(wait*2, c.maxWait)
	}
}

// httpCall is one HTTP completion of a provider's wire protocol.
type httpCall struct {
	t      transport
	client *http.Client
}

func (c httpCall) once(ctx context.Context, model, system string, msgs []Message, maxTokens int) (reply, error) {
	req, err := c.t.request(ctx, model, system, msgs, maxTokens)
	if err != nil {
		return reply{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// Never wrap the url.Error: it holds the URL, and Gemini's may hold a key.
		return reply{}, fmt.Errorf("llm: %s: request failed: %s", c.t.provider(), redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return reply{}, fmt.Errorf("llm: %s: read answer: %w", c.t.provider(), err)
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{Provider: c.t.provider(), Status: resp.StatusCode, Body: clip(strings.TrimSpace(string(body)), 300)}
		if v := resp.Header.Get("Retry-After"); v != "" {
			if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
				se.RetryAfter = time.Duration(s * float64(time.Second))
			} else if t, err := http.ParseTime(v); err == nil {
				se.RetryAfter = time.Until(t)
			}
		}
		return reply{}, se
	}
	r, err := c.t.parse(body)
	if err != nil {
		return reply{}, fmt.Errorf("llm: %s: %w", c.t.provider(), err)
	}
	return r, nil
}

func redactURLError(err error) string {
	s := err.Error()
	if i := strings.Index(s, "key="); i >= 0 {
		j := strings.IndexAny(s[i:], "&\" ")
		if j < 0 {
			j = len(s) - i
		}
		s = s[:i] + "key=REDACTED" + s[i+j:]
	}
	return s
}

func postJSON(ctx context.Context, url string, body any, headers map[string]string) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// anthropic speaks the Messages API.
type anthropic struct{ base, key string }

func (anthropic) provider() string { return "anthropic" }

func (a anthropic) request(ctx context.Context, model, system string, msgs []Message, maxTokens int) (*http.Request, error) {
	return postJSON(ctx, a.base+"/v1/messages", map[string]any{
		"model": model, "max_tokens": maxTokens, "system": system, "messages": msgs,
	}, map[string]string{"x-api-key": a.key, "anthropic-version": "2023-06-01"})
}

func (anthropic) parse(body []byte) (reply, error) {
	var a struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Usage struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return reply{}, fmt.Errorf("decode messages answer: %w", err)
	}
	var b strings.Builder
	for _, c := range a.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return reply{Text: b.String(), InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens}, nil
}

// openAI speaks chat completions (OpenAI, OpenRouter, Ollama, vLLM, LM Studio).
type openAI struct{ base, key string }

func (openAI) provider() string { return "openai" }

func (o openAI) request(ctx context.Context, model, system string, msgs []Message, maxTokens int) (*http.Request, error) {
	all := append([]Message{{Role: "system", Content: system}}, msgs...)
	h := map[string]string{}
	if o.key != "" {
		h["Authorization"] = "Bearer " + o.key
	}
	return postJSON(ctx, o.base+"/chat/completions", map[string]any{
		"model": model, "messages": all, "max_tokens": maxTokens, "response_format": map[string]string{"type": "json_object"},
	}, h)
}

func (openAI) parse(body []byte) (reply, error) {
	var a struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return reply{}, fmt.Errorf("decode chat completion: %w", err)
	}
	if len(a.Choices) == 0 {
		return reply{}, errors.New("chat completion without choices")
	}
	return reply{Text: a.Choices[0].Message.Content, InputTokens: a.Usage.PromptTokens, OutputTokens: a.Usage.CompletionTokens}, nil
}

// gemini speaks generateContent.
type gemini struct{ base, key string }

func (gemini) provider() string { return "gemini" }

func (g gemini) request(ctx context.Context, model, system string, msgs []Message, maxTokens int) (*http.Request, error) {
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Role  string `json:"role,omitempty"`
		Parts []part `json:"parts"`
	}
	var contents []content
	for _, m := range msgs {
		role := "user"
		if m.Role == "assistant" {
			role = "model"
		}
		contents = append(contents, content{Role: role, Parts: []part{{m.Content}}})
	}
	return postJSON(ctx, g.base+"/v1beta/models/"+model+":generateContent", map[string]any{
		"systemInstruction": content{Parts: []part{{system}}},
		"contents":          contents,
		"generationConfig":  map[string]any{"responseMimeType": "application/json", "maxOutputTokens": maxTokens},
	}, map[string]string{"x-goog-api-key": g.key})
}

func (gemini) parse(body []byte) (reply, error) {
	var a struct {
		Candidates []struct {
			Content struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
		} `json:"candidates"`
		UsageMetadata struct {
			PromptTokenCount     int64 `json:"promptTokenCount"`
			CandidatesTokenCount int64 `json:"candidatesTokenCount"`
		} `json:"usageMetadata"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return reply{}, fmt.Errorf("decode generateContent answer: %w", err)
	}
	if len(a.Candidates) == 0 {
		return reply{}, errors.New("generateContent answer without candidates")
	}
	var b strings.Builder
	for _, p := range a.Candidates[0].Content.Parts {
		b.WriteString(p.Text)
	}
	return reply{Text: b.String(), InputTokens: a.UsageMetadata.PromptTokenCount, OutputTokens: a.UsageMetadata.CandidatesTokenCount}, nil
}
