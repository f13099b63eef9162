package llm

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Summarize builds the summary from the prompt, the files the session read
// and changed, the commands it ran and their outcomes, and the agent's last
// message. A session that did nothing and said nothing gets no summary.
func (Offline) Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error) {
	if err := ctx.Err(); err != nil {
		return SummarizeResult{}, err
	}
	s := summarize(r)
	if s.Empty() {
		s = nil
	}
	return SummarizeResult{Summary: s, State: r.State}, nil
}

// command is one command of the session and what became of it.
type command struct {
	text, status, tests, firstError string
}

func (c command) failed() bool {
	switch {
	case c.firstError != "":
		return true
	case strings.HasPrefix(c.status, "running in the background"):
		return false
	}
	return c.status != "exit 0" && !strings.HasPrefix(c.status, "exit 0 ")
}

func (c command) String() string {
	s := "`" + clip(c.text, 80) + "` → " + c.status
	if c.tests != "" {
		s += ", " + c.tests
	}
	return s
}

// changedFile is a file the session changed: how, and which names.
type changedFile struct {
	path    string
	verbs   []string
	touched []string
}

func summarize(r SummarizeRequest) *Summary {
	last := strings.TrimSpace(r.LastAssistantMessage)
	if len(r.Observations) == 0 && last == "" {
		return nil // nothing happened and nothing was said
	}
	var (
		read     []string
		changed  []*changedFile
		commands []command
		searches []string
		agents   []string
		problems []string
		others   []string
	)
	for _, o := range r.Observations {
		facts := factMap(o.Facts)
		_, isCommand := facts[factCommand]
		switch {
		case isCommand:
			commands = append(commands, command{text: facts[factCommand], status: facts[factExit],
				tests: facts[factTests], firstError: facts[factError]})
		case facts[factError] != "":
			problems = append(problems, clip(o.Title, 200))
		case facts[factSearch] != "":
			searches = append(searches, facts[factSearch])
		case facts[factAgent] != "":
			agents = append(agents, facts[factAgent])
		case len(o.FilesRead) == 0 && len(o.FilesModified) == 0:
			others = append(others, clip(o.Title, 120))
		}
		if facts[factError] != "" {
			continue // a failed read or edit read or changed nothing
		}
		for _, f := range o.FilesRead {
			if !slices.Contains(read, short(f)) {
				read = append(read, short(f))
			}
		}
		for _, f := range o.FilesModified {
			var cf *changedFile
			for _, c := range changed {
				if c.path == f {
					cf = c
				}
			}
			if cf == nil {
				cf = &changedFile{path: f}
				changed = append(changed, cf)
			}
			verb := "edited"
			if v, _, ok := strings.Cut(o.Title, " "); ok && (v == "Created" || v == "Rewrote") {
				verb = strings.ToLower(v)
			}
			if !slices.Contains(cf.verbs, verb) {
				cf.verbs = append(cf.verbs, verb)
			}
			for _, n := range strings.Split(facts[factTouched], ", ") {
				if n != "" && !slices.Contains(cf.touched, n) {
					cf.touched = append(cf.touched, n)
				}
			}
		}
	}

	s := &Summary{Request: clip(strings.TrimSpace(firstNonEmpty(r.Session.UserPrompt, r.LastUserMessage)), 1000)}

	var inv []string
	if len(read) > 0 {
		inv = append(inv, sentence("Read "+listNames(read, 12)))
	}
	if len(searches) > 0 {
		inv = append(inv, sentence("Searched: "+listNames(searches, 6)))
	}
	if len(agents) > 0 {
		inv = append(inv, sentence("Delegated to subagents: "+listNames(agents, 5)))
	}
	s.Investigated = strings.Join(inv, " ")

	var learned, tests, failures []string
	for _, c := range commands {
		if c.tests != "" {
			tests = append(tests, c.String())
		}
		if c.failed() {
			f := c.String()
			if c.firstError != "" {
				f += ": " + clip(c.firstError, 160)
			}
			failures = append(failures, f)
		}
	}
	if len(tests) > 0 {
		learned = append(learned, sentence("Test runs: "+strings.Join(lastN(tests, 4), "; ")))
	}
	failures = append(failures, problems...)
	if len(failures) > 0 {
		learned = append(learned, sentence("Failures seen: "+strings.Join(lastN(failures, 5), "; ")))
	}
	s.Learned = strings.Join(learned, " ")

	var done []string
	if len(changed) > 0 {
		var parts []string
		for _, c := range changed {
			p := short(c.path) + " (" + strings.Join(c.verbs, ", ")
			if len(c.touched) > 0 {
				p += ": " + listNames(c.touched, 4)
			}
			parts = append(parts, p+")")
		}
		done = append(done, sentence("Changed "+listNames(parts, 10)))
	}
	if last != "" {
		done = append(done, sentence("The agent's last message: "+clip(oneParagraph(last), 600)))
	}
	s.Completed = strings.Join(done, " ")

	// A command whose last run failed and was not run again with success is
	// left to do.
	var open []string
	for i, c := range commands {
		if !c.failed() {
			continue
		}
		fixed := false
		for _, later := range commands[i+1:] {
			if later.text == c.text {
				fixed = !later.failed()
			}
		}
		if !fixed && !slices.Contains(open, "`"+clip(c.text, 80)+"`") {
			open = append(open, "`"+clip(c.text, 80)+"`")
		}
	}
	if len(open) > 0 {
		s.NextSteps = sentence("Still failing at its last run: " + listNames(open, 4))
	}

	var notes []string
	if len(commands) > 0 {
		var cs []string
		for _, c := range commands {
			cs = append(cs, c.String())
		}
		notes = append(notes, sentence(fmt.Sprintf("Commands (%d): %s", len(cs), strings.Join(lastN(cs, 8), "; "))))
	}
	if len(others) > 0 {
		notes = append(notes, sentence("Also: "+strings.Join(lastN(others, 6), "; ")))
	}
	s.Notes = strings.Join(notes, " ")
	return s
}

// factMap reads the offline compressor's own facts back by their prefix.
func factMap(facts []string) map[string]string {
	m := map[string]string{}
	for _, f := range facts {
		for _, p := range []string{factCommand, factExit, factTests, factError, factFile, factTouched, factSearch, factAgent} {
			if strings.HasPrefix(f, p) {
				if _, ok := m[p]; !ok {
					m[p] = strings.TrimPrefix(f, p)
				}
			}
		}
	}
	return m
}

// lastN keeps the last n items, saying how many earlier ones were left out.
func lastN(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append([]string{fmt.Sprintf("(%d earlier)", len(items)-n)}, items[len(items)-n:]...)
}

// oneParagraph joins a message's lines into one.
func oneParagraph(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sentence ends s with a full stop unless it already ends a sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?…") {
		return s
	}
	return s + "."
}
