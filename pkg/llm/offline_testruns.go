package llm

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// testRun is what a test runner's output says: counts of tests (or, for a
// non-verbose go test, of packages) and the first failure.
type testRun struct {
	Runner                  string // go test | pytest | cargo test | jest | vitest
	Passed, Failed, Skipped int
	Errors                  int  // pytest collection/fixture errors
	Packages                bool // counts are packages (go test without -v)
	FirstFailure            string
	haveCounts              bool
}

// Counts renders the counts as a short phrase: "2 passed, 1 failed, 1
// skipped", or for packages "1 package ok, 1 package failed".
func (r testRun) Counts() string {
	if r.Packages {
		s := plural(r.Passed, "package ok", "packages ok")
		if r.Failed > 0 {
			s += ", " + plural(r.Failed, "package failed", "packages failed")
		}
		return s
	}
	s := fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed)
	if r.Errors > 0 {
		s += ", " + plural(r.Errors, "error", "errors")
	}
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// runnerHints maps a command's words to the runner whose parser goes first.
var runnerHints = []struct {
	re     *regexp.Regexp
	runner string
}{
	{regexp.MustCompile(`\bgo\s+test\b|\bgotestsum\b`), "go test"},
	{regexp.MustCompile(`\bpytest\b|\bpy\.test\b`), "pytest"},
	{regexp.MustCompile(`\bcargo\s+(test|nextest)\b`), "cargo test"},
	{regexp.MustCompile(`\bvitest\b`), "vitest"},
	{regexp.MustCompile(`\bjest\b`), "jest"},
}

var testParsers = []struct {
	runner string
	parse  func(lines []string) (testRun, bool)
}{
	{"go test", parseGoTest},
	{"pytest", parsePytest},
	{"cargo test", parseCargoTest},
	{"vitest", parseVitest},
	{"jest", parseJest},
}

// parseTestRun recognises the output of go test, pytest, cargo test, jest and
// vitest. The command only decides which parser tries first (`npm test` may
// run any of them); a run is recognised by its own summary lines.
func parseTestRun(command, output string) (testRun, bool) {
	lines := strings.Split(stripANSI(output), "\n")
	first := ""
	for _, h := range runnerHints {
		if h.re.MatchString(command) {
			first = h.runner
			break
		}
	}
	if first != "" {
		for _, p := range testParsers {
			if p.runner == first {
				if r, ok := p.parse(lines); ok {
					r.Runner = p.runner
					return r, true
				}
			}
		}
	}
	for _, p := range testParsers {
		if p.runner == first {
			continue
		}
		if r, ok := p.parse(lines); ok {
			r.Runner = p.runner
			return r, true
		}
	}
	return testRun{}, false
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiRE.ReplaceAllString(s, "")
}

var (
	goVerboseRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
	goPkgOKRE   = regexp.MustCompile(`^ok\s+\S+\s+(\(cached\)|[\d.]+s|\[no tests to run\])`)
	goPkgFailRE = regexp.MustCompile(`^FAIL\s+\S+\s+([\d.]+s|\[(build|setup) failed\])`)
	goBuildRE   = regexp.MustCompile(`^\S+\.go:\d+(:\d+)?: \S`)
	goRunRE     = regexp.MustCompile(`^=== (RUN|CONT|PAUSE|NAME)\s`)
)

// parseGoTest reads go test's plain, -v and -json output.
func parseGoTest(lines []string) (testRun, bool) {
	if l := firstNonBlank(lines); strings.HasPrefix(l, `{"Time"`) || strings.HasPrefix(l, `{"Action"`) {
		return parseGoTestJSON(lines)
	}
	var r testRun
	var pkgOK, pkgFail int
	for i, l := range lines {
		if m := goVerboseRE.FindStringSubmatch(l); m != nil {
			r.haveCounts = true
			switch m[1] {
			case "PASS":
				r.Passed++
			case "FAIL":
				r.Failed++
				if r.FirstFailure == "" {
					r.FirstFailure = goFailureMessage(lines, i, m[2])
				}
			case "SKIP":
				r.Skipped++
			}
			continue
		}
		switch {
		case goPkgOKRE.MatchString(l):
			pkgOK++
		case goPkgFailRE.MatchString(l):
			pkgFail++
		case goBuildRE.MatchString(l) && r.FirstFailure == "":
			r.FirstFailure = strings.TrimSpace(l)
		case strings.HasPrefix(l, "panic: ") && r.FirstFailure == "":
			r.FirstFailure = strings.TrimSpace(l)
		}
	}
	if pkgOK+pkgFail == 0 && !r.haveCounts {
		return testRun{}, false
	}
	// Without -v a passing test prints nothing: count packages then, naming
	// failed tests only through the first failure.
	verbose := r.Passed+r.Skipped > 0 || (r.Failed > 0 && pkgFail == 0)
	if !verbose {
		r.Passed, r.Failed, r.Skipped, r.Packages = pkgOK, pkgFail, 0, true
	}
	return r, true
}

// goFailureMessage is "TestX: <its first message line>": go test prints a
// test's messages before its --- FAIL line with -v and after it without.
func goFailureMessage(lines []string, at int, name string) string {
	base := name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		base = name[:i]
	}
	msg := ""
	// After the --- FAIL line (plain output): indented lines.
	if at+1 < len(lines) && strings.HasPrefix(lines[at+1], "    ") && !goVerboseRE.MatchString(lines[at+1]) {
		msg = strings.TrimSpace(lines[at+1])
	}
	// Before it (-v): the indented lines since its === RUN.
	if msg == "" {
		for j := at - 1; j >= 0 && j >= at-200; j-- {
			l := lines[j]
			if goRunRE.MatchString(l) {
				if strings.Contains(l, base) {
					for k := j + 1; k < at; k++ {
						if s := strings.TrimSpace(lines[k]); s != "" && !goRunRE.MatchString(lines[k]) && !goVerboseRE.MatchString(lines[k]) {
							msg = s
							break
						}
					}
				}
				break
			}
		}
	}
	if msg == "" {
		return name
	}
	return name + ": " + msg
}

// parseGoTestJSON reads go test -json (test2json) events.
func parseGoTestJSON(lines []string) (testRun, bool) {
	var r testRun
	var text []string
	any := false
	for _, l := range lines {
		var ev struct {
			Action, Test, Output string
		}
		if json.Unmarshal([]byte(l), &ev) != nil || ev.Action == "" {
			continue
		}
		any = true
		if ev.Output != "" {
			text = append(text, strings.TrimRight(ev.Output, "\n"))
		}
		if ev.Test == "" {
			continue
		}
		switch ev.Action {
		case "pass":
			r.Passed++
		case "fail":
			r.Failed++
		case "skip":
			r.Skipped++
		}
	}
	if !any {
		return testRun{}, false
	}
	r.haveCounts = true
	if r.Failed > 0 {
		if plain, ok := parseGoTest(text); ok {
			r.FirstFailure = plain.FirstFailure
		}
	}
	return r, true
}

var (
	pytestSummaryRE = regexp.MustCompile(`^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?|rerun)(?:, )?)+) in [\d.]+s`)
	pytestNoTestsRE = regexp.MustCompile(`^=*\s*no tests ran in [\d.]+s`)
	countRE         = regexp.MustCompile(`(\d+) ([a-z]+)`)
	pytestErrLineRE = regexp.MustCompile(`^E\s+(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b`)
)

// parsePytest reads pytest's closing line ("1 failed, 2 passed in 0.1s") and
// its short test summary.
func parsePytest(lines []string) (testRun, bool) {
	var r testRun
	found := false
	for i := len(lines) - 1; i >= 0 && !found; i-- {
		l := strings.TrimSpace(lines[i])
		if m := pytestSummaryRE.FindStringSubmatch(l); m != nil {
			found = true
			for _, c := range countRE.FindAllStringSubmatch(m[1], -1) {
				n, _ := strconv.Atoi(c[1])
				switch c[2] {
				case "passed", "xpassed":
					r.Passed += n
				case "failed":
					r.Failed += n
				case "skipped", "xfailed":
					r.Skipped += n
				case "error", "errors":
					r.Errors += n
				}
			}
		} else if pytestNoTestsRE.MatchString(l) {
			found = true
		}
	}
	if !found {
		return testRun{}, false
	}
	r.haveCounts = true
	for _, l := range lines {
		if strings.HasPrefix(l, "FAILED ") || (strings.HasPrefix(l, "ERROR ") && strings.Contains(l, " - ")) {
			r.FirstFailure = strings.TrimSpace(l)
			break
		}
	}
	if r.FirstFailure == "" {
		for _, l := range lines {
			if pytestErrLineRE.MatchString(l) {
				r.FirstFailure = strings.TrimSpace(strings.TrimPrefix(l, "E"))
				break
			}
		}
	}
	return r, true
}

var (
	cargoResultRE = regexp.MustCompile(`^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored`)
	cargoFailRE   = regexp.MustCompile(`^---- (\S+) stdout ----`)
	rustErrorRE   = regexp.MustCompile(`^error(\[E\d+\])?: `)
)

// parseCargoTest adds up every "test result:" line (one per test binary).
func parseCargoTest(lines []string) (testRun, bool) {
	var r testRun
	for i, l := range lines {
		if m := cargoResultRE.FindStringSubmatch(l); m != nil {
			r.haveCounts = true
			p, _ := strconv.Atoi(m[1])
			f, _ := strconv.Atoi(m[2])
			ig, _ := strconv.Atoi(m[3])
			r.Passed, r.Failed, r.Skipped = r.Passed+p, r.Failed+f, r.Skipped+ig
		}
		if m := cargoFailRE.FindStringSubmatch(l); m != nil && r.FirstFailure == "" {
			r.FirstFailure = m[1]
			for j := i + 1; j < len(lines) && j < i+8; j++ {
				s := strings.TrimSpace(lines[j])
				if s == "" {
					continue
				}
				if strings.HasPrefix(s, "thread '") && strings.HasSuffix(s, ":") {
					continue // new panic format: the message is on the next line
				}
				if strings.HasPrefix(s, "thread '") {
					if k := strings.Index(s, "panicked at "); k >= 0 {
						s = s[k+len("panicked at "):]
					}
				}
				r.FirstFailure += ": " + s
				break
			}
		}
	}
	if !r.haveCounts {
		return testRun{}, false
	}
	return r, true
}

var (
	jestTestsRE   = regexp.MustCompile(`^Tests:\s+(.*\d+ total)`)
	jestBulletRE  = regexp.MustCompile(`^\s*● (.+)$`)
	vitestTestsRE = regexp.MustCompile(`^Tests\s+(.+?)\s*\(\d+\)$`)
	vitestFailRE  = regexp.MustCompile(`^\s*FAIL\s+(.+>.+)$`)
)

// parseJest reads jest's "Tests:" line and its first ● failure.
var parseJest = summaryRunner{counts: jestTestsRE, failure: jestBulletRE, skipped: []string{"skipped", "todo", "pending"}}.parse

// parseVitest reads vitest's "Tests  1 failed | 2 passed (3)" line and its
// first FAIL block.
var parseVitest = summaryRunner{counts: vitestTestsRE, failure: vitestFailRE, skipped: []string{"skipped", "todo"}}.parse

// summaryRunner is a test runner whose output has one summary line of
// counts ("2 passed", "1 failed", …) and marks each failure with a line of
// its own: counts and failure match them (the first group is what to keep),
// skipped names the counts that mean not run.
type summaryRunner struct {
	counts, failure *regexp.Regexp
	skipped         []string
}

func (p summaryRunner) parse(lines []string) (testRun, bool) {
	var r testRun
	for i, l := range lines {
		if m := p.counts.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			r.haveCounts = true
			for _, c := range countRE.FindAllStringSubmatch(m[1], -1) {
				n, _ := strconv.Atoi(c[1])
				switch {
				case c[2] == "passed":
					r.Passed += n
				case c[2] == "failed":
					r.Failed += n
				case slices.Contains(p.skipped, c[2]):
					r.Skipped += n
				}
			}
		}
		if m := p.failure.FindStringSubmatch(l); m != nil && r.FirstFailure == "" {
			r.FirstFailure = strings.TrimSpace(m[1])
			if msg := nextNonBlank(lines, i+1, 4); msg != "" {
				r.FirstFailure += ": " + msg
			}
		}
	}
	if !r.haveCounts {
		return testRun{}, false
	}
	return r, true
}

func nextNonBlank(lines []string, from, within int) string {
	for j := from; j < len(lines) && j < from+within; j++ {
		if s := strings.TrimSpace(lines[j]); s != "" {
			return s
		}
	}
	return ""
}

func firstNonBlank(lines []string) string {
	return nextNonBlank(lines, 0, len(lines))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
