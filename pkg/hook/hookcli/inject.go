package hookcli

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Per-prompt injection of related memories (docs/ARCHITECTURE.md §14): off
// by default; when on, UserPromptSubmit asks query for the memories nearest
// the prompt in meaning, in one exchange with a hard deadline, and prints
// them as additionalContext. Past the deadline it prints nothing and the
// prompt goes on.
const (
	// InjectDeadline bounds the whole exchange: connect, embed, search,
	// answer. A prompt never waits longer for memory.
	InjectDeadline     = 100 * time.Millisecond
	defaultInjectLimit = 5
	maxInjectLimit     = 20
	// injectQueryBytes bounds the prompt text sent as the query (the
	// search takes at most 4096 bytes).
	injectQueryBytes = 2000
)

func parseBool(v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}

// parseLimit reads a count in 1..hi; anything else is def.
func parseLimit(v string, def, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return def
	}
	return min(n, hi)
}

// relatedAnswer is the part of GET /v1/search's answer the hook prints.
type relatedAnswer struct {
	Results []struct {
		ID         int64     `json:"id"`
		Type       string    `json:"type"`
		Title      string    `json:"title"`
		AcceptedAt time.Time `json:"accepted_at"`
	} `json:"results"`
}

// relatedMemories returns the hook output adding the project's memories
// most related to prompt, or nothing (none, Mnemo down or slow, semantic
// search off).
func (h *hookRun) relatedMemories(ctx context.Context, project, prompt string) []byte {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" {
		return nil
	}
	q := url.Values{"query": {event.ClipBytes(prompt, injectQueryBytes)}, "mode": {"semantic"},
		"limit": {strconv.Itoa(h.cfg.InjectLimit)}}
	if project != "" {
		q.Set("project", project)
	}
	var ans relatedAnswer
	if err := h.getJSON(ctx, InjectDeadline, "/v1/search?"+q.Encode(), &ans); err != nil {
		h.debugf("related memories: %v", err)
		return nil
	}
	if len(ans.Results) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Memories related to this prompt (mnemo; fetch details with get_observations):\n")
	for _, r := range ans.Results {
		fmt.Fprintf(&b, "#%d %s %s %s\n", r.ID, r.AcceptedAt.Local().Format("2006-01-02 15:04"), r.Type, oneLine(r.Title))
	}
	return contextOutput("UserPromptSubmit", b.String())
}
