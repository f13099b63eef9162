package query

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	// The zone database in the binary: a user's zone is found on a server
	// or container without one.
	_ "time/tzdata"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

// typeMarks are the one-glyph type markers of the context index, as
// claude-mem's code mode shows them.
var typeMarks = map[string]string{
	store.TypeBugfix: "🔴", store.TypeFeature: "🟣", store.TypeRefactor: "🔄",
	store.TypeChange: "✅", store.TypeDiscovery: "🔵", store.TypeDecision: "⚖️",
	store.TypeSecurityAlert: "🚨", store.TypeSecurityNote: "🔐", store.TypeSensitive: "🔒",
}

// baseLegend names the types every context's legend shows; the others
// (docs/ARCHITECTURE.md §17) are named only when the context holds one.
const baseLegend = "🔴bugfix 🟣feature 🔄refactor ✅change 🔵discovery ⚖️decision"

// legend is the context's legend line: the base types, then the other
// types its observations have, in the order they first appear.
func legend(obs []store.Observation) string {
	var extra []string
	seen := map[string]bool{}
	for _, t := range []string{store.TypeBugfix, store.TypeFeature, store.TypeRefactor, store.TypeChange, store.TypeDiscovery, store.TypeDecision} {
		seen[t] = true
	}
	for _, t := range store.ObservationTypes { // known ones first, in claude-mem's order
		for i := range obs {
			if obs[i].Type == t && !seen[t] {
				seen[t] = true
				extra = append(extra, mark(t)+t)
			}
		}
	}
	for i := range obs {
		if t := obs[i].Type; !seen[t] {
			seen[t] = true
			extra = append(extra, mark(t)+t)
		}
	}
	l := baseLegend
	if len(extra) > 0 {
		l += " " + strings.Join(extra, " ")
	}
	return "Legend: " + l + " | S# session summary\n"
}

// workMarks mark the work an observation's discovery tokens bought.
var workMarks = map[string]string{store.TypeDiscovery: "🔍", store.TypeDecision: "⚖️"}

// ContextView is what one SessionStart context shows: the selection, the
// settings that shaped it and the user's clock.
type ContextView struct {
	Project      string
	Observations []store.Observation // newest first
	Summaries    []store.Summary     // newest first
	Settings     settings.Context
	// Now is the time of the request in the user's time zone; every time
	// shown is in Now's location.
	Now time.Time
	// LastMessage is the previous session's last assistant message.
	LastMessage string
}

// FormatContext renders the SessionStart context for a model to read, in
// claude-mem's agent layout: a header with the project and the user's local
// date and time, a legend, an optional stats line, the observations
// (ID TIME TYPE TITLE, the newest FullCount in full) and summary rows grouped
// by day, the latest non-empty summary, an optional "Previously", and a
// footer saying what the details cost. It is wrapped in Mnemo's context tag
// so that memory never re-ingests what it injected. An empty project gets a
// one-line welcome hint instead.
func FormatContext(v ContextView) string {
	tag := event.ContextTag
	loc := v.Now.Location()
	header := fmt.Sprintf("# [%s] recent context, %s", v.Project, headerTime(v.Now))
	if len(v.Observations) == 0 && len(v.Summaries) == 0 {
		return fmt.Sprintf("<%s>\n%s: no memory yet. Mnemo records this session; its memory appears here from your next session on.\n</%s>", tag, header, tag)
	}
	cfg := v.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "<%s>\n%s\n\n", tag, header)
	b.WriteString(legend(v.Observations))
	b.WriteString("Format: ID TIME TYPE TITLE\n")
	b.WriteString("Fetch details: get_observations([IDs]) | Search: search(query) → timeline(anchor)\n\n")

	read, work := 0, int64(0)
	for i := range v.Observations {
		read += store.ObservationTokens(&v.Observations[i])
		work += v.Observations[i].DiscoveryTokens
	}
	if cfg.ShowReadTokens || cfg.ShowWorkTokens || cfg.ShowSavingsAmount || cfg.ShowSavingsPercent {
		parts := []string{fmt.Sprintf("%d obs (%st read)", len(v.Observations), thousands(int64(read))), thousands(work) + "t work"}
		if saved := work - int64(read); work > 0 {
			switch {
			case cfg.ShowSavingsPercent:
				parts = append(parts, fmt.Sprintf("%d%% savings", int(math.Round(float64(saved)*100/float64(work)))))
			case cfg.ShowSavingsAmount:
				parts = append(parts, thousands(saved)+"t saved")
			}
		}
		fmt.Fprintf(&b, "Stats: %s\n\n", strings.Join(parts, " | "))
	}

	full := map[int64]bool{}
	for i := 0; i < cfg.FullCount && i < len(v.Observations); i++ {
		full[v.Observations[i].ID] = true
	}
	type item struct {
		at  time.Time
		obs *store.Observation
		sum *store.Summary
	}
	items := make([]item, 0, len(v.Observations)+len(v.Summaries))
	for i := range v.Observations {
		items = append(items, item{at: v.Observations[i].AcceptedAt, obs: &v.Observations[i]})
	}
	for i := range v.Summaries {
		items = append(items, item{at: v.Summaries[i].AcceptedAt, sum: &v.Summaries[i]})
	}
	// Oldest first, so the newest sits next to the latest summary; a summary
	// after the observations of its moment.
	slices.SortFunc(items, func(x, y item) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		switch {
		case x.sum == nil && y.sum == nil:
			return cmp.Compare(x.obs.ID, y.obs.ID)
		case x.sum != nil && y.sum != nil:
			return cmp.Compare(x.sum.ID, y.sum.ID)
		case x.sum == nil:
			return -1
		}
		return 1
	})
	day, lastTime := "", ""
	for _, it := range items {
		at := it.at.In(loc)
		if d := at.Format("Jan 2, 2006"); d != day {
			if day != "" {
				b.WriteString("\n")
			}
			day, lastTime = d, ""
			fmt.Fprintf(&b, "### %s\n", d)
		}
		if s := it.sum; s != nil {
			fmt.Fprintf(&b, "S%d %s (%s)\n", s.ID, summaryTitle(s), at.Format("Jan 2, ")+clock(at))
			lastTime = ""
			continue
		}
		o := it.obs
		t := clock(at)
		shown := t
		if t == lastTime {
			shown = `"`
		}
		lastTime = t
		title := oneLine(o.Title)
		if title == "" {
			title = "Untitled"
		}
		if !full[o.ID] {
			fmt.Fprintf(&b, "%d %s %s %s\n", o.ID, shown, mark(o.Type), title)
			continue
		}
		fmt.Fprintf(&b, "\n**%d** %s %s **%s**\n", o.ID, shown, mark(o.Type), title)
		if detail := fullField(o, cfg.FullField); detail != "" {
			b.WriteString(detail + "\n")
		}
		var tokens []string
		if cfg.ShowReadTokens {
			tokens = append(tokens, fmt.Sprintf("~%dt", store.ObservationTokens(o)))
		}
		if cfg.ShowWorkTokens {
			if o.DiscoveryTokens > 0 {
				w := workMarks[o.Type]
				if w == "" {
					w = "🛠️"
				}
				tokens = append(tokens, w+" "+thousands(o.DiscoveryTokens))
			} else {
				tokens = append(tokens, "-")
			}
		}
		if len(tokens) > 0 {
			b.WriteString(strings.Join(tokens, " ") + "\n")
		}
		b.WriteString("\n")
	}

	if cfg.ShowLastSummary {
		if s := latestSummary(v.Summaries); s != nil {
			b.WriteString("\n")
			for _, f := range []struct{ name, v string }{
				{"Investigated", s.Investigated}, {"Learned", s.Learned},
				{"Completed", s.Completed}, {"Next Steps", s.NextSteps},
			} {
				if t := strings.TrimSpace(f.v); t != "" {
					fmt.Fprintf(&b, "**%s**: %s\n\n", f.name, t)
				}
			}
		}
	}
	if msg := clip(strings.TrimSpace(v.LastMessage), maxLastMessage); cfg.ShowLastMessage && msg != "" {
		fmt.Fprintf(&b, "\n---\n\n**Previously**\n\nA: %s\n", msg)
	}
	if work > 0 {
		fmt.Fprintf(&b, "\nAccess %s of past work via get_observations([IDs]) or search.\n", workAmount(work))
	} else {
		fmt.Fprintf(&b, "\nAccess the details of these %d observations via get_observations([IDs]) or search.\n", len(v.Observations))
	}
	// One blank line at most between sections.
	text := b.String()
	for strings.Contains(text, "\n\n\n") {
		text = strings.ReplaceAll(text, "\n\n\n", "\n\n")
	}
	return text + "</" + tag + ">"
}

// headerTime is claude-mem's header clock: "2026-08-19 3:04pm PDT".
func headerTime(t time.Time) string {
	return t.Format("2006-01-02") + " " + strings.ToLower(t.Format("3:04PM")) + " " + t.Format("MST")
}

// clock is a row's compact time: "3:04p".
func clock(t time.Time) string {
	return strings.TrimSuffix(strings.ToLower(t.Format("3:04PM")), "m")
}

func mark(typ string) string {
	if m := typeMarks[typ]; m != "" {
		return m
	}
	return "•"
}

// summaryTitle is a summary row's text: its request, or what it completed.
func summaryTitle(s *store.Summary) string {
	for _, t := range []string{s.Request, s.Completed, s.Learned} {
		if t = oneLine(t); t != "" {
			return t
		}
	}
	return "Session started"
}

// latestSummary is the newest summary that says something, or nil.
func latestSummary(sums []store.Summary) *store.Summary {
	var last *store.Summary
	for i := range sums {
		s := &sums[i]
		if strings.TrimSpace(s.Investigated+s.Learned+s.Completed+s.NextSteps) == "" {
			continue
		}
		if last == nil || s.AcceptedAt.After(last.AcceptedAt) {
			last = s
		}
	}
	return last
}

func fullField(o *store.Observation, field string) string {
	if field == "facts" {
		var lines []string
		for _, f := range o.Facts {
			if f = strings.TrimSpace(f); f != "" {
				lines = append(lines, "- "+f)
			}
		}
		return strings.Join(lines, "\n")
	}
	return strings.TrimSpace(o.Narrative)
}

// thousands writes n with comma separators, as claude-mem's toLocaleString.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// workAmount is a token count as the footer says it: "57k tokens", or the
// exact count under a thousand.
func workAmount(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d tokens", n)
	}
	return fmt.Sprintf("%dk tokens", int64(math.Round(float64(n)/1000)))
}

// maxLastMessage bounds the "Previously" message, in bytes.
const maxLastMessage = 4000

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
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
