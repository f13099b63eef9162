package event

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// TruncationMarker is the JSON shape a tool response or input takes when it
// was cut.
type TruncationMarker struct {
	Truncated     bool   `json:"mnemo_truncated"`
	OriginalBytes int    `json:"original_bytes"`
	Head          string `json:"head"`
}

// Fit cuts every part of the envelope that is over its limit, so that an
// oversized tool use is recorded in part rather than lost: the tool response
// and input become a TruncationMarker, texts keep their head with a note,
// and the biggest parts shrink until the whole body fits l.Body. It is the
// one truncation of an envelope (the hook mapping calls it; ingest refuses
// what is over a limit instead).
func (e *Envelope) Fit(l Limits) {
	if e.Tool != nil {
		if r, cut := truncateJSON(e.Tool.Response, l.ToolResponse); cut {
			e.Tool.Response, e.Tool.Truncated = r, true
		}
		if in, cut := truncateJSON(e.Tool.Input, l.ToolInput); cut {
			e.Tool.Input, e.Tool.Truncated = in, true
		}
		e.Tool.Error = cutText(e.Tool.Error, l.Prompt)
		e.Tool.Name = cutText(e.Tool.Name, l.Field)
		e.Tool.UseID = cutText(e.Tool.UseID, l.Field)
	}
	e.Prompt = cutText(e.Prompt, l.Prompt)
	e.LastAssistantMessage = cutText(e.LastAssistantMessage, l.Prompt)
	e.LastUserMessage = cutText(e.LastUserMessage, l.Prompt)
	for _, s := range []*string{&e.Project, &e.Cwd, &e.Source, &e.AgentID, &e.AgentType, &e.PromptID} {
		*s = cutText(*s, l.Field)
	}
	// The whole body must fit too: shrink the biggest parts until it does.
	for i := 0; i < 8; i++ {
		body, err := json.Marshal(e)
		if err != nil || len(body) <= l.Body {
			return
		}
		over := len(body) - l.Body
		switch {
		case e.Tool != nil && len(e.Tool.Response) > over:
			e.Tool.Response, _ = truncateJSON(e.Tool.Response, max(len(e.Tool.Response)-over-256, 0))
			e.Tool.Truncated = true
		case e.Tool != nil && len(e.Tool.Input) > over:
			e.Tool.Input, _ = truncateJSON(e.Tool.Input, max(len(e.Tool.Input)-over-256, 0))
			e.Tool.Truncated = true
		default:
			e.Prompt = cutText(e.Prompt, len(e.Prompt)/2)
			e.LastAssistantMessage = cutText(e.LastAssistantMessage, len(e.LastAssistantMessage)/2)
			if e.Tool != nil {
				e.Tool.Error = cutText(e.Tool.Error, len(e.Tool.Error)/2)
			}
		}
	}
}

// truncateJSON cuts raw to at most limit bytes, replacing it with a valid
// JSON TruncationMarker that keeps the head of the original. It reports
// whether it cut anything.
func truncateJSON(raw json.RawMessage, limit int) (json.RawMessage, bool) {
	if len(raw) <= limit {
		return raw, false
	}
	const overhead = 128 // the marker's own keys and numbers
	keep := limit/2 - overhead
	if keep < 0 {
		keep = 0
	}
	head := validHead(string(raw[:keep]))
	m, _ := json.Marshal(TruncationMarker{Truncated: true, OriginalBytes: len(raw), Head: head})
	// JSON escaping can at most double the head (plus \u forms of control
	// characters); shrink until it fits.
	for len(m) > limit && len(head) > 0 {
		head = validHead(head[:len(head)/2])
		m, _ = json.Marshal(TruncationMarker{Truncated: true, OriginalBytes: len(raw), Head: head})
	}
	return m, true
}

// cutText keeps at most limit bytes of s, ending on a rune boundary with a
// note of how much was cut.
func cutText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf(" …[mnemo: truncated %d bytes]", len(s))
	keep := limit - len(note)
	if keep <= 0 {
		keep = limit
		note = ""
	}
	return validHead(s[:keep]) + note
}

// ClipBytes cuts s to at most n bytes, dropping the bytes of a rune the cut
// would split.
func ClipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return validHead(s[:n])
}

// validHead drops the bytes of a rune cut at the end of head.
func validHead(head string) string {
	for len(head) > 0 && !utf8.ValidString(head) {
		head = head[:len(head)-1]
	}
	return head
}
