package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// StatusError is a provider's non-2xx answer. Its message never holds the
// request (so never the API key).
type StatusError struct {
	Provider string
	Status   int
	Body     string // the head of the answer, for the reason
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("embed: %s answered %d: %s", e.Provider, e.Status, e.Body)
}

// post sends one JSON request and decodes a 2xx answer into out.
func post(ctx context.Context, c *http.Client, provider, u string, headers map[string]string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("embed: %s: encode request: %w", provider, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("embed: %s: %w", provider, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		// The url.Error holds the URL only; keys travel in headers.
		return fmt.Errorf("embed: %s: request failed: %w", provider, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("embed: %s: read answer: %w", provider, err)
	}
	if resp.StatusCode/100 != 2 {
		head := strings.TrimSpace(string(data))
		if len(head) > 300 {
			head = head[:300]
		}
		return &StatusError{Provider: provider, Status: resp.StatusCode, Body: head}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("embed: %s: decode answer: %w", provider, err)
	}
	return nil
}

// openAI speaks POST {base}/embeddings (OpenAI, Ollama, LM Studio, vLLM,
// llama.cpp's server).
type openAI struct{ cfg Config }

func (o openAI) embed(ctx context.Context, c *http.Client, texts []string, _ Task) ([][]float32, error) {
	req := map[string]any{"model": o.cfg.Model, "input": texts, "encoding_format": "float"}
	if o.cfg.Dimensions > 0 {
		req["dimensions"] = o.cfg.Dimensions
	}
	h := map[string]string{}
	if o.cfg.APIKey != "" {
		h["Authorization"] = "Bearer " + o.cfg.APIKey
	}
	var ans struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := post(ctx, c, ProviderOpenAI, o.cfg.BaseURL+"/embeddings", h, req, &ans); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for _, d := range ans.Data {
		if d.Index < 0 || d.Index >= len(out) || out[d.Index] != nil {
			return nil, fmt.Errorf("embed: openai: answer has a bad or repeated index %d", d.Index)
		}
		out[d.Index] = d.Embedding
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("embed: openai: answer has no vector for input %d", i)
		}
	}
	return out, nil
}

// gemini speaks POST {base}/v1beta/models/{model}:batchEmbedContents.
type gemini struct{ cfg Config }

func (g gemini) embed(ctx context.Context, c *http.Client, texts []string, task Task) ([][]float32, error) {
	model := strings.TrimPrefix(g.cfg.Model, "models/")
	taskType := "RETRIEVAL_DOCUMENT"
	if task == Query {
		taskType = "RETRIEVAL_QUERY"
	}
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Parts []part `json:"parts"`
	}
	type request struct {
		Model                string  `json:"model"`
		Content              content `json:"content"`
		TaskType             string  `json:"taskType"`
		OutputDimensionality int     `json:"outputDimensionality,omitempty"`
	}
	reqs := make([]request, len(texts))
	for i, t := range texts {
		reqs[i] = request{Model: "models/" + model, Content: content{Parts: []part{{Text: t}}}, TaskType: taskType, OutputDimensionality: g.cfg.Dimensions}
	}
	var ans struct {
		Embeddings []struct {
			Values []float32 `json:"values"`
		} `json:"embeddings"`
	}
	u := g.cfg.BaseURL + "/v1beta/models/" + url.PathEscape(model) + ":batchEmbedContents"
	if err := post(ctx, c, ProviderGemini, u, map[string]string{"x-goog-api-key": g.cfg.APIKey}, map[string]any{"requests": reqs}, &ans); err != nil {
		return nil, err
	}
	out := make([][]float32, len(ans.Embeddings))
	for i, e := range ans.Embeddings {
		out[i] = e.Values
	}
	return out, nil
}
