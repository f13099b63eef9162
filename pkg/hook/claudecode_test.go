package hook_test

import (
	"github.com/mnemo-dev/mnemo/pkg/testkit"

	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
)

// fixtureDir is the directory of real Claude Code payloads.
func fixtureDir(t testing.TB) string {
	t.Helper()
	return testkit.FixtureDir(t, "claude-code")
}

// payloadFixtures returns every hook payload fixture by file name.
func payloadFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	dir := fixtureDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "hook-env.json" || name == "hook-output-evidence.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	if len(out) < 70 {
		t.Fatalf("only %d fixtures under %s", len(out), dir)
	}
	return out
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventOf is the hook event name of a fixture file: "PostToolUse-Bash.json" →
// "PostToolUse".
func eventOf(name string) string {
	n := strings.TrimSuffix(name, ".json")
	n, _, _ = strings.Cut(n, "-")
	return n
}

// expectedKind is what each fixture must become; "" means skipped.
func expectedKind(name string) event.Kind {
	switch name {
	case "PostToolUse-TaskCreate.json", "PostToolUse-TaskUpdate.json", // bookkeeping tools
		"Stop-stop_hook_active.json": // the turn goes on
		return ""
	}
	switch eventOf(name) {
	case "SessionStart":
		return event.KindSessionStart
	case "UserPromptSubmit":
		return event.KindUserPrompt
	case "PostToolUse", "PostToolUseFailure":
		return event.KindToolUse
	case "Stop", "StopFailure":
		return event.KindStop
	case "SessionEnd":
		return event.KindSessionEnd
	}
	return ""
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TestEveryFixtureMapsToItsKindOrIsSkipped(t *testing.T) {
	fx := payloadFixtures(t)
	names := make([]string, 0, len(fx))
	for n := range fx {
		names = append(names, n)
	}
	sort.Strings(names)
	recorded := map[event.Kind]int{}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			payload := fx[name]
			var raw map[string]any
			if err := json.Unmarshal(payload, &raw); err != nil {
				t.Fatal(err)
			}
			ev := eventOf(name)
			if raw["hook_event_name"] != ev {
				t.Fatalf("fixture says hook_event_name %v, file name says %s", raw["hook_event_name"], ev)
			}
			want := expectedKind(name)
			for _, evName := range []string{ev, ""} { // the CLI argument, or the payload's own name
				opts := hook.Options{Now: func() time.Time { return t0 }, State: hook.NewState(t.TempDir())}
				e, err := hook.ClaudeCode(evName, payload, opts)
				if want == "" {
					var se *hook.SkipError
					if !errors.As(err, &se) || !errors.Is(err, hook.ErrSkip) || se.Reason == "" {
						t.Fatalf("%s: got %+v, %v; want a SkipError with a reason", name, e, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if e.Kind != want {
					t.Fatalf("kind %s, want %s", e.Kind, want)
				}
				if err := e.Validate(event.DefaultLimits); err != nil {
					t.Fatalf("invalid envelope: %v", err)
				}
				if e.SessionID != raw["session_id"] || e.Cwd != raw["cwd"] || e.Agent != "claude-code" || !e.At.Equal(t0) {
					t.Fatalf("common fields: %+v", e)
				}
				if ts, ok := event.IDTime(e.EventID); !ok || !ts.Equal(t0) {
					t.Fatalf("event ID %q is not a ULID at the hook time", e.EventID)
				}
				if id, _ := raw["agent_id"].(string); e.AgentID != id {
					t.Fatalf("agent_id %q, want %q", e.AgentID, id)
				}
				checkFields(t, ev, raw, e)
			}
			if want != "" {
				recorded[want]++
			}
		})
	}
	for _, k := range event.Kinds {
		if recorded[k] == 0 {
			t.Errorf("no fixture became %s", k)
		}
	}
}

// checkFields checks the event-specific fields against the payload.
func checkFields(t *testing.T, ev string, raw map[string]any, e *event.Envelope) {
	t.Helper()
	switch ev {
	case "SessionStart":
		if e.Source != raw["source"] || e.Source == "" {
			t.Errorf("source %q, want %v", e.Source, raw["source"])
		}
	case "SessionEnd":
		if e.Source != raw["reason"] || e.Source == "" {
			t.Errorf("source %q, want reason %v", e.Source, raw["reason"])
		}
	case "UserPromptSubmit":
		if e.Prompt != raw["prompt"] || e.Prompt == "" || e.Private {
			t.Errorf("prompt %q private %v, want %v", e.Prompt, e.Private, raw["prompt"])
		}
	case "PostToolUse", "PostToolUseFailure":
		if e.Tool == nil || e.Tool.Name != raw["tool_name"] || e.Tool.UseID != raw["tool_use_id"] {
			t.Fatalf("tool %+v, want %v/%v", e.Tool, raw["tool_name"], raw["tool_use_id"])
		}
		if !sameJSON(t, e.Tool.Input, raw["tool_input"]) {
			t.Errorf("tool input %s, want %v", e.Tool.Input, raw["tool_input"])
		}
		if ev == "PostToolUse" {
			if !sameJSON(t, e.Tool.Response, raw["tool_response"]) || e.Tool.Error != "" {
				t.Errorf("tool response %s error %q, want %v", e.Tool.Response, e.Tool.Error, raw["tool_response"])
			}
		} else if e.Tool.Error != raw["error"] || e.Tool.Error == "" || e.Tool.Response != nil {
			t.Errorf("tool error %q response %s, want %v", e.Tool.Error, e.Tool.Response, raw["error"])
		}
	case "Stop":
		if e.LastAssistantMessage != raw["last_assistant_message"] || e.LastAssistantMessage == "" {
			t.Errorf("last assistant message %q", e.LastAssistantMessage)
		}
	case "StopFailure":
		if e.Source != "error" || e.LastAssistantMessage != "" {
			t.Errorf("StopFailure: source %q message %q", e.Source, e.LastAssistantMessage)
		}
	}
}

func sameJSON(t *testing.T, got json.RawMessage, want any) bool {
	t.Helper()
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	a, _ := json.Marshal(g)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}

func TestEveryEventNameIsKnown(t *testing.T) {
	known := map[string]bool{}
	for _, n := range hook.ClaudeCodeEvents() {
		known[n] = true
	}
	for name := range payloadFixtures(t) {
		if !known[eventOf(name)] {
			t.Errorf("fixture event %s is not in ClaudeCodeEvents", eventOf(name))
		}
	}
	if !known["TeammateIdle"] || len(known) != 30 {
		t.Errorf("want the 30 events of Claude Code 2.1.197, got %d", len(known))
	}
}

func TestMappingErrors(t *testing.T) {
	bash := fixture(t, "PostToolUse-Bash.json")
	cases := []struct {
		name, event string
		payload     []byte
		check       func(error) bool
	}{
		{"unknown event", "Compile", bash, func(err error) bool { return errors.Is(err, hook.ErrUnknownEvent) }},
		{"not JSON", "PostToolUse", []byte("hello"), func(err error) bool { return errors.Is(err, event.ErrMalformed) }},
		{"JSON array", "PostToolUse", []byte(`[1]`), func(err error) bool { return errors.Is(err, event.ErrMalformed) }},
		{"trailing data", "PostToolUse", append(append([]byte{}, bash...), `{}`...), func(err error) bool { return errors.Is(err, event.ErrMalformed) }},
		{"wrong type", "PostToolUse", []byte(`{"session_id":3}`), fieldErr("session_id", false)},
		{"no event name", "", []byte(`{"session_id":"s"}`), fieldErr("hook_event_name", true)},
		{"name mismatch", "Stop", bash, fieldErr("hook_event_name", false)},
		{"no session", "PostToolUse", []byte(`{"hook_event_name":"PostToolUse","tool_name":"Bash"}`), fieldErr("session_id", true)},
		{"session with a dot", "PostToolUse", []byte(`{"session_id":"a.b","tool_name":"Bash"}`), fieldErr("session_id", false)},
		{"session with a wildcard", "Stop", []byte(`{"session_id":"a>"}`), fieldErr("session_id", false)},
		{"session too long", "Stop", []byte(`{"session_id":"` + strings.Repeat("s", 129) + `"}`), fieldErr("session_id", false)},
		{"tool use without a tool name", "PostToolUse", []byte(`{"session_id":"s1"}`), fieldErr("tool.name", true)},
		// A skipped event is still checked for its session (ingest answers 400).
		{"skipped event with a bad session", "Notification", []byte(`{"session_id":"../etc"}`), fieldErr("session_id", false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := hook.ClaudeCode(tc.event, tc.payload, hook.Options{})
			if err == nil || !tc.check(err) {
				t.Fatalf("got %+v, %v", e, err)
			}
		})
	}
}

func fieldErr(field string, missing bool) func(error) bool {
	return func(err error) bool {
		var fe *event.FieldError
		return errors.As(err, &fe) && fe.Field == field && fe.Missing == missing && errors.Is(err, event.ErrInvalid)
	}
}

// payload edits a fixture: set replaces top-level fields.
func payload(t *testing.T, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTagsAreStrippedEverywhere(t *testing.T) {
	secret := "hunter2-SECRET"
	cases := []struct {
		name, event, fixture string
		set                  map[string]any
	}{
		{"prompt", "UserPromptSubmit", "UserPromptSubmit.json", map[string]any{"prompt": "deploy with <private>" + secret + "</private> please"}},
		{"prompt case variant", "UserPromptSubmit", "UserPromptSubmit.json", map[string]any{"prompt": "a <PRIVATE>" + secret + "</Private> b"}},
		{"prompt multi-line unclosed", "UserPromptSubmit", "UserPromptSubmit.json", map[string]any{"prompt": "a\n<private>\n" + secret + "\nmore"}},
		{"prompt system reminder", "UserPromptSubmit", "UserPromptSubmit.json", map[string]any{"prompt": "<system-reminder>" + secret + "</system-reminder>go"}},
		{"prompt injected context", "UserPromptSubmit", "UserPromptSubmit.json", map[string]any{"prompt": "<mnemo-context>" + secret + "</mnemo-context>go"}},
		{"tool input", "PostToolUse", "PostToolUse-Bash.json", map[string]any{"tool_input": map[string]any{"command": "echo <private>" + secret + "</private>"}}},
		{"tool response nested", "PostToolUse", "PostToolUse-Read.json", map[string]any{"tool_response": map[string]any{
			"type": "text", "file": map[string]any{"content": "line 1\n<private>\n" + secret + "\n</private>\nline 3", "numLines": 3}}}},
		{"tool response array", "PostToolUse", "PostToolUse-mcp__elicit__ask_name.json", map[string]any{"tool_response": []any{
			map[string]any{"type": "text", "text": "x <system_instruction>" + secret + "</system_instruction>"}}}},
		{"tool error", "PostToolUseFailure", "PostToolUseFailure-Bash.json", map[string]any{"error": "Exit code 1\n<private>" + secret + "</private>"}},
		{"assistant message", "Stop", "Stop.json", map[string]any{"last_assistant_message": "done <system-instruction>" + secret + "</system-instruction>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := hook.ClaudeCode(tc.event, payload(t, tc.fixture, tc.set), hook.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), secret) || strings.Contains(strings.ToLower(string(b)), "<private") {
				t.Fatalf("the envelope holds the secret: %s", b)
			}
		})
	}
}

// The mapping strips and validates the envelope it makes exactly once: ingest
// publishes what it maps without doing either again (issue 22).
func TestClaudeCodeStripsAndValidatesOnce(t *testing.T) {
	for _, fixture := range []string{"UserPromptSubmit.json", "PostToolUse-Bash.json", "Stop.json"} {
		s0, v0 := event.Checks()
		name := strings.SplitN(strings.TrimSuffix(fixture, ".json"), "-", 2)[0]
		if _, err := hook.ClaudeCode(name, payload(t, fixture, nil), hook.Options{}); err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		s1, v1 := event.Checks()
		if s1-s0 != 1 || v1-v0 != 1 {
			t.Fatalf("%s: stripped %d and validated %d times, want once each", fixture, s1-s0, v1-v0)
		}
	}
}

func TestPrivatePromptMakesItsTurnPrivate(t *testing.T) {
	st := hook.NewState(t.TempDir())
	now := t0
	opts := hook.Options{State: st, Now: func() time.Time { return now }}
	const turn = "prompt-private-1"
	prompt := payload(t, "UserPromptSubmit.json", map[string]any{"prompt_id": turn, "prompt": " <private>rotate the key sk-live-123</private>\n"})
	e, err := hook.ClaudeCode("UserPromptSubmit", prompt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Private || e.Prompt != "" {
		t.Fatalf("entirely private prompt: private %v prompt %q", e.Private, e.Prompt)
	}
	now = now.Add(time.Second)
	for _, name := range []string{"PostToolUse-Bash.json", "PostToolUse-Bash-subagent.json", "PostToolUseFailure-Bash.json", "Stop.json"} {
		ev := eventOf(name)
		e, err := hook.ClaudeCode(ev, payload(t, name, map[string]any{"prompt_id": turn}), opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !e.Private || e.LastAssistantMessage != "" {
			t.Fatalf("%s: private %v message %q", name, e.Private, e.LastAssistantMessage)
		}
		if e.Tool != nil && (e.Tool.Input != nil || e.Tool.Response != nil || e.Tool.Error != "" || e.Tool.Name == "" || e.Tool.UseID == "") {
			t.Fatalf("%s: a private turn's tool keeps only its name and id: %+v", name, e.Tool)
		}
	}
	// The next turn is not private.
	e, err = hook.ClaudeCode("PostToolUse", payload(t, "PostToolUse-Bash.json", map[string]any{"prompt_id": "prompt-2"}), opts)
	if err != nil || e.Private || e.Tool.Input == nil {
		t.Fatalf("another turn: %+v %v", e, err)
	}
	// A prompt with some private text is not a private turn.
	mixed := payload(t, "UserPromptSubmit.json", map[string]any{"prompt_id": "prompt-3", "prompt": "use <private>pw</private> to log in"})
	if e, err := hook.ClaudeCode("UserPromptSubmit", mixed, opts); err != nil || e.Private || e.Prompt != "use  to log in" {
		t.Fatalf("mixed prompt: %+v %v", e, err)
	}
	if e, err := hook.ClaudeCode("Stop", payload(t, "Stop.json", map[string]any{"prompt_id": "prompt-3"}), opts); err != nil || e.Private {
		t.Fatalf("mixed prompt's stop: %+v %v", e, err)
	}
	// Another session's hooks know nothing of it.
	other := payload(t, "PostToolUse-Bash.json", map[string]any{"prompt_id": turn, "session_id": "other-session"})
	if e, err := hook.ClaudeCode("PostToolUse", other, opts); err != nil || e.Private {
		t.Fatalf("other session: %+v %v", e, err)
	}
	// Session end forgets the session's state.
	if _, err := hook.ClaudeCode("SessionEnd", fixture(t, "SessionEnd.json"), opts); err != nil {
		t.Fatal(err)
	}
	if st.PrivateTurn("b38da9b4-9527-4531-9287-3379a50b6d9e", turn) {
		t.Fatal("state kept after SessionEnd")
	}
}

func TestRepeatedPromptWithinTenSecondsIsSentOnce(t *testing.T) {
	now := t0
	opts := hook.Options{State: hook.NewState(t.TempDir()), Now: func() time.Time { return now }}
	p := fixture(t, "UserPromptSubmit.json")
	if _, err := hook.ClaudeCode("UserPromptSubmit", p, opts); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Second)
	if _, err := hook.ClaudeCode("UserPromptSubmit", p, opts); !errors.Is(err, hook.ErrSkip) {
		t.Fatalf("repeat after 9 s: %v, want skipped", err)
	}
	now = now.Add(11 * time.Second)
	if _, err := hook.ClaudeCode("UserPromptSubmit", p, opts); err != nil {
		t.Fatalf("repeat after 11 more s: %v, want sent", err)
	}
	now = now.Add(time.Second)
	other := payload(t, "UserPromptSubmit.json", map[string]any{"prompt": "something else"})
	if _, err := hook.ClaudeCode("UserPromptSubmit", other, opts); err != nil {
		t.Fatalf("another prompt: %v", err)
	}
	otherSession := payload(t, "UserPromptSubmit.json", map[string]any{"prompt": "something else", "session_id": "s2"})
	if _, err := hook.ClaudeCode("UserPromptSubmit", otherSession, opts); err != nil {
		t.Fatalf("same prompt in another session: %v", err)
	}
	// Without state every prompt is sent.
	if _, err := hook.ClaudeCode("UserPromptSubmit", other, hook.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRepeatedPromptAcrossConcurrentHooks(t *testing.T) {
	// Claude Code runs a hook installed twice (user and project settings) at
	// once: exactly one of them sends the prompt.
	st := hook.NewState(t.TempDir())
	p := fixture(t, "UserPromptSubmit.json")
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := hook.ClaudeCode("UserPromptSubmit", p, hook.Options{State: st})
			errs <- err
		}()
	}
	sent := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			sent++
		case !errors.Is(err, hook.ErrSkip):
			t.Fatal(err)
		}
	}
	if sent != 1 {
		t.Fatalf("sent %d times, want once", sent)
	}
}

func TestTaskNotificationPromptIsSkipped(t *testing.T) {
	p := payload(t, "UserPromptSubmit.json", map[string]any{"prompt": "<task-notification>\n<task-id>b1</task-id>\n</task-notification>"})
	if _, err := hook.ClaudeCode("UserPromptSubmit", p, hook.Options{}); !errors.Is(err, hook.ErrSkip) {
		t.Fatalf("got %v, want skipped", err)
	}
}

func TestSkipTools(t *testing.T) {
	for _, tool := range hook.DefaultSkipTools {
		p := payload(t, "PostToolUse-Bash.json", map[string]any{"tool_name": tool})
		if _, err := hook.ClaudeCode("PostToolUse", p, hook.Options{}); !errors.Is(err, hook.ErrSkip) {
			t.Errorf("%s: %v, want skipped", tool, err)
		}
	}
	mcp := payload(t, "PostToolUse-Bash.json", map[string]any{"tool_name": "mcp__todo__add"})
	if _, err := hook.ClaudeCode("PostToolUse", mcp, hook.Options{SkipTools: []string{"mcp__todo__*"}}); !errors.Is(err, hook.ErrSkip) {
		t.Errorf("glob: %v, want skipped", err)
	}
	if _, err := hook.ClaudeCode("PostToolUse", mcp, hook.Options{}); err != nil {
		t.Errorf("an MCP tool is recorded by default: %v", err)
	}
	task := fixture(t, "PostToolUse-TaskCreate.json")
	if _, err := hook.ClaudeCode("PostToolUse", task, hook.Options{SkipTools: []string{}}); err != nil {
		t.Errorf("empty skip list records everything: %v", err)
	}
	if _, err := hook.ClaudeCode("PostToolUseFailure", payload(t, "PostToolUseFailure-Bash.json", map[string]any{"tool_name": "TodoWrite"}), hook.Options{}); !errors.Is(err, hook.ErrSkip) {
		t.Errorf("a skipped tool's failure: %v, want skipped", err)
	}
}

func TestExcludedProjects(t *testing.T) {
	bash := fixture(t, "PostToolUse-Bash.json") // cwd /home/dev/acme-api
	for _, tc := range []struct {
		globs string
		skip  bool
	}{
		{"", false},
		{"acme-api", true},
		{"acme-*", true},
		{"other, acme-?pi", true},
		{"/home/dev/*", true},
		{"/home/dev/acme-api", true},
		{"/home/*/acme-api", true},
		{"/home/dev", true}, // a directory above the cwd
		{"/home/dev/acme-api/src", false},
		{"acme", false},
		{"/home/other", false},
		{"other,*-web", false},
	} {
		_, err := hook.ClaudeCode("PostToolUse", bash, hook.Options{Exclude: hook.ParseExcluded(tc.globs)})
		if got := errors.Is(err, hook.ErrSkip); got != tc.skip || (!tc.skip && err != nil) {
			t.Errorf("MNEMO_EXCLUDED_PROJECTS=%q: %v, want skipped %v", tc.globs, err, tc.skip)
		}
	}
	// Every recorded event of an excluded project is skipped, prompts included,
	// also from a subdirectory (Stop and SessionEnd ran in acme-api/src).
	for _, name := range []string{"SessionStart.json", "UserPromptSubmit.json", "Stop.json", "SessionEnd.json"} {
		for _, o := range []hook.Options{
			{Exclude: []string{"acme-api"}, Project: hook.ProjectNamer("/home/dev/acme-api")},
			{Exclude: []string{"/home/dev/acme-*"}},
		} {
			if _, err := hook.ClaudeCode(eventOf(name), fixture(t, name), o); !errors.Is(err, hook.ErrSkip) {
				t.Errorf("%s: %v, want skipped", name, err)
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if got := hook.ParseExcluded("~/clients/*"); len(got) != 1 || got[0] != filepath.ToSlash(filepath.Join(home, "clients/*")) {
			t.Errorf("~ is the home directory: %q", got)
		}
	}
	if got := hook.ParseExcluded(" a , ,b*,"); len(got) != 2 || got[0] != "a" || got[1] != "b*" {
		t.Errorf("ParseExcluded: %q", got)
	}
}

func TestSubagentStopIsNotSummarized(t *testing.T) {
	for _, name := range []string{"SubagentStop.json", "SubagentStop-compaction.json", "SubagentStop-general-purpose.json"} {
		if _, err := hook.ClaudeCode("SubagentStop", fixture(t, name), hook.Options{}); !errors.Is(err, hook.ErrSkip) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A Stop fired inside a subagent is skipped too.
	stop := payload(t, "Stop.json", map[string]any{"agent_id": "a1", "agent_type": "general-purpose"})
	if _, err := hook.ClaudeCode("Stop", stop, hook.Options{}); !errors.Is(err, hook.ErrSkip) {
		t.Errorf("subagent Stop: %v", err)
	}
	// Tool uses inside a subagent are recorded with the agent fields.
	e, err := hook.ClaudeCode("PostToolUse", fixture(t, "PostToolUse-Bash-subagent.json"), hook.Options{})
	if err != nil || e.AgentID != "aaf9307fc80072b3c" || e.AgentType != "general-purpose" {
		t.Fatalf("subagent tool use: %+v %v", e, err)
	}
}

func TestOversizedToolResponseIsTruncated(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 40<<10) // 640 KiB
	p := payload(t, "PostToolUse-Bash.json", map[string]any{
		"tool_response": map[string]any{"stdout": big},
		"tool_input":    map[string]any{"command": strings.Repeat("x", 300<<10)},
	})
	e, err := hook.ClaudeCode("PostToolUse", p, hook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := event.DefaultLimits
	if !e.Tool.Truncated || len(e.Tool.Response) > l.ToolResponse || len(e.Tool.Input) > l.ToolInput {
		t.Fatalf("truncated %v, response %d bytes, input %d bytes", e.Tool.Truncated, len(e.Tool.Response), len(e.Tool.Input))
	}
	var m event.TruncationMarker
	if err := json.Unmarshal(e.Tool.Response, &m); err != nil || !m.Truncated || m.OriginalBytes < len(big) || !strings.HasPrefix(m.Head, `{"stdout":"0123456789abcdef`) {
		t.Fatalf("marker %+v %v", m, err)
	}
	body, _ := json.Marshal(e)
	if len(body) > l.Body {
		t.Fatalf("envelope is %d bytes, over the body limit", len(body))
	}
	// Small limits: the whole body is cut to fit too.
	small := event.Limits{Body: 8 << 10, ToolResponse: 6 << 10, ToolInput: 6 << 10, Prompt: 4 << 10, Field: 256}
	e, err = hook.ClaudeCode("PostToolUse", p, hook.Options{Limits: small})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := json.Marshal(e); len(body) > small.Body {
		t.Fatalf("envelope is %d bytes, over the body limit %d", len(body), small.Body)
	}
	// A huge prompt keeps its head with a note.
	pr := payload(t, "UserPromptSubmit.json", map[string]any{"prompt": strings.Repeat("é", 200<<10)})
	e, err = hook.ClaudeCode("UserPromptSubmit", pr, hook.Options{})
	if err != nil || len(e.Prompt) > l.Prompt || !strings.Contains(e.Prompt, "[mnemo: truncated") {
		t.Fatalf("prompt of %d bytes: %v", len(e.Prompt), err)
	}
}

func TestOptionsAreUsed(t *testing.T) {
	e, err := hook.ClaudeCode("PostToolUse", fixture(t, "PostToolUse-Bash.json"), hook.Options{
		Agent:   "claude-code-test",
		Project: func(cwd string) string { return "named:" + cwd },
		NewID:   func() string { return "fixed-id" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Agent != "claude-code-test" || e.Project != "named:/home/dev/acme-api" || e.EventID != "fixed-id" {
		t.Fatalf("%+v", e)
	}
	e, err = hook.ClaudeCode("PostToolUse", fixture(t, "PostToolUse-Bash.json"), hook.Options{})
	if err != nil || e.Project != "acme-api" {
		t.Fatalf("default project %q: %v", e.Project, err)
	}
}
