package llm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// fileLines collects the lines of file contents found in a tool response
// (what a Read returned, what a Write or Edit saw or wrote), trimmed.
func fileLines(into map[string]bool, resp json.RawMessage) {
	var r struct {
		File struct {
			Content string `json:"content"`
		} `json:"file"`
		Content      string  `json:"content"`
		OriginalFile *string `json:"originalFile"`
	}
	if json.Unmarshal(resp, &r) != nil {
		return
	}
	texts := []string{r.File.Content, r.Content}
	if r.OriginalFile != nil {
		texts = append(texts, *r.OriginalFile)
	}
	for _, t := range texts {
		for _, l := range strings.Split(t, "\n") {
			if s := strings.TrimSpace(l); s != "" {
				into[s] = true
			}
		}
	}
}

// checkNoFileLines fails when a narrative line equals a file's line, or
// contains one of eight characters or more.
func checkNoFileLines(t *testing.T, what string, narrative string, lines map[string]bool) {
	t.Helper()
	for _, nl := range strings.Split(narrative, "\n") {
		nl = strings.TrimSpace(nl)
		for fl := range lines {
			if nl == fl || (len(fl) >= 8 && strings.Contains(nl, fl)) {
				t.Errorf("%s: narrative line %q quotes the file line %q", what, nl, fl)
			}
		}
	}
}

var identWord = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]{2,}`)

// TestOfflineFixtureToolUses runs every real PostToolUse and
// PostToolUseFailure payload through the hook's mapping and the offline
// compressor, and checks what each title and narrative says against the
// payload itself.
func TestOfflineFixtureToolUses(t *testing.T) {
	dir := testkit.FixtureDir(t, "claude-code")
	files, err := filepath.Glob(filepath.Join(dir, "PostToolUse*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v, %d files", err, len(files))
	}
	type fixture struct {
		name string
		tu   ToolUse
	}
	var fixtures []fixture
	read := map[string]bool{}
	for _, f := range files {
		payload, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		event := strings.SplitN(strings.TrimSuffix(name, ".json"), "-", 2)[0]
		env, err := hook.ClaudeCode(event, payload, hook.Options{SkipTools: []string{}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tu := ToolUse{EventID: "ev-" + name, Tool: env.Tool.Name, Input: env.Tool.Input, Response: env.Tool.Response, Error: env.Tool.Error, Cwd: env.Cwd}
		fileLines(read, tu.Response)
		fixtures = append(fixtures, fixture{name, tu})
	}
	if len(read) == 0 {
		t.Fatal("no file content in the fixtures: the quoting check would check nothing")
	}
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			res, err := Offline{}.Observe(context.Background(), ObserveRequest{ToolUses: []ToolUse{fx.tu}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Observations) != 1 {
				t.Fatalf("%d observations", len(res.Observations))
			}
			o := res.Observations[0]
			t.Logf("%s | %s", o.Title, strings.ReplaceAll(o.Narrative, "\n", " / "))
			if len(o.SourceEventIDs) != 1 || o.SourceEventIDs[0] != fx.tu.EventID {
				t.Errorf("sources %v", o.SourceEventIDs)
			}
			if strings.HasPrefix(o.Title, "Used ") || o.Narrative == "" {
				t.Errorf("nothing specific: title %q, narrative %q", o.Title, o.Narrative)
			}
			checkNoFileLines(t, fx.name, o.Narrative, read)
			var in map[string]any
			_ = json.Unmarshal(fx.tu.Input, &in)
			str := func(k string) string { s, _ := in[k].(string); return s }
			switch fx.tu.Tool {
			case "Bash":
				want := "exit 0"
				if fx.tu.Error != "" {
					first, rest, _ := strings.Cut(fx.tu.Error, "\n")
					want = "exit " + strings.TrimPrefix(first, "Exit code ")
					if e := strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]); !strings.Contains(o.Title, e) {
						t.Errorf("title %q lacks the first error line %q", o.Title, e)
					}
				}
				if !strings.Contains(o.Title, want) || !strings.Contains(o.Title, str("command")) {
					t.Errorf("title %q lacks the command %q or %q", o.Title, str("command"), want)
				}
			case "Read":
				base := filepath.Base(str("file_path"))
				if !strings.Contains(o.Title, base) || len(o.FilesRead) != 1 {
					t.Errorf("title %q or files %v do not name %s", o.Title, o.FilesRead, base)
				}
				var r readResponse
				if fx.tu.Error == "" {
					_ = json.Unmarshal(fx.tu.Response, &r)
					if size := fmt.Sprintf("%d bytes", len(r.File.Content)); !strings.Contains(o.Title, size) {
						t.Errorf("title %q lacks the size %s", o.Title, size)
					}
				} else if e := strings.SplitN(fx.tu.Error, ".", 2)[0]; !strings.Contains(o.Title, e) {
					t.Errorf("title %q lacks the error %q", o.Title, e)
				}
			case "Edit", "Write":
				base := filepath.Base(str("file_path"))
				if !strings.Contains(o.Title, base) || len(o.FilesModified) != 1 {
					t.Errorf("title %q or files %v do not name %s", o.Title, o.FilesModified, base)
				}
				// A touched identifier: a name from the file or the edit, other
				// than the file's own name.
				var src strings.Builder
				src.WriteString(str("old_string") + "\n" + str("new_string") + "\n" + str("content"))
				var r editResponse
				if json.Unmarshal(fx.tu.Response, &r) == nil && r.OriginalFile != nil {
					src.WriteString("\n" + *r.OriginalFile)
				}
				after, _ := strings.CutPrefix(o.Title, "Edited "+short(str("file_path")))
				after, _ = strings.CutPrefix(after, "Created "+short(str("file_path")))
				found := false
				for _, w := range identWord.FindAllString(after, -1) {
					if strings.Contains(src.String(), w) && !strings.Contains(str("file_path"), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("title %q names no identifier the change touched", o.Title)
				}
			case "Agent":
				if !strings.Contains(o.Title, str("description")) {
					t.Errorf("title %q lacks the description %q", o.Title, str("description"))
				}
			case "TaskCreate":
				if !strings.Contains(o.Title, str("subject")) {
					t.Errorf("title %q lacks the subject", o.Title)
				}
			}
		})
	}
}

// transcriptTurn is one prompt of transcript.jsonl and what followed it.
type transcriptTurn struct {
	prompt string
	uses   []ToolUse
	last   string
}

// readTranscript rebuilds the tool uses of the fixture session from its
// transcript: each tool_use with its structured toolUseResult, or its error
// text when the result is an error, grouped by user prompt.
func readTranscript(t *testing.T) (turns []transcriptTurn, read map[string]bool) {
	t.Helper()
	f, err := os.Open(filepath.Join(testkit.FixtureDir(t, "claude-code"), "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read = map[string]bool{}
	pending := map[string]*ToolUse{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct {
			Type    string `json:"type"`
			Message struct {
				Content json.RawMessage `json:"content"`
			} `json:"message"`
			ToolUseResult json.RawMessage `json:"toolUseResult"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		var text string
		if json.Unmarshal(line.Message.Content, &text) == nil {
			if line.Type == "user" && !strings.HasPrefix(text, "<") && !strings.HasPrefix(text, "This session is being continued") {
				turns = append(turns, transcriptTurn{prompt: text})
			}
			continue
		}
		var blocks []struct {
			Type      string          `json:"type"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
			IsError   bool            `json:"is_error"`
			Text      string          `json:"text"`
		}
		_ = json.Unmarshal(line.Message.Content, &blocks)
		for _, b := range blocks {
			if len(turns) == 0 {
				continue
			}
			turn := &turns[len(turns)-1]
			switch b.Type {
			case "text":
				if line.Type == "assistant" {
					turn.last = b.Text
				}
			case "tool_use":
				turn.uses = append(turn.uses, ToolUse{EventID: b.ID, Tool: b.Name, Input: b.Input})
				pending[b.ID] = &turn.uses[len(turn.uses)-1]
			case "tool_result":
				tu := pending[b.ToolUseID]
				if tu == nil {
					t.Fatalf("result for unknown tool use %s", b.ToolUseID)
				}
				if b.IsError {
					var s string
					_ = json.Unmarshal(b.Content, &s)
					tu.Error = s
				} else {
					tu.Response = line.ToolUseResult
					fileLines(read, line.ToolUseResult)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return turns, read
}

// TestOfflineTranscriptSession compresses the fixture session turn by turn
// as the worker does and checks what memory it leaves.
func TestOfflineTranscriptSession(t *testing.T) {
	turns, read := readTranscript(t)
	if len(turns) < 2 || len(turns[0].uses) < 10 || len(read) == 0 {
		t.Fatalf("transcript: %d turns, %d tool uses in the first, %d file lines", len(turns), len(turns[0].uses), len(read))
	}
	ctx := context.Background()
	var all []Observation
	for i, turn := range turns {
		res, err := Offline{}.Observe(ctx, ObserveRequest{Session: Session{UserPrompt: turn.prompt}, ToolUses: turn.uses})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Observations) != len(turn.uses) {
			t.Fatalf("turn %d: %d observations of %d tool uses", i, len(res.Observations), len(turn.uses))
		}
		for _, o := range res.Observations {
			t.Logf("turn %d: %s", i, o.Title)
			checkNoFileLines(t, o.Title, o.Narrative, read)
			if strings.HasPrefix(o.Title, "Used ") {
				t.Errorf("nothing specific: %q", o.Title)
			}
		}
		all = append(all, res.Observations...)
		sum, err := Offline{}.Summarize(ctx, SummarizeRequest{Session: Session{UserPrompt: turn.prompt}, LastAssistantMessage: turn.last, Observations: all})
		if err != nil {
			t.Fatal(err)
		}
		s := sum.Summary
		if s.Empty() {
			t.Fatalf("turn %d: no summary for a session that did things", i)
		}
		t.Logf("turn %d summary: %+v", i, *s)
		if s.Request != turn.prompt {
			t.Errorf("turn %d: request %q, want the prompt %q", i, s.Request, turn.prompt)
		}
		// The request is the user's own prompt; every other field is Mnemo's.
		for _, f := range []string{s.Investigated, s.Learned, s.Completed, s.NextSteps, s.Notes} {
			checkNoFileLines(t, "summary", f, read)
		}
		if !strings.Contains(s.Completed, "notes.md") || !strings.Contains(s.Investigated, "README.md") {
			t.Errorf("turn %d: files changed/read missing: completed %q, investigated %q", i, s.Completed, s.Investigated)
		}
		if !strings.Contains(s.Learned, "`ls does-not-exist` → exit 2") || !strings.Contains(s.NextSteps, "ls does-not-exist") {
			t.Errorf("turn %d: the failing command is missing: learned %q, next %q", i, s.Learned, s.NextSteps)
		}
		if !strings.Contains(s.Completed, strings.TrimSpace(turn.last)) {
			t.Errorf("turn %d: completed %q lacks the last message %q", i, s.Completed, turn.last)
		}
	}
}

// TestOfflineTestRunTitles reads real outputs of go test, pytest, cargo test,
// jest and vitest (testdata/testruns, see its README) as Claude Code reports
// them: stdout of a PostToolUse, or "Exit code N" and the output of a
// PostToolUseFailure.
func TestOfflineTestRunTitles(t *testing.T) {
	cases := []struct {
		file, command string
		exit          int
		counts        string // "" when no runner summary is expected
		firstError    string
	}{
		{"go-pass", "go test ./strs/", 0, "1 package ok", ""},
		{"go-fail", "go test ./...", 1, "1 package ok, 1 package failed", "TestSub: calc_test.go:13: Sub(5, 3) = 8, want 2"},
		{"go-v-pass", "go test -v ./strs/", 0, "2 passed, 0 failed", ""},
		{"go-v-fail", "go test -v ./...", 1, "3 passed, 1 failed, 1 skipped", "TestSub: calc_test.go:13: Sub(5, 3) = 8, want 2"},
		{"go-json", "go test -json ./strs/", 0, "2 passed, 0 failed", ""},
		{"go-build-fail", "go test ./...", 1, "1 package ok, 1 package failed", `calc/broken.go:2:28: cannot use "x" (untyped string constant) as int value in return statement`},
		{"cargo-pass", "cargo test", 0, "2 passed, 0 failed, 1 skipped", ""},
		{"cargo-fail", "cargo test", 101, "1 passed, 1 failed, 1 skipped", "tests::subtracts: assertion `left == right` failed"},
		{"cargo-build-fail", "cargo test", 101, "", "error[E0277]: cannot subtract `&str` from `i32`"},
		{"pytest-pass", "pytest", 0, "3 passed, 0 failed, 1 skipped", ""},
		{"pytest-fail", "python -m pytest", 1, "2 passed, 1 failed, 1 skipped", "FAILED test_calc.py::test_sub - assert 8 == 2"},
		{"pytest-q-fail", "pytest -q", 1, "2 passed, 1 failed, 1 skipped", "FAILED test_calc.py::test_sub - assert 8 == 2"},
		{"pytest-error", "pytest", 2, "0 passed, 0 failed, 1 error", "SyntaxError: invalid syntax"},
		{"jest-pass", "npx jest", 0, "3 passed, 0 failed, 1 skipped", ""},
		{"jest-fail", "npm test", 1, "2 passed, 1 failed, 1 skipped", "subtracts: expect(received).toBe(expected) // Object.is equality"},
		{"vitest-pass", "npx vitest run", 0, "3 passed, 0 failed, 1 skipped", ""},
		{"vitest-fail", "npm test", 1, "2 passed, 1 failed, 1 skipped", "calc.test.js > subtracts: AssertionError: expected 8 to be 2 // Object.is equality"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file+".txt"] = true
		t.Run(c.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", "testruns", c.file+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(map[string]string{"command": c.command, "description": "Run the tests"})
			tu := ToolUse{EventID: "e1", Tool: "Bash", Input: in}
			if c.exit == 0 {
				tu.Response, _ = json.Marshal(map[string]any{"stdout": string(out), "stderr": "", "interrupted": false})
			} else {
				tu.Error = fmt.Sprintf("Exit code %d\n%s", c.exit, out)
			}
			o := extract(tu)
			t.Logf("%s\n%s", o.Title, o.Narrative)
			if !strings.HasPrefix(o.Title, "Ran "+c.command+": exit "+fmt.Sprint(c.exit)) {
				t.Errorf("title %q does not start with the command and its exit status", o.Title)
			}
			if c.counts != "" && !strings.Contains(o.Title, ", "+c.counts) {
				t.Errorf("title %q lacks the counts %q", o.Title, c.counts)
			}
			if c.counts == "" && strings.Contains(o.Title, " passed") {
				t.Errorf("title %q claims counts the output does not have", o.Title)
			}
			if c.firstError != "" && !strings.HasSuffix(o.Title, " — "+c.firstError) {
				t.Errorf("title %q does not end with the first error %q", o.Title, c.firstError)
			}
			if c.firstError == "" && strings.Contains(o.Title, " — ") {
				t.Errorf("title %q reports an error for a passing run", o.Title)
			}
			if strings.Contains(o.Narrative, "\x1b[") {
				t.Errorf("narrative keeps terminal escapes: %q", o.Narrative)
			}
		})
	}
	all, _ := filepath.Glob(filepath.Join("testdata", "testruns", "*.txt"))
	for _, f := range all {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no case", f)
		}
	}
}

// TestOfflineCodeEdits checks that an edit's title names the declarations it
// added, removed or sat in, in the tool's own response shape.
func TestOfflineCodeEdits(t *testing.T) {
	goFile := "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Sub(a, b int) int {\n\treturn a + b\n}\n"
	pyFile := "class Cart:\n    def total(self):\n        return sum(self.items)\n"
	edit := func(file, old, new, original string, patchStart int, patch ...string) ToolUse {
		in, _ := json.Marshal(map[string]any{"file_path": file, "old_string": old, "new_string": new})
		resp, _ := json.Marshal(map[string]any{"filePath": file, "oldString": old, "newString": new, "originalFile": original,
			"structuredPatch": []map[string]any{{"oldStart": patchStart, "newStart": patchStart, "lines": patch}}})
		return ToolUse{EventID: "e", Tool: "Edit", Input: in, Response: resp}
	}
	cases := []struct {
		name  string
		tu    ToolUse
		title string
	}{
		{"body of a Go func", edit("/w/calc/calc.go", "\treturn a + b\n}", "\treturn a - b\n}", goFile, 5,
			"func Sub(a, b int) int {", "-\treturn a + b", "+\treturn a - b", " }"), "Edited calc/calc.go: in Sub"},
		{"a Go func added", edit("/w/calc/calc.go", "func Sub(", "func Mul(a, b int) int { return a * b }\n\nfunc Sub(", goFile, 5,
			"+func Mul(a, b int) int { return a * b }", "+", " func Sub(a, b int) int {"), "Edited calc/calc.go: added Mul"},
		{"a Python method renamed", edit("/w/shop/cart.py", "    def total(self):", "    def subtotal(self):", pyFile, 1,
			" class Cart:", "-    def total(self):", "+    def subtotal(self):"), "Edited shop/cart.py: added subtotal, removed total"},
		{"a call changed inside a method", edit("/w/shop/cart.py", "sum(self.items)", "sum(i.price for i in self.items)", pyFile, 1,
			" class Cart:", "     def total(self):", "-        return sum(self.items)", "+        return sum(i.price for i in self.items)"),
			"Edited shop/cart.py: in total (price)"},
	}
	for _, c := range cases {
		o := extract(c.tu)
		if o.Title != c.title {
			t.Errorf("%s: title %q, want %q", c.name, o.Title, c.title)
		}
		if o.Type != "change" || len(o.FilesModified) != 1 {
			t.Errorf("%s: type %s, files %v", c.name, o.Type, o.FilesModified)
		}
		checkNoFileLines(t, c.name, o.Narrative, map[string]bool{"return a + b": true, "func Sub(a, b int) int {": true, "return sum(self.items)": true})
	}

	// A rewrite says which declarations came and went.
	content := "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Mul(a, b int) int { return a * b }\n"
	in, _ := json.Marshal(map[string]any{"file_path": "/w/calc/calc.go", "content": content})
	resp, _ := json.Marshal(map[string]any{"type": "update", "filePath": "/w/calc/calc.go", "content": content, "originalFile": goFile})
	o := extract(ToolUse{EventID: "w", Tool: "Write", Input: in, Response: resp})
	if want := fmt.Sprintf("Rewrote calc/calc.go (5 lines, %d bytes): added Mul, removed Sub", len(content)); o.Title != want {
		t.Errorf("rewrite: title %q, want %q", o.Title, want)
	}
}

// TestOfflineSummary checks when a summary is made and what it says.
func TestOfflineSummary(t *testing.T) {
	ctx := context.Background()
	sum := func(r SummarizeRequest) *Summary {
		t.Helper()
		res, err := Offline{}.Summarize(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return res.Summary
	}
	// Nothing done and nothing said: no summary, whatever the prompt.
	if s := sum(SummarizeRequest{Session: Session{UserPrompt: "hello?"}}); s != nil {
		t.Errorf("a session that did nothing got a summary: %+v", *s)
	}
	// A question answered without tools: the request and the answer.
	s := sum(SummarizeRequest{Session: Session{UserPrompt: "What does the reaper do?"}, LastAssistantMessage: "It redelivers\nstuck work."})
	if s == nil || s.Request != "What does the reaper do?" || s.Completed != "The agent's last message: It redelivers stuck work." || s.Investigated != "" || s.NextSteps != "" {
		t.Errorf("answer-only summary: %+v", s)
	}
	// A failing test run, then the fix and a passing run: nothing left open.
	bash := func(cmd string, exit int, out string) ToolUse {
		in, _ := json.Marshal(map[string]string{"command": cmd})
		if exit == 0 {
			resp, _ := json.Marshal(map[string]string{"stdout": out})
			return ToolUse{EventID: cmd, Tool: "Bash", Input: in, Response: resp}
		}
		return ToolUse{EventID: cmd, Tool: "Bash", Input: in, Error: fmt.Sprintf("Exit code %d\n%s", exit, out)}
	}
	failing, _ := os.ReadFile(filepath.Join("testdata", "testruns", "go-v-fail.txt"))
	passing, _ := os.ReadFile(filepath.Join("testdata", "testruns", "go-v-pass.txt"))
	uses := []ToolUse{bash("go test -v ./...", 1, string(failing))}
	res, _ := Offline{}.Observe(ctx, ObserveRequest{ToolUses: uses})
	s = sum(SummarizeRequest{Session: Session{UserPrompt: "fix Sub"}, Observations: res.Observations})
	if s == nil || !strings.Contains(s.Learned, "3 passed, 1 failed, 1 skipped") || !strings.Contains(s.Learned, "TestSub") || s.NextSteps != "Still failing at its last run: `go test -v ./...`." {
		t.Fatalf("after a failing run: %+v", s)
	}
	uses = append(uses, bash("go test -v ./...", 0, string(passing)))
	res, _ = Offline{}.Observe(ctx, ObserveRequest{ToolUses: uses})
	s = sum(SummarizeRequest{Session: Session{UserPrompt: "fix Sub"}, Observations: res.Observations})
	if s == nil || s.NextSteps != "" || !strings.Contains(s.Notes, "Commands (2)") {
		t.Errorf("after the passing rerun: %+v", s)
	}
	if (&Summary{Notes: " \n"}).Empty() != true || (&Summary{NextSteps: "x"}).Empty() {
		t.Error("Empty is wrong")
	}
}
