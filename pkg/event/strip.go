package event

import (
	"bytes"
	"encoding/json"
	"strings"
)

// StrippedTags are removed, with everything between them, from every text an
// event carries: private content the user fenced off, and text the agent,
// Mnemo or claude-mem injected, which memory must never re-ingest (claude-mem
// strips the same set: <persisted-output> is Claude Code's pointer to a tool
// output saved to disk, <claude-mem-context> claude-mem's injected memory).
var StrippedTags = []string{"private", "system-reminder", "system-instruction", "system_instruction",
	"mnemo-context", "claude-mem-context", "persisted-output"}

// ContextTag is the tag Mnemo wraps its injected context in.
const ContextTag = "mnemo-context"

// StripTags removes every StrippedTags element and its content from s. Tags
// match case-insensitively and may carry attributes; nesting is honoured; an
// unclosed tag removes the rest of the text (failing closed); a stray closing
// tag is removed alone. It reports whether anything was removed.
func StripTags(s string) (string, bool) {
	if !strings.Contains(s, "<") {
		return s, false
	}
	var b strings.Builder
	depth := 0
	removed := false
	i := 0
	for i < len(s) {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			if depth == 0 {
				b.WriteString(s[i:])
			}
			break
		}
		j += i
		if depth == 0 {
			b.WriteString(s[i:j])
		}
		closing, end, ok := matchTag(s, j)
		if !ok {
			if depth == 0 {
				b.WriteByte('<')
			}
			i = j + 1
			continue
		}
		removed = true
		switch {
		case closing && depth > 0:
			depth--
		case !closing:
			depth++
		}
		i = end
	}
	if !removed {
		return s, false
	}
	return b.String(), true
}

// matchTag reports whether a stripped tag starts at s[i] (which is '<'): whether
// it is a closing tag, and the index just past its '>'.
func matchTag(s string, i int) (closing bool, end int, ok bool) {
	k := i + 1
	if k < len(s) && s[k] == '/' {
		closing = true
		k++
	}
	for _, name := range StrippedTags {
		if len(s)-k < len(name) || !strings.EqualFold(s[k:k+len(name)], name) {
			continue
		}
		rest := k + len(name)
		if rest == len(s) {
			// "<private" at the very end: treat as an unclosed opening tag.
			return closing, rest, true
		}
		switch c := s[rest]; {
		case c == '>':
			return closing, rest + 1, true
		case c == '/' && rest+1 < len(s) && s[rest+1] == '>':
			// Self-closing <private/> hides nothing but is still removed.
			return true, rest + 2, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			gt := strings.IndexByte(s[rest:], '>')
			if gt < 0 {
				return closing, len(s), true
			}
			return closing, rest + gt + 1, true
		}
	}
	return false, 0, false
}

// IsEntirelyPrivate reports whether s had content and nothing but stripped
// tags and white space: a prompt like that makes its whole turn private.
func IsEntirelyPrivate(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	out, removed := StripTags(s)
	return removed && strings.TrimSpace(out) == ""
}

// StripJSON removes stripped tags from every string (keys and values) inside a
// JSON document. Documents that cannot hold a tag are returned unchanged.
func StripJSON(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) == 0 || (!bytes.Contains(raw, []byte("<")) && !escapedLT(raw)) {
		return raw, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// Not JSON: treat it as text so nothing private slips through.
		out, removed := StripTags(string(raw))
		if !removed {
			return raw, false
		}
		enc, _ := json.Marshal(out)
		return enc, true
	}
	v, removed := stripValue(v)
	if !removed {
		return raw, false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(`null`), true
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}

func stripValue(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		return StripTags(t)
	case []any:
		changed := false
		for i, e := range t {
			var r bool
			t[i], r = stripValue(e)
			changed = changed || r
		}
		return t, changed
	case map[string]any:
		changed := false
		out := make(map[string]any, len(t))
		for k, e := range t {
			nk, rk := StripTags(k)
			ne, re := stripValue(e)
			out[nk] = ne
			changed = changed || rk || re
		}
		return out, changed
	default:
		return v, false
	}
}

// escapedLT reports whether a JSON text holds '<' written as an escape
// (\u003c, hex digits in either case), without copying it.
func escapedLT(b []byte) bool {
	return bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\u003C`))
}

// Sanitize strips the tags from every text the envelope carries and marks the
// event private when its prompt was entirely private. It reports whether
// anything was removed. The hook mapping calls it for the envelope it makes,
// ingest for one a client sent: once per envelope and process (Checks).
func (e *Envelope) Sanitize() bool {
	sanitized.Add(1)
	removed := false
	strip := func(s *string) {
		var r bool
		*s, r = StripTags(*s)
		removed = removed || r
	}
	if e.Kind == KindUserPrompt && IsEntirelyPrivate(e.Prompt) {
		e.Private = true
	}
	strip(&e.Prompt)
	if e.Private && e.Kind == KindUserPrompt && strings.TrimSpace(e.Prompt) == "" {
		e.Prompt = "" // nothing but the white space around the private parts
	}
	strip(&e.LastUserMessage)
	strip(&e.LastAssistantMessage)
	if e.Tool != nil {
		strip(&e.Tool.Error)
		var r bool
		e.Tool.Input, r = StripJSON(e.Tool.Input)
		removed = removed || r
		e.Tool.Response, r = StripJSON(e.Tool.Response)
		removed = removed || r
	}
	return removed
}
