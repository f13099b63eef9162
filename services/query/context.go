package query

import (
	"fmt"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// typeMarks are the one-glyph type markers of the context index, as
// claude-mem's legend shows them.
var typeMarks = map[string]string{
	store.TypeBugfix: "🔴", store.TypeFeature: "🟣", store.TypeRefactor: "🔄",
	store.TypeChange: "✅", store.TypeDiscovery: "🔵", store.TypeDecision: "⚖️",
}

// FormatContext renders the SessionStart context for a model to read, in
// claude-mem's agent layout: a header, a legend, a compact index of
// observations (ID, time, type, title) grouped by day with session summaries
// among them, the latest summary in full, and a footer saying how to fetch
// details. It is wrapped in Mnemo's context tag so that memory never
// re-ingests what it injected. An empty project gets a one-line hint.
func FormatContext(project string, c store.Context, now time.Time) string {
	tag := event.ContextTag
	if len(c.Observations) == 0 && len(c.Summaries) == 0 {
		return fmt.Sprintf("<%s>\n# [%s] no memory yet: memory injection starts with your next session in this project.\n</%s>", tag, project, tag)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%s>\n# [%s] recent context, %s\n\n", tag, project, now.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Legend: 🔴 bugfix | 🟣 feature | 🔄 refactor | ✅ change | 🔵 discovery | ⚖️ decision\n")
	b.WriteString("Format: ID TIME TYPE TITLE (S<n> rows are session summaries)\n")
	b.WriteString("Fetch details: get_observations([IDs]) | Search: search(query) → timeline(anchor) → get_observations\n")

	type row struct {
		at   time.Time
		text string
	}
	var rows []row
	for _, o := range c.Observations {
		mark := typeMarks[o.Type]
		if mark == "" {
			mark = "•"
		}
		rows = append(rows, row{o.AcceptedAt, fmt.Sprintf("%d %s %s %s", o.ID, o.AcceptedAt.UTC().Format("15:04"), mark, oneLine(o.Title))})
	}
	for _, s := range c.Summaries {
		req := oneLine(s.Request)
		if req == "" {
			req = oneLine(s.Completed)
		}
		rows = append(rows, row{s.AcceptedAt, fmt.Sprintf("S%d %s (%s)", s.ID, req, s.AcceptedAt.UTC().Format("15:04"))})
	}
	// Oldest first within the window, so the newest sits next to the summary.
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].at.Before(rows[j-1].at); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
	day := ""
	for _, r := range rows {
		if d := r.at.UTC().Format("Jan 2, 2006"); d != day {
			day = d
			fmt.Fprintf(&b, "\n### %s\n", d)
		}
		b.WriteString(r.text + "\n")
	}
	if len(c.Summaries) > 0 {
		last := c.Summaries[0]
		for _, s := range c.Summaries {
			if s.AcceptedAt.After(last.AcceptedAt) {
				last = s
			}
		}
		fmt.Fprintf(&b, "\n## Latest session summary (S%d)\n", last.ID)
		for _, f := range []struct{ name, v string }{
			{"Request", last.Request}, {"Investigated", last.Investigated}, {"Learned", last.Learned},
			{"Completed", last.Completed}, {"Next steps", last.NextSteps}, {"Notes", last.Notes},
		} {
			if v := strings.TrimSpace(f.v); v != "" {
				fmt.Fprintf(&b, "%s: %s\n", f.name, v)
			}
		}
	}
	fmt.Fprintf(&b, "\nAccess the details of these %d observations (about %d tokens selected) via get_observations([IDs]) or search.\n</%s>",
		len(c.Observations), c.Tokens, tag)
	return b.String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		cut := 160
		for cut > 0 && (s[cut]&0xC0) == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
