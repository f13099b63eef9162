package ingest_test

import (
	"github.com/mnemo-dev/mnemo/pkg/testkit"

	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
)

// fixtures returns the real Claude Code payloads by hook event name.
func fixtures(t testing.TB) map[string][][]byte {
	t.Helper()
	dir := testkit.FixtureDir(t, "claude-code")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s: %v", dir, err)
	}
	out := map[string][][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Name string `json:"hook_event_name"`
		}
		if json.Unmarshal(b, &head) != nil || head.Name == "" {
			continue // hook-env.json and other non-payload files
		}
		out[head.Name] = append(out[head.Name], b)
	}
	return out
}

// FuzzDecodeEnvelope feeds arbitrary bodies to the decoder and validator that
// POST /v1/events runs: no panic, and whatever passes is sanitized for good
// (a second Sanitize finds nothing) and survives a JSON round trip valid.
func FuzzDecodeEnvelope(f *testing.F) {
	for name, payloads := range fixtures(f) {
		for _, p := range payloads {
			if e, err := hook.ClaudeCode(name, p, hook.Options{}); err == nil {
				b, _ := json.Marshal(e)
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"event_id":"01J","session_id":"s","kind":"user_prompt","at":"2026-01-01T00:00:00Z","prompt":"<private>x"}`))
	f.Add([]byte(`{"event_id":"01J","session_id":"a.b","kind":"tool_use","at":"2026-01-01T00:00:00Z","tool":{"name":"Bash","input":{"c":"<PRIVATE>x</private>"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, known, err := event.DecodeKnown(body)
		if err != nil {
			return
		}
		private := e.Private
		changed := e.Sanitize() || e.Private != private
		if err := e.Validate(event.DefaultLimits); err != nil {
			return
		}
		if e.Sanitize() {
			t.Fatalf("second Sanitize removed more: not idempotent for %q", body)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("valid envelope does not encode: %v", err)
		}
		if known && !changed {
			// Ingest stores such a body as it came: the worker must read
			// from it exactly the envelope ingest validated.
			stored, err := bus.DecodeEvent(body)
			if err != nil {
				t.Fatalf("body stored as sent does not decode: %v", err)
			}
			if sb, _ := json.Marshal(stored); !bytes.Equal(sb, b) {
				t.Fatalf("body stored as sent reads as %s, ingest validated %s", sb, b)
			}
		}
		back, err := event.Decode(b)
		if err != nil {
			t.Fatalf("round trip decode: %v", err)
		}
		if err := back.Validate(event.DefaultLimits); err != nil {
			t.Fatalf("round trip no longer valid: %v", err)
		}
		if !event.ValidSessionID(back.SessionID) || strings.ContainsAny(back.SessionID, ".*> ") {
			t.Fatalf("session ID %q is not one subject token", back.SessionID)
		}
	})
}

// FuzzClaudeCodeMapper feeds arbitrary payloads to the mapper shared by the
// hook CLI and POST /v1/hooks/claude-code/{event}: no panic, and an envelope
// it returns is valid and already sanitized.
func FuzzClaudeCodeMapper(f *testing.F) {
	for name, payloads := range fixtures(f) {
		for _, p := range payloads {
			f.Add(name, p)
		}
	}
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		e, err := hook.ClaudeCode(name, payload, hook.Options{})
		if err != nil {
			return
		}
		if err := e.Validate(event.DefaultLimits); err != nil {
			t.Fatalf("mapper returned an invalid envelope: %v", err)
		}
		if e.Sanitize() {
			t.Fatalf("mapper returned an envelope with tags left in it")
		}
	})
}
