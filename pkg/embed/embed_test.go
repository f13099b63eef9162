package embed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/embed/embedtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	c, err := embed.FromEnv(env(nil))
	if err != nil || c.On() {
		t.Fatalf("unset: %+v %v, want off and no error", c, err)
	}
	c, err = embed.FromEnv(env(map[string]string{"MNEMO_EMBED_PROVIDER": "openai", "OPENAI_API_KEY": "k1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model != "text-embedding-3-small" || c.BaseURL != "https://api.openai.com/v1" || c.APIKey != "k1" || c.Batch != embed.DefaultBatch {
		t.Fatalf("openai defaults: %+v", c)
	}
	if c.Key() != "openai:text-embedding-3-small" {
		t.Fatalf("key %q", c.Key())
	}
	c, err = embed.FromEnv(env(map[string]string{"MNEMO_EMBED_PROVIDER": "gemini", "GEMINI_API_KEY": "g", "MNEMO_EMBED_API_KEY": "own", "MNEMO_EMBED_DIMENSIONS": "768"}))
	if err != nil || c.APIKey != "own" || c.Key() != "gemini:gemini-embedding-001:768" {
		t.Fatalf("gemini: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"MNEMO_EMBED_PROVIDER": "chroma"},
		{"MNEMO_EMBED_PROVIDER": "gemini"}, // no key
		{"MNEMO_EMBED_PROVIDER": "openai", "MNEMO_EMBED_DIMENSIONS": "many"},
		{"MNEMO_EMBED_PROVIDER": "openai", "MNEMO_EMBED_DIMENSIONS": "100000"},
		{"MNEMO_EMBED_PROVIDER": "openai", "MNEMO_EMBED_BATCH": "-1"},
		{"MNEMO_EMBED_PROVIDER": "openai", "MNEMO_EMBED_TIMEOUT": "1ms"},
	} {
		if _, err := embed.FromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), "MNEMO_EMBED_") && !strings.Contains(err.Error(), "GEMINI_API_KEY") {
			t.Errorf("%v: err %v, want one naming the variable", bad, err)
		}
	}
}

func TestProvidersEmbedInOrderInBatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func(testing.TB, int) *embedtest.Server
	}{{"openai", embedtest.NewOpenAI}, {"gemini", embedtest.NewGemini}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv(t, 64)
			cfg := srv.Config("fake-model")
			cfg.Batch = 4
			cfg.Dimensions = 32
			c, err := embed.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			texts := make([]string, 10)
			for i := range texts {
				texts[i] = fmt.Sprintf("word%d", i)
			}
			texts[7] = "" // providers refuse empty input: sent as a space
			vs, err := c.Embed(context.Background(), texts, embed.Document)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 10 || srv.Calls() != 3 || srv.Texts() != 10 {
				t.Fatalf("%d vectors in %d calls of %d texts, want 10 in 3", len(vs), srv.Calls(), srv.Texts())
			}
			for i, v := range vs {
				if len(v) != 32 {
					t.Fatalf("vector %d has %d dims, want the asked 32", i, len(v))
				}
				if i == 7 {
					continue
				}
				if want := embedtest.Vector("fake-model", texts[i], 32); embed.Dot(v, want) < 0.999 {
					t.Fatalf("vector %d is not the embedding of %q (out of order?)", i, texts[i])
				}
			}
		})
	}
}

func TestGeminiAsksQueryAndDocumentTasks(t *testing.T) {
	srv := embedtest.NewGemini(t, 16)
	c, err := embed.New(srv.Config("gemini-embedding-001"))
	if err != nil {
		t.Fatal(err)
	}
	for task, want := range map[embed.Task]string{embed.Query: "RETRIEVAL_QUERY", embed.Document: "RETRIEVAL_DOCUMENT"} {
		if _, err := c.Embed(context.Background(), []string{"x"}, task); err != nil {
			t.Fatal(err)
		}
		var body struct {
			Requests []struct {
				Model    string `json:"model"`
				TaskType string `json:"taskType"`
			} `json:"requests"`
		}
		if err := json.Unmarshal(srv.LastBody(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Requests[0].TaskType != want || body.Requests[0].Model != "models/gemini-embedding-001" {
			t.Fatalf("task %v sent %+v, want %s", task, body.Requests[0], want)
		}
	}
}

func TestParaphraseLandsNearItsTarget(t *testing.T) {
	srv := embedtest.NewOpenAI(t, 256)
	c, err := embed.New(srv.Config("m"))
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"Check greeting", "Fix flaky database migration", "Speed up the build cache"}
	dv, err := c.Embed(context.Background(), docs, embed.Document)
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Embed(context.Background(), []string{"hello salutation"}, embed.Query)
	if err != nil {
		t.Fatal(err)
	}
	best, bestScore := -1, float32(-2)
	for i, v := range dv {
		if s := embed.Dot(q[0], v); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best != 0 || bestScore <= 0 {
		t.Fatalf("nearest to %q is %q (%.2f), want %q", "hello salutation", docs[max(best, 0)], bestScore, docs[0])
	}
}

func TestOutageAndStallAreErrors(t *testing.T) {
	srv := embedtest.NewOpenAI(t, 8)
	cfg := srv.Config("m")
	cfg.Timeout = 200 * time.Millisecond
	c, err := embed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true)
	_, err = c.Embed(context.Background(), []string{"a"}, embed.Document)
	var se *embed.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || strings.Contains(err.Error(), "test-key") {
		t.Fatalf("outage: %v, want a 503 StatusError without the key", err)
	}
	srv.SetDown(false)
	srv.Stall(5 * time.Second)
	start := time.Now()
	if _, err = c.Embed(context.Background(), []string{"a"}, embed.Document); err == nil {
		t.Fatal("a stalled provider answered")
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("the timeout did not end the stalled call (%s)", waited)
	}
}

func TestEncodeDecode(t *testing.T) {
	v := []float32{1.5, -2, 0, 3.25e-7}
	got, err := embed.Decode(embed.Encode(v))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(v) {
		t.Fatalf("round trip %v -> %v %v", v, got, err)
	}
	if _, err := embed.Decode([]byte{1, 2, 3}); err == nil {
		t.Fatal("3 bytes decoded as a vector")
	}
}
