package store

import (
	"slices"
	"strings"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// stripImported returns b with what event.StripTags removes cut out of every
// text it carries: memory imported from a claude-mem database or another
// Mnemo's export keeps nothing that was inside <private> (or injected
// context), as live events keep nothing (docs/ARCHITECTURE.md §3). A prompt
// that was wholly private stays, empty and marked Private, as Apply keeps it.
// b's slices are not changed.
func stripImported(b ImportBatch) ImportBatch {
	strip := func(s *string) { *s, _ = event.StripTags(*s) }
	n := ImportBatch{
		Sessions:     b.Sessions,
		Prompts:      slices.Clone(b.Prompts),
		Observations: slices.Clone(b.Observations),
		Summaries:    slices.Clone(b.Summaries),
	}
	for i := range n.Prompts {
		p := &n.Prompts[i]
		if event.IsEntirelyPrivate(p.Text) {
			p.Private = true
		}
		strip(&p.Text)
		if p.Private && strings.TrimSpace(p.Text) == "" {
			p.Text = ""
		}
	}
	for i := range n.Observations {
		o := &n.Observations[i].Observation
		for _, s := range []*string{&o.Title, &o.Subtitle, &o.Narrative} {
			strip(s)
		}
		o.Facts = stripList(o.Facts)
		o.Concepts = stripList(o.Concepts)
	}
	for i := range n.Summaries {
		m := &n.Summaries[i].Summary
		for _, s := range []*string{&m.Request, &m.Investigated, &m.Learned, &m.Completed, &m.NextSteps, &m.Notes, &m.LastAssistantMessage} {
			strip(s)
		}
	}
	return n
}

// stripList strips every item of l, dropping those left empty.
func stripList(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s, _ = event.StripTags(s); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
