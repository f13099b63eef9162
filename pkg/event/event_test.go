package event_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

func valid() *event.Envelope {
	return &event.Envelope{EventID: event.NewID(), SessionID: "abc-123_X", Kind: event.KindToolUse, At: time.Now(),
		Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(`{"command":"ls"}`), Response: json.RawMessage(`{"stdout":"a"}`)}}
}

func TestValidSessionID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc":                        true,
		"0b7e1f9c-3a5d-4c1e-9f00-aa": true,
		"A_b-C":                      true,
		strings.Repeat("a", 128):     true,
		"":                           false,
		strings.Repeat("a", 129):     false,
		"a.b":                        false, // two subject tokens
		"a b":                        false,
		"a*":                         false,
		"a>":                         false,
		"ä":                          false,
		"a/b":                        false,
		"a\x00":                      false,
	} {
		if got := event.ValidSessionID(id); got != want {
			t.Errorf("ValidSessionID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	l := event.Limits{Body: 1 << 20, ToolResponse: 100, ToolInput: 100, Prompt: 50, Field: 20}
	cases := []struct {
		name    string
		mutate  func(e *event.Envelope)
		field   string
		kind    error
		missing bool
	}{
		{"valid", func(e *event.Envelope) {}, "", nil, false},
		{"no event id", func(e *event.Envelope) { e.EventID = "" }, "event_id", event.ErrInvalid, true},
		{"event id with a dot", func(e *event.Envelope) { e.EventID = "a.b" }, "event_id", event.ErrInvalid, false},
		{"event id too long", func(e *event.Envelope) { e.EventID = strings.Repeat("e", 65) }, "event_id", event.ErrInvalid, false},
		{"no session", func(e *event.Envelope) { e.SessionID = "" }, "session_id", event.ErrInvalid, true},
		{"session not a token", func(e *event.Envelope) { e.SessionID = "x.y" }, "session_id", event.ErrInvalid, false},
		{"no kind", func(e *event.Envelope) { e.Kind = "" }, "kind", event.ErrInvalid, true},
		{"unknown kind", func(e *event.Envelope) { e.Kind = "compile" }, "kind", event.ErrInvalid, false},
		{"no time", func(e *event.Envelope) { e.At = time.Time{} }, "at", event.ErrInvalid, true},
		{"negative prompt number", func(e *event.Envelope) { e.PromptNumber = -1 }, "prompt_number", event.ErrInvalid, false},
		{"tool_use without tool", func(e *event.Envelope) { e.Tool = nil }, "tool", event.ErrInvalid, true},
		{"tool without name", func(e *event.Envelope) { e.Tool.Name = "" }, "tool.name", event.ErrInvalid, true},
		{"project too long", func(e *event.Envelope) { e.Project = strings.Repeat("p", 21) }, "project", event.ErrTooLarge, false},
		{"cwd too long", func(e *event.Envelope) { e.Cwd = strings.Repeat("c", 21) }, "cwd", event.ErrTooLarge, false},
		{"prompt too long", func(e *event.Envelope) { e.Prompt = strings.Repeat("x", 51) }, "prompt", event.ErrTooLarge, false},
		{"last message too long", func(e *event.Envelope) { e.LastAssistantMessage = strings.Repeat("x", 51) }, "last_assistant_message", event.ErrTooLarge, false},
		{"response too large", func(e *event.Envelope) {
			e.Tool.Response = json.RawMessage(`"` + strings.Repeat("r", 100) + `"`)
		}, "tool.response", event.ErrTooLarge, false},
		{"input too large", func(e *event.Envelope) {
			e.Tool.Input = json.RawMessage(`"` + strings.Repeat("i", 100) + `"`)
		}, "tool.input", event.ErrTooLarge, false},
		{"input not JSON", func(e *event.Envelope) { e.Tool.Input = json.RawMessage(`{nope`) }, "tool.input", event.ErrInvalid, false},
		{"response not JSON", func(e *event.Envelope) { e.Tool.Response = json.RawMessage(`nope`) }, "tool.response", event.ErrInvalid, false},
		{"prompt at the limit", func(e *event.Envelope) { e.Prompt = strings.Repeat("x", 50) }, "", nil, false},
		{"session at 128", func(e *event.Envelope) { e.SessionID = strings.Repeat("s", 128) }, "", nil, false},
		{"session at 129", func(e *event.Envelope) { e.SessionID = strings.Repeat("s", 129) }, "session_id", event.ErrInvalid, false},
		{"session with a wildcard", func(e *event.Envelope) { e.SessionID = "a*" }, "session_id", event.ErrInvalid, false},
		{"session with a space", func(e *event.Envelope) { e.SessionID = "a b" }, "session_id", event.ErrInvalid, false},
		{"agent id too long", func(e *event.Envelope) { e.AgentID = strings.Repeat("a", 21) }, "agent_id", event.ErrTooLarge, false},
		{"replay_of too long", func(e *event.Envelope) { e.ReplayOf = strings.Repeat("a", 21) }, "replay_of", event.ErrTooLarge, false},
		{"tool name too long", func(e *event.Envelope) { e.Tool.Name = strings.Repeat("t", 21) }, "tool.name", event.ErrTooLarge, false},
		{"tool use id too long", func(e *event.Envelope) { e.Tool.UseID = strings.Repeat("u", 21) }, "tool.use_id", event.ErrTooLarge, false},
		{"tool error too long", func(e *event.Envelope) { e.Tool.Error = strings.Repeat("e", 51) }, "tool.error", event.ErrTooLarge, false},
		{"prompt without tool", func(e *event.Envelope) { e.Kind = event.KindUserPrompt; e.Tool = nil; e.Prompt = "hi" }, "", nil, false},
		{"every kind is known", func(e *event.Envelope) { e.Kind = event.KindSessionEnd; e.Tool = nil }, "", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.mutate(e)
			err := e.Validate(l)
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var fe *event.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if fe.Field != tc.field || !errors.Is(err, tc.kind) || fe.Missing != tc.missing {
				t.Fatalf("got field %q kind %v missing %v (%v), want field %q kind %v missing %v",
					fe.Field, fe.Kind, fe.Missing, err, tc.field, tc.kind, tc.missing)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	b, _ := json.Marshal(valid())
	if _, err := event.Decode(b); err != nil {
		t.Fatalf("valid envelope: %v", err)
	}
	for name, body := range map[string]string{
		"truncated":     `{"event_id":"x"`,
		"trailing data": string(b) + `{}`,
		"empty":         ``,
	} {
		if _, err := event.Decode([]byte(body)); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, known, err := event.DecodeKnown(b); err != nil || !known {
		t.Errorf("own fields only: known %v, %v", known, err)
	}
	newer := append(b[:len(b)-1:len(b)-1], `,"from_a_newer_hook":1}`...)
	if e, known, err := event.DecodeKnown(newer); err != nil || known || e.SessionID != "abc-123_X" {
		t.Errorf("unknown field: known %v, %v; want decoded and not known", known, err)
	}
	if _, _, err := event.DecodeKnown([]byte(`{"x":1,"event_id":"x"`)); !errors.Is(err, event.ErrMalformed) {
		t.Errorf("unknown field in a truncated body: %v, want ErrMalformed", err)
	}
	var fe *event.FieldError
	if _, err := event.Decode([]byte(`{"prompt_number":"3"}`)); !errors.As(err, &fe) || fe.Field != "prompt_number" {
		t.Errorf("wrong type: %v, want a FieldError on prompt_number", err)
	}
	raws, err := event.DecodeBatch([]byte(`{"events":[{"a":1},{"b":2}]}`))
	if err != nil || len(raws) != 2 {
		t.Fatalf("wrapped batch: %d %v", len(raws), err)
	}
	raws, err = event.DecodeBatch([]byte(` [{"a":1}] `))
	if err != nil || len(raws) != 1 {
		t.Fatalf("array batch: %d %v", len(raws), err)
	}
	if _, err := event.DecodeBatch([]byte(`[{"a":1}`)); !errors.Is(err, event.ErrMalformed) {
		t.Fatalf("broken batch: %v", err)
	}
}

func TestULID(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC)
	a, b := event.NewIDAt(at), event.NewIDAt(at.Add(time.Millisecond))
	if len(a) != 26 || !event.ValidEventID(a) {
		t.Fatalf("ULID %q is not a 26-character event ID", a)
	}
	if a >= b {
		t.Fatalf("ULIDs do not sort by time: %s >= %s", a, b)
	}
	got, ok := event.IDTime(a)
	if !ok || !got.Equal(at) {
		t.Fatalf("IDTime(%s) = %v %v, want %v", a, got, ok, at)
	}
	if _, ok := event.IDTime("not-a-ulid"); ok {
		t.Fatal("IDTime accepted a non-ULID")
	}
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := event.NewID()
		if seen[id] {
			t.Fatalf("duplicate ULID %s", id)
		}
		seen[id] = true
	}
}

func TestStripTags(t *testing.T) {
	cases := []struct {
		in, want string
		removed  bool
	}{
		{"no tags", "no tags", false},
		{"a <b>bold</b> c", "a <b>bold</b> c", false},
		{"key <private>sk-123</private> end", "key  end", true},
		{"<PRIVATE>x</PRIVATE>y", "y", true},
		{"<Private>x</pRiVaTe>y", "y", true},
		{"a <private>outer <private>inner</private> still</private> b", "a  b", true},
		{"a <private>never closed\nsecret line", "a ", true},
		{"multi <private>line\none\ntwo</private>\nafter", "multi \nafter", true},
		{"stray </private> closing", "stray  closing", true},
		{`attrs <private reason="key">x</private>!`, "attrs !", true},
		{"self <private/> closing", "self  closing", true},
		{"<system-reminder>injected</system-reminder>user", "user", true},
		{"<system-instruction>a</system-instruction><system_instruction>b</system_instruction>c", "c", true},
		{"<mnemo-context>past memory</mnemo-context>now", "now", true},
		{"<privateer>not a tag</privateer>", "<privateer>not a tag</privateer>", false},
		{"x < y and <private", "x < y and ", true},
		{"héllo <private>ü</private> wörld", "héllo  wörld", true},
		{"a <private>1</private> b <private>2</private> c", "a  b  c", true},
		{"<private\nreason=\"x\">multi\nline\n</private >end", "end", true},
		{"<SYSTEM-REMINDER>x</System-Reminder>y", "y", true},
		{"<System_Instruction>x</SYSTEM_INSTRUCTION>y", "y", true},
		{"<MNEMO-CONTEXT>\n# memory\n</mnemo-context>\nnew", "\nnew", true},
		{"<private>a</private>", "", true},
		{"keep <p>html</p> and <privat>typo</privat>", "keep <p>html</p> and <privat>typo</privat>", false},
		{"outer <system-reminder>x <private>y</private> z</system-reminder> done", "outer  done", true},
		{"<claude-mem-context>\n# past\n</claude-mem-context>\nfix it", "\nfix it", true},
		{"see <persisted-output>\nOutput too large. Full output saved to: /tmp/x.txt\n</persisted-output> ok", "see  ok", true},
		{"<Persisted-Output>x</PERSISTED-OUTPUT>y<CLAUDE-MEM-CONTEXT>z</claude-mem-context>", "y", true},
		{"<persisted-outputs>kept</persisted-outputs>", "<persisted-outputs>kept</persisted-outputs>", false},
	}
	for _, tc := range cases {
		got, removed := event.StripTags(tc.in)
		if got != tc.want || removed != tc.removed {
			t.Errorf("StripTags(%q) = %q, %v; want %q, %v", tc.in, got, removed, tc.want, tc.removed)
		}
	}
}

func TestIsEntirelyPrivate(t *testing.T) {
	for in, want := range map[string]bool{
		"<private>all of it</private>":                  true,
		"  <private>a</private>\n<private>b</private> ": true,
		"<private>a</private> but this":                 false,
		"plain":                                         false,
		"":                                              false,
		"<system-reminder>x</system-reminder>":          true,
	} {
		if got := event.IsEntirelyPrivate(in); got != want {
			t.Errorf("IsEntirelyPrivate(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestStripJSON(t *testing.T) {
	cases := []struct {
		name, in string
		secret   string
	}{
		{"value", `{"command":"echo <private>hunter2</private>"}`, "hunter2"},
		{"nested", `{"a":[{"b":"x <private>deep</private>"}],"n":1.50}`, "deep"},
		{"key", `{"<private>k</private>":"v"}`, "<private"},
		{"escaped tag", `{"c":"\u003cprivate\u003esecret\u003c/private\u003e"}`, "secret"},
		{"unclosed", `{"c":"<private>rest of it","d":"kept"}`, "rest of it"},
		{"not JSON", `text <private>pw</private>`, "pw"},
		{"case variant", `{"c":"<Private>upper</PRIVATE>"}`, "upper"},
		{"escaped upper-case tag", `{"c":"\u003CPRIVATE\u003Eshout\u003C/PRIVATE\u003E"}`, "shout"},
		{"multi-line string", `{"content":"line 1\n<private>\nkey=abc\n</private>\nline 3"}`, "key=abc"},
		{"array of content blocks", `[{"type":"text","text":"<system-reminder>inj</system-reminder>ok"}]`, "inj"},
		{"persisted output", `{"stdout":"<persisted-output>\nOutput too large (80KB). Full output saved to: /home/dev/.claude/out.txt\n</persisted-output>"}`, "out.txt"},
		{"claude-mem context", `{"content":"\u003cclaude-mem-context\u003eold memory\u003c/claude-mem-context\u003enew"}`, "old memory"},
		{"nested private", `{"a":{"b":"<private>x<private>y</private>leak?</private>"}}`, "leak?"},
	}
	for _, tc := range cases {
		out, removed := event.StripJSON(json.RawMessage(tc.in))
		if !removed {
			t.Errorf("%s: nothing removed from %s", tc.name, tc.in)
		}
		if strings.Contains(string(out), tc.secret) {
			t.Errorf("%s: %s still holds %q", tc.name, out, tc.secret)
		}
		if !json.Valid(out) {
			t.Errorf("%s: result %s is not JSON", tc.name, out)
		}
	}
	in := json.RawMessage(`{"n":1.50,"s":"plain"}`)
	if out, removed := event.StripJSON(in); removed || string(out) != string(in) {
		t.Errorf("untagged JSON changed: %s %v", out, removed)
	}
	if out, _ := event.StripJSON(json.RawMessage(`{"c":"<private>x</private>","n":1.50}`)); !strings.Contains(string(out), "1.50") {
		t.Errorf("numbers must keep their text: %s", out)
	}
	if out, _ := event.StripJSON(json.RawMessage(`{"d":"kept","c":"<private>x"}`)); !strings.Contains(string(out), "kept") {
		t.Errorf("an unclosed tag in one string must not eat the others: %s", out)
	}
}

func TestSanitize(t *testing.T) {
	e := valid()
	e.Kind = event.KindUserPrompt
	e.Tool = nil
	e.Prompt = "<private>whole prompt</private>"
	if !e.Sanitize() || !e.Private || e.Prompt != "" {
		t.Fatalf("entirely private prompt: private %v prompt %q", e.Private, e.Prompt)
	}
	e = valid()
	e.Kind, e.Tool = event.KindUserPrompt, nil
	e.Prompt = "  <private>a</private>\n <PRIVATE>b</PRIVATE>\n"
	if !e.Sanitize() || !e.Private || e.Prompt != "" {
		t.Fatalf("private prompt with white space: private %v prompt %q", e.Private, e.Prompt)
	}
	e = valid()
	e.Kind, e.Tool = event.KindUserPrompt, nil
	e.Prompt = "<private>a</private> visible"
	if !e.Sanitize() || e.Private || e.Prompt != " visible" {
		t.Fatalf("partly private prompt: private %v prompt %q", e.Private, e.Prompt)
	}
	e = valid()
	e.Tool.Input = json.RawMessage(`{"command":"curl -H 'Authorization: <private>tok</private>'"}`)
	e.Tool.Response = json.RawMessage(`{"stdout":"<private>pw</private>ok"}`)
	e.Tool.Error = "failed: <private>why</private>"
	e.LastUserMessage = "<system-reminder>r</system-reminder>hi"
	if !e.Sanitize() {
		t.Fatal("nothing reported removed")
	}
	b, _ := json.Marshal(e)
	for _, s := range []string{"tok", "pw", "why", "system-reminder"} {
		if strings.Contains(string(b), s) {
			t.Errorf("sanitized envelope still holds %q: %s", s, b)
		}
	}
	if e.Private {
		t.Error("a tool use with some private text is not a private turn")
	}
	if e.Sanitize() {
		t.Error("Sanitize is not idempotent")
	}
}

func TestFitTruncatesToolResponse(t *testing.T) {
	big := json.RawMessage(`{"stdout":"` + strings.Repeat("é", 5000) + `"}`)
	l := event.DefaultLimits
	l.ToolResponse = 1024
	e := &event.Envelope{Tool: &event.Tool{Name: "Bash", Response: big}}
	e.Fit(l)
	tool := e.Tool
	if len(tool.Response) > 1024 || !json.Valid(tool.Response) || !tool.Truncated {
		t.Fatalf("truncated response is %d bytes, valid %v", len(tool.Response), json.Valid(tool.Response))
	}
	var m event.TruncationMarker
	if err := json.Unmarshal(tool.Response, &m); err != nil || !m.Truncated || m.OriginalBytes != len(big) || m.Head == "" {
		t.Fatalf("marker %+v %v", m, err)
	}
	small := &event.Envelope{Tool: &event.Tool{Response: json.RawMessage(`{"a":1}`)}}
	small.Fit(l)
	if small.Tool.Truncated || string(small.Tool.Response) != `{"a":1}` {
		t.Fatal("a small response was truncated")
	}
}

func TestKinds(t *testing.T) {
	for _, k := range []event.Kind{event.KindSessionStart, event.KindUserPrompt, event.KindToolUse, event.KindStop, event.KindSessionEnd} {
		if !k.Valid() {
			t.Errorf("%s is not valid", k)
		}
	}
	for _, k := range []event.Kind{"", "tool", "Stop", "session-start", "observation"} {
		if k.Valid() {
			t.Errorf("%q is valid", k)
		}
	}
	if len(event.Kinds) != 5 {
		t.Errorf("%d kinds", len(event.Kinds))
	}
}

func TestIDTimeRejects(t *testing.T) {
	good := event.NewIDAt(time.UnixMilli(1_700_000_000_123))
	if got, ok := event.IDTime(good); !ok || got.UnixMilli() != 1_700_000_000_123 {
		t.Fatalf("IDTime(%s) = %v %v", good, got, ok)
	}
	for _, id := range []string{"", good[:25], good + "0", "U" + good[1:], good[:5] + "L" + good[6:], good[:9] + "o" + good[10:]} {
		if _, ok := event.IDTime(id); ok {
			t.Errorf("IDTime accepted %q", id)
		}
	}
}
