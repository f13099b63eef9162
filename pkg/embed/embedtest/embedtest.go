// Package embedtest runs fake embedding providers for tests: an
// OpenAI-compatible /v1/embeddings and Gemini's batchEmbedContents, on their
// real wire formats, embedding deterministically by bag of concepts, so a
// paraphrase sharing no word with its target still lands near it
// (docs/ARCHITECTURE.md §14).
package embedtest

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/mnemo-dev/mnemo/pkg/embed"
)

// synonyms maps words to the concept they stand for; a word not listed is
// its own concept.
var synonyms = map[string]string{}

func init() {
	for concept, words := range map[string][]string{
		"greet": {"greeting", "greetings", "greet", "hello", "hi", "salutation", "welcome", "message"},
		"docs":  {"documentation", "docs", "doc", "readme", "manual", "guide", "handbook"},
		"auth":  {"login", "authentication", "auth", "signin", "credential", "credentials", "password", "token", "session"},
		"db":    {"database", "sql", "sqlite", "postgres", "postgresql", "storage", "persistence"},
		"bug":   {"bug", "error", "fault", "defect", "crash", "failure", "broken", "panic"},
		"speed": {"performance", "fast", "slow", "latency", "speed", "quick", "sluggish"},
		"car":   {"car", "automobile", "vehicle", "truck"},
	} {
		for _, w := range words {
			synonyms[w] = concept
		}
	}
}

var stop = map[string]bool{"the": true, "a": true, "an": true, "of": true, "to": true, "in": true, "for": true,
	"and": true, "is": true, "on": true, "with": true, "about": true, "what": true, "how": true, "my": true}

// Vector is the fake embedding of text for model in dims dimensions: one
// unit per concept, each concept at a dimension chosen by hashing it with
// the model (so two models' vectors of one text differ), normalized.
func Vector(model, text string, dims int) []float32 {
	v := make([]float32, dims)
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, w := range words {
		if stop[w] {
			continue
		}
		c, ok := synonyms[w]
		if !ok {
			c = w
		}
		h := fnv.New32a()
		h.Write([]byte(model + "\x00" + c))
		v[h.Sum32()%uint32(dims)] += 1
	}
	return embed.Normalize(v)
}

// Server is a fake embedding provider.
type Server struct {
	URL      string
	Provider string
	Dims     int // when the request asks for none

	down     atomic.Bool
	stall    atomic.Int64 // nanoseconds each answer waits
	calls    atomic.Int64
	texts    atomic.Int64
	mu       sync.Mutex
	lastBody []byte
}

// NewOpenAI starts a fake OpenAI-compatible server (POST /v1/embeddings).
func NewOpenAI(t testing.TB, dims int) *Server {
	s := &Server{Provider: embed.ProviderOpenAI, Dims: dims}
	srv := httptest.NewServer(http.HandlerFunc(s.openAI))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/v1"
	return s
}

// NewGemini starts a fake Gemini server (POST
// /v1beta/models/{model}:batchEmbedContents).
func NewGemini(t testing.TB, dims int) *Server {
	s := &Server{Provider: embed.ProviderGemini, Dims: dims}
	srv := httptest.NewServer(http.HandlerFunc(s.gemini))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Config is an embed.Config pointing at the server with model.
func (s *Server) Config(model string) embed.Config {
	return embed.Config{Provider: s.Provider, Model: model, BaseURL: s.URL, APIKey: "test-key"}
}

// Env is the MNEMO_EMBED_* variables pointing at the server with model.
func (s *Server) Env(model string) map[string]string {
	return map[string]string{"MNEMO_EMBED_PROVIDER": s.Provider, "MNEMO_EMBED_MODEL": model,
		"MNEMO_EMBED_BASE_URL": s.URL, "MNEMO_EMBED_API_KEY": "test-key"}
}

// SetDown makes every answer a 503 (an outage) or ends it.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Stall makes every answer wait d (0 ends it), or until the caller leaves.
func (s *Server) Stall(d time.Duration) { s.stall.Store(int64(d)) }

// Calls is the number of embedding requests answered with vectors.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Texts is the number of texts embedded.
func (s *Server) Texts() int64 { return s.texts.Load() }

// LastBody is the last request body received.
func (s *Server) LastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastBody
}

// gate applies the outage and the stall; false when the request is answered.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, want string) ([]byte, bool) {
	if s.down.Load() {
		http.Error(w, `{"error":{"message":"fake outage"}}`, http.StatusServiceUnavailable)
		return nil, false
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, want) {
		http.Error(w, `{"error":{"message":"no such route"}}`, http.StatusNotFound)
		return nil, false
	}
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return nil, false
	}
	// The body is read, so the server notices a caller that leaves.
	if d := time.Duration(s.stall.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return nil, false
		}
	}
	s.mu.Lock()
	s.lastBody = body
	s.mu.Unlock()
	return body, true
}

func (s *Server) openAI(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer test-key" {
		http.Error(w, `{"error":{"message":"bad key"}}`, http.StatusUnauthorized)
		return
	}
	body, ok := s.gate(w, r, "/v1/embeddings")
	if !ok {
		return
	}
	var req struct {
		Model      string   `json:"model"`
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Input) == 0 {
		http.Error(w, `{"error":{"message":"want model and input[]"}}`, http.StatusBadRequest)
		return
	}
	dims := s.Dims
	if req.Dimensions > 0 {
		dims = req.Dimensions
	}
	type datum struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]datum, len(req.Input))
	// Answer in reverse order: clients must place vectors by index.
	for i := range req.Input {
		j := len(req.Input) - 1 - i
		data[i] = datum{Object: "embedding", Index: j, Embedding: Vector(req.Model, req.Input[j], dims)}
	}
	s.calls.Add(1)
	s.texts.Add(int64(len(req.Input)))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)}})
}

func (s *Server) gemini(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-goog-api-key") != "test-key" {
		http.Error(w, `{"error":{"code":403,"message":"bad key"}}`, http.StatusForbidden)
		return
	}
	body, ok := s.gate(w, r, ":batchEmbedContents")
	if !ok {
		return
	}
	var req struct {
		Requests []struct {
			Model   string `json:"model"`
			Content struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
			OutputDimensionality int `json:"outputDimensionality"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Requests) == 0 {
		http.Error(w, `{"error":{"code":400,"message":"want requests[]"}}`, http.StatusBadRequest)
		return
	}
	type values struct {
		Values []float32 `json:"values"`
	}
	out := make([]values, len(req.Requests))
	for i, q := range req.Requests {
		if !strings.HasPrefix(q.Model, "models/") || len(q.Content.Parts) == 0 {
			http.Error(w, `{"error":{"code":400,"message":"each request needs models/… and content.parts"}}`, http.StatusBadRequest)
			return
		}
		var text strings.Builder
		for _, p := range q.Content.Parts {
			text.WriteString(p.Text)
		}
		dims := s.Dims
		if q.OutputDimensionality > 0 {
			dims = q.OutputDimensionality
		}
		out[i] = values{Values: Vector(strings.TrimPrefix(q.Model, "models/"), text.String(), dims)}
	}
	s.calls.Add(1)
	s.texts.Add(int64(len(req.Requests)))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"embeddings": out})
}
