package llm

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Fact prefixes the offline compressor writes and its summary reads back.
const (
	factCommand = "command: "
	factExit    = "exit status: "
	factTests   = "tests: "
	factError   = "first error: "
	factFile    = "file: "
	factTouched = "touched: "
	factSearch  = "search: "
	factAgent   = "subagent: "
)

// bashResponse is Claude Code's structured Bash result.
type bashResponse struct {
	Stdout                   string `json:"stdout"`
	Stderr                   string `json:"stderr"`
	Interrupted              bool   `json:"interrupted"`
	IsImage                  bool   `json:"isImage"`
	BackgroundTaskID         string `json:"backgroundTaskId"`
	ReturnCodeInterpretation string `json:"returnCodeInterpretation"`
}

// commandOutcome is what became of one shell command.
type commandOutcome struct {
	Command    string
	Exit       int    // -1 when unknown (interrupted, timed out, …)
	Status     string // "exit 0", "interrupted", "timed out after 2m", …
	Output     string // stdout and stderr, or the failure's text after its first line
	Tests      testRun
	IsTest     bool
	FirstError string
	Cut        int // bytes of a response the hook cut (0: whole)
}

var exitCodeRE = regexp.MustCompile(`^(?:Error: )?Exit code (-?\d+)\b`)

// runCommand reads a Bash tool use: its exit status (0 for PostToolUse,
// the "Exit code N" line of a PostToolUseFailure), the output, a test run's
// counts and the first error line.
func runCommand(tu ToolUse, command string) commandOutcome {
	oc := commandOutcome{Command: command}
	if tu.Error != "" {
		first, rest, _ := strings.Cut(strings.TrimSpace(tu.Error), "\n")
		if m := exitCodeRE.FindStringSubmatch(first); m != nil {
			oc.Exit, _ = strconv.Atoi(m[1])
			oc.Status = "exit " + m[1]
			oc.Output = rest
		} else {
			oc.Exit = -1
			oc.Status = clip(strings.TrimPrefix(first, "Error: "), 80)
			oc.Output = rest
		}
	} else {
		var r bashResponse
		if n, head := truncated(tu.Response); n > 0 {
			oc.Cut, oc.Output = n, head
		} else if json.Unmarshal(tu.Response, &r) == nil {
			oc.Output = joinNonEmpty("\n", r.Stdout, r.Stderr)
		} else {
			oc.Output = responseString(tu.Response)
		}
		switch {
		case r.Interrupted:
			oc.Exit, oc.Status = -1, "interrupted"
		case r.BackgroundTaskID != "":
			oc.Exit, oc.Status = -1, "running in the background as "+r.BackgroundTaskID
		default:
			oc.Status = "exit 0"
			if r.ReturnCodeInterpretation != "" {
				oc.Status += " (" + clip(oneLine(r.ReturnCodeInterpretation), 60) + ")"
			}
		}
	}
	oc.Tests, oc.IsTest = parseTestRun(command, oc.Output)
	if oc.IsTest && oc.Tests.FirstFailure != "" && (oc.Exit != 0 || oc.Tests.Failed > 0 || oc.Tests.Errors > 0) {
		oc.FirstError = oc.Tests.FirstFailure
	}
	if oc.FirstError == "" && oc.Exit != 0 {
		oc.FirstError = firstErrorLine(oc.Output)
	}
	oc.FirstError = clip(oneLine(stripANSI(oc.FirstError)), 160)
	return oc
}

// Title is "Ran <command>: exit N, <counts> — <first error>".
func (oc commandOutcome) Title() string {
	t := "Ran " + clip(oneLine(oc.Command), 80) + ": " + oc.Status
	if oc.IsTest {
		t += ", " + oc.Tests.Counts()
	}
	if oc.FirstError != "" {
		t += " — " + oc.FirstError
	}
	return t
}

var (
	errorWordRE = regexp.MustCompile(`(?i)\b(error|errors|fail|failed|failure|fatal|panic|exception|cannot|can't|could not|couldn't|not found|no such|denied|refused|invalid|undefined|unexpected|unknown|missing)\b`)
	noErrorRE   = regexp.MustCompile(`(?i)\b(0|no) (errors?|failures?|failed)\b`)
	pyErrorRE   = regexp.MustCompile(`^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b`)
)

// firstErrorLine picks the line that says what went wrong: a Python
// traceback's last exception line, else the first line with an error word,
// else the first non-blank line.
func firstErrorLine(out string) string {
	lines := strings.Split(stripANSI(out), "\n")
	if i := strings.Index(out, "Traceback (most recent call last):"); i >= 0 {
		for j := len(lines) - 1; j >= 0; j-- {
			if pyErrorRE.MatchString(strings.TrimSpace(lines[j])) {
				return strings.TrimSpace(lines[j])
			}
		}
	}
	for _, l := range lines {
		if s := strings.TrimSpace(l); s != "" && errorWordRE.MatchString(s) && !noErrorRE.MatchString(s) {
			return s
		}
	}
	return firstNonBlank(lines)
}

// printsFiles are commands whose output is file content, never quoted.
var printsFiles = map[string]bool{
	"cat": true, "head": true, "tail": true, "less": true, "more": true, "bat": true, "nl": true,
	"sed": true, "awk": true, "grep": true, "egrep": true, "rg": true, "ag": true, "diff": true, "xxd": true, "od": true,
}

// quotesFiles reports whether a command's output is (parts of) files: its
// program, after any env assignments and sudo, prints files, or it is git
// show/diff/blame.
func quotesFiles(command string) bool {
	f := strings.Fields(command)
	for len(f) > 0 && (strings.Contains(f[0], "=") || f[0] == "sudo" || f[0] == "env" || f[0] == "command") {
		f = f[1:]
	}
	if len(f) == 0 {
		return false
	}
	prog := f[0][strings.LastIndex(f[0], "/")+1:]
	if prog == "git" && len(f) > 1 {
		return f[1] == "show" || f[1] == "diff" || f[1] == "blame" || f[1] == "grep" || f[1] == "log" && strings.Contains(command, "-p")
	}
	if (prog == "grep" || prog == "rg") && (strings.Contains(command, " -c") || strings.Contains(command, " -l") || strings.Contains(command, " --count")) {
		return false // counts and file names, not lines
	}
	return printsFiles[prog]
}

func observeCommand(tu ToolUse, in toolInput) Observation {
	oc := runCommand(tu, in.Command)
	o := Observation{Type: "discovery", Title: oc.Title(), Concepts: []string{"how-it-works"}}
	o.Subtitle = clip(oneLine(in.Description), 200)
	o.Facts = []string{factCommand + clip(oneLine(in.Command), 300), factExit + oc.Status}
	var n []string
	n = append(n, fmt.Sprintf("Ran `%s`", clip(oneLine(in.Command), 200)))
	if d := strings.TrimSpace(in.Description); d != "" {
		n[0] += " (" + clip(oneLine(d), 120) + ")"
	}
	n[0] += ": " + oc.Status + "."
	if oc.IsTest {
		o.Facts = append(o.Facts, factTests+oc.Tests.Counts()+" ("+oc.Tests.Runner+")")
		what := oc.Tests.Runner + " reported " + oc.Tests.Counts()
		if oc.Tests.Packages {
			what += " (without -v it counts packages, not tests)"
		}
		n = append(n, what+".")
	}
	if oc.FirstError != "" {
		o.Facts = append(o.Facts, factError+oc.FirstError)
		o.Concepts = []string{"problem-solution"}
		n = append(n, "First error: "+oc.FirstError)
	}
	lines := nonBlankLines(stripANSI(oc.Output))
	switch {
	case oc.Cut > 0:
		n = append(n, fmt.Sprintf("Its output (%d bytes) was cut by the hook.", oc.Cut))
	case len(lines) == 0:
		if oc.Exit == 0 {
			n = append(n, "No output.")
		}
	case quotesFiles(in.Command):
		n = append(n, fmt.Sprintf("It printed %s of file content, not kept here.", plural(len(lines), "line", "lines")))
	case oc.FirstError == "" && !oc.IsTest:
		n = append(n, sentence("Output"+evidence(lines)))
	default:
		n = append(n, fmt.Sprintf("Output: %s.", plural(len(lines), "line", "lines")))
	}
	o.Narrative = strings.Join(n, "\n")
	return o
}

// evidence quotes at most three output lines, each clipped: " (N lines): a |
// b | c", saying how many were left out.
func evidence(lines []string) string {
	const most = 3
	var q []string
	for i, l := range lines {
		if i == most {
			break
		}
		q = append(q, clip(l, 160))
	}
	s := fmt.Sprintf(" (%s): %s", plural(len(lines), "line", "lines"), strings.Join(q, " | "))
	if len(lines) > most {
		s += fmt.Sprintf(" | … %d more", len(lines)-most)
	}
	return s
}

func nonBlankLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func joinNonEmpty(sep string, ss ...string) string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimRight(s, "\n"))
		}
	}
	return strings.Join(out, sep)
}

// truncated returns the original size and head of a response the hook cut
// (event.TruncationMarker), or 0.
func truncated(raw json.RawMessage) (int, string) {
	if len(raw) == 0 || raw[0] != '{' || !strings.Contains(string(raw[:min(len(raw), 40)]), "mnemo_truncated") {
		return 0, ""
	}
	var m struct {
		Truncated     bool   `json:"mnemo_truncated"`
		OriginalBytes int    `json:"original_bytes"`
		Head          string `json:"head"`
	}
	if json.Unmarshal(raw, &m) != nil || !m.Truncated {
		return 0, ""
	}
	return m.OriginalBytes, m.Head
}

// responseString is a response that is a JSON string, or an array of MCP
// text blocks joined; "" otherwise.
func responseString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			if b.Type == "text" && b.Text != "" {
				parts = append(parts, b.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}
