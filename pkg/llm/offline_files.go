package llm

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// readResponse is Claude Code's structured Read result.
type readResponse struct {
	Type string `json:"type"` // text | image | notebook | pdf
	File struct {
		FilePath     string            `json:"filePath"`
		Content      string            `json:"content"`
		NumLines     int               `json:"numLines"`
		StartLine    int               `json:"startLine"`
		TotalLines   int               `json:"totalLines"`
		OriginalSize int               `json:"originalSize"`
		Cells        []json.RawMessage `json:"cells"`
	} `json:"file"`
}

// editResponse is Claude Code's structured Edit and Write result.
type editResponse struct {
	Type            string  `json:"type"` // Write: create | update
	FilePath        string  `json:"filePath"`
	Content         string  `json:"content"`
	OriginalFile    *string `json:"originalFile"`
	StructuredPatch []struct {
		OldStart int      `json:"oldStart"`
		NewStart int      `json:"newStart"`
		Lines    []string `json:"lines"`
	} `json:"structuredPatch"`
}

type editInput struct {
	OldString  string `json:"old_string"`
	NewString  string `json:"new_string"`
	ReplaceAll bool   `json:"replace_all"`
	Content    string `json:"content"`
	Edits      []struct {
		OldString string `json:"old_string"`
		NewString string `json:"new_string"`
	} `json:"edits"`
	CellID   string `json:"cell_id"`
	EditMode string `json:"edit_mode"`
}

// observeRead says which file was read and how much of it, and what it
// declares: never its lines.
func observeRead(tu ToolUse, file string) Observation {
	o := Observation{Type: "discovery", FilesRead: nonEmpty(file), Concepts: []string{"how-it-works"}}
	o.Facts = []string{factFile + file}
	if tu.Error != "" {
		msg := clip(oneLine(tu.Error), 160)
		o.Title = "Read " + short(file) + " failed: " + firstSentence(msg)
		o.Narrative = fmt.Sprintf("Reading %s failed: %s", file, msg)
		o.Facts = append(o.Facts, factError+msg)
		o.Concepts = []string{"problem-solution"}
		return o
	}
	var r readResponse
	cut, _ := truncated(tu.Response)
	if cut == 0 {
		_ = json.Unmarshal(tu.Response, &r)
	}
	switch {
	case cut > 0:
		o.Title = fmt.Sprintf("Read %s (%s)", short(file), bytesText(cut))
		o.Narrative = fmt.Sprintf("Read %s; its content (%s) was cut by the hook.", file, bytesText(cut))
	case r.Type == "image" || r.Type == "pdf":
		o.Title = fmt.Sprintf("Read %s %s (%s)", r.Type, short(file), bytesText(r.File.OriginalSize))
		o.Narrative = fmt.Sprintf("Looked at the %s %s (%s).", r.Type, file, bytesText(r.File.OriginalSize))
	case r.Type == "notebook":
		o.Title = fmt.Sprintf("Read notebook %s (%d cells)", short(file), len(r.File.Cells))
		o.Narrative = fmt.Sprintf("Read the notebook %s: %d cells.", file, len(r.File.Cells))
	default:
		f := r.File
		lines := f.NumLines
		if lines == 0 && f.Content != "" {
			lines = countLines(f.Content)
		}
		size := fmt.Sprintf("%s, %s", plural(lines, "line", "lines"), bytesText(len(f.Content)))
		part := "whole"
		if f.TotalLines > 0 && (f.StartLine > 1 || lines < f.TotalLines) {
			end := f.StartLine + lines - 1
			part = fmt.Sprintf("lines %d-%d of %d", f.StartLine, end, f.TotalLines)
			size = fmt.Sprintf("lines %d-%d of %d, %s", f.StartLine, end, f.TotalLines, bytesText(len(f.Content)))
		}
		o.Title = fmt.Sprintf("Read %s (%s)", short(file), size)
		n := fmt.Sprintf("Read %s (%s): %s of %s", file, part, plural(lines, "line", "lines"), kindOf(file))
		if names := declared(file, f.Content); len(names) > 0 {
			n += "; " + declaresWord(file) + " " + listNames(names, 8)
		}
		o.Narrative = n + "."
		o.Facts = append(o.Facts, "size: "+size)
	}
	return o
}

// observeEdit names the file and the identifiers an Edit, MultiEdit or
// NotebookEdit touched, and counts the lines it changed.
func observeEdit(tu ToolUse, tool, file string, in editInput) Observation {
	o := Observation{Type: "change", FilesModified: nonEmpty(file), Concepts: []string{"what-changed"}}
	o.Facts = []string{factFile + file}
	if tool == "NotebookEdit" {
		mode := firstNonEmpty(in.EditMode, "replace")
		o.Title = fmt.Sprintf("Edited notebook %s (%s cell %s)", short(file), mode, firstNonEmpty(in.CellID, "?"))
		o.Narrative = fmt.Sprintf("Edited the notebook %s: %s of cell %s.", file, mode, firstNonEmpty(in.CellID, "?"))
		return o
	}
	pairs := [][2]string{{in.OldString, in.NewString}}
	if len(in.Edits) > 0 {
		pairs = pairs[:0]
		for _, e := range in.Edits {
			pairs = append(pairs, [2]string{e.OldString, e.NewString})
		}
	}
	var r editResponse
	_ = json.Unmarshal(tu.Response, &r)
	original := ""
	if r.OriginalFile != nil {
		original = *r.OriginalFile
	}
	touched := editTouched(file, pairs, original, r)
	o.Title = "Edited " + short(file)
	if s := touched.String(); s != "" {
		o.Title += ": " + s
		o.Facts = append(o.Facts, factTouched+strings.Join(touched.all(), ", "))
	}
	removed, added := patchCounts(r)
	if removed+added == 0 {
		for _, p := range pairs {
			removed += countLines(p[0])
			added += countLines(p[1])
		}
	}
	n := fmt.Sprintf("Edited %s", file)
	if s := touched.String(); s != "" {
		n += " (" + s + ")"
	}
	n += fmt.Sprintf(": %s removed, %s added", plural(removed, "line", "lines"), plural(added, "line", "lines"))
	if len(pairs) > 1 {
		n += fmt.Sprintf(" in %d edits", len(pairs))
	}
	if in.ReplaceAll {
		n += ", every occurrence"
	}
	o.Narrative = n + "."
	if tu.Error != "" {
		changeFailed(&o, tu.Error, "Edit", "Editing", file)
	}
	return o
}

// observeWrite says whether a Write created or rewrote a file, its size and
// what it declares (or, for a rewrite, which declarations came and went).
func observeWrite(tu ToolUse, file string, in editInput) Observation {
	o := Observation{Type: "change", FilesModified: nonEmpty(file), Concepts: []string{"what-changed"}}
	o.Facts = []string{factFile + file}
	var r editResponse
	_ = json.Unmarshal(tu.Response, &r)
	content := firstNonEmpty(r.Content, in.Content)
	size := fmt.Sprintf("%s, %s", plural(countLines(content), "line", "lines"), bytesText(len(content)))
	verb := "Created"
	if r.Type == "update" || (r.OriginalFile != nil && *r.OriginalFile != "") {
		verb = "Rewrote"
	}
	o.Title = fmt.Sprintf("%s %s (%s)", verb, short(file), size)
	n := fmt.Sprintf("%s %s (%s) of %s", verb, file, size, kindOf(file))
	now := declared(file, content)
	if verb == "Rewrote" && r.OriginalFile != nil {
		before := declared(file, *r.OriginalFile)
		var t touchedNames
		t.added = without(now, before)
		t.removed = without(before, now)
		if s := t.String(); s != "" {
			o.Title += ": " + s
			n += "; " + s
			o.Facts = append(o.Facts, factTouched+strings.Join(t.all(), ", "))
		}
	} else if len(now) > 0 {
		o.Title += ": " + listNames(now, 3)
		n += "; " + declaresWord(file) + " " + listNames(now, 8)
		o.Facts = append(o.Facts, factTouched+strings.Join(now, ", "))
	}
	o.Narrative = n + "."
	if tu.Error != "" {
		changeFailed(&o, tu.Error, "Write", "Writing", file)
	}
	return o
}

// changeFailed makes o the observation of an Edit or Write of file that
// failed: what and doing name the tool ("Edit", "Editing"); the error, cut
// to one line of 160 characters, is in the title, the narrative and a fact.
func changeFailed(o *Observation, errText, what, doing, file string) {
	msg := clip(oneLine(errText), 160)
	o.Title = what + " of " + short(file) + " failed: " + msg
	o.Narrative = fmt.Sprintf("%s %s failed: %s", doing, file, msg)
	o.Facts = append(o.Facts, factError+msg)
	o.Concepts = []string{"problem-solution"}
}

// touchedNames are the identifiers an edit touched: declarations it added,
// removed or changed, the declaration it was inside, and other identifiers
// whose uses it added or removed.
type touchedNames struct {
	added, removed, changed []string
	inside                  string
	mentions                []string
}

func (t touchedNames) String() string {
	var parts []string
	if len(t.added) > 0 {
		parts = append(parts, "added "+listNames(t.added, 3))
	}
	if len(t.removed) > 0 {
		parts = append(parts, "removed "+listNames(t.removed, 3))
	}
	if len(t.changed) > 0 {
		parts = append(parts, "changed "+listNames(t.changed, 3))
	}
	if len(parts) == 0 && t.inside != "" {
		parts = append(parts, "in "+t.inside)
	}
	s := strings.Join(parts, ", ")
	if len(t.mentions) > 0 {
		m := "(" + listNames(t.mentions, 3) + ")"
		if s == "" {
			return m[1 : len(m)-1]
		}
		s += " " + m
	}
	return s
}

func (t touchedNames) all() []string {
	var out []string
	out = append(out, t.added...)
	out = append(out, t.removed...)
	out = append(out, t.changed...)
	if t.inside != "" {
		out = append(out, t.inside)
	}
	return append(out, t.mentions...)
}

func editTouched(file string, pairs [][2]string, original string, r editResponse) touchedNames {
	var t touchedNames
	var oldDecl, newDecl, oldIDs, newIDs []string
	for _, p := range pairs {
		oldDecl = append(oldDecl, declared(file, p[0])...)
		newDecl = append(newDecl, declared(file, p[1])...)
		oldIDs = append(oldIDs, identifiers(file, p[0])...)
		newIDs = append(newIDs, identifiers(file, p[1])...)
		// A declaration on both sides is changed only if its line changed.
		before, after := declLines(file, p[0]), declLines(file, p[1])
		for name, l := range before {
			if a, ok := after[name]; ok && a != l && !slices.Contains(t.changed, name) {
				t.changed = append(t.changed, name)
			}
		}
	}
	t.added = without(newDecl, oldDecl)
	t.removed = without(oldDecl, newDecl)
	// The declaration the edit sits in: the nearest one above it in the
	// original file.
	if original != "" {
		at := -1
		if len(r.StructuredPatch) > 0 {
			h := r.StructuredPatch[0]
			at = h.OldStart - 1
			for _, l := range h.Lines { // skip the hunk's leading context
				if strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
					break
				}
				at++
			}
		} else if i := strings.Index(original, pairs[0][0]); pairs[0][0] != "" && i >= 0 {
			at = strings.Count(original[:i], "\n")
		}
		if at >= 0 {
			t.inside = enclosing(file, strings.Split(original, "\n"), at)
		}
	}
	if !prose(file) {
		changed := append(without(newIDs, oldIDs), without(oldIDs, newIDs)...)
		for _, id := range changed {
			if !slices.Contains(t.all(), id) && !slices.Contains(t.mentions, id) {
				t.mentions = append(t.mentions, id)
			}
		}
	}
	return t
}

// patchCounts counts the removed and added lines of a structured patch.
func patchCounts(r editResponse) (removed, added int) {
	for _, h := range r.StructuredPatch {
		for _, l := range h.Lines {
			switch {
			case strings.HasPrefix(l, "-"):
				removed++
			case strings.HasPrefix(l, "+"):
				added++
			}
		}
	}
	return removed, added
}

// Declarations by language: each pattern's last group is the name.
var (
	declGo     = regexp.MustCompile(`^\s*(?:func\s+(?:\([^)]*\)\s*)?|type\s+|(?:var|const)\s+)([A-Za-z_]\w*)`)
	declPy     = regexp.MustCompile(`^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)`)
	declJS     = regexp.MustCompile(`^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\s*\*?\s*|class\s+|interface\s+|type\s+|enum\s+|(?:const|let|var)\s+)([A-Za-z_$][\w$]*)`)
	declRust   = regexp.MustCompile(`^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?(?:fn|struct|enum|trait|mod|type|const|static)\s+([A-Za-z_]\w*)|^\s*impl(?:<[^>]*>)?\s+(?:[\w:<>]+\s+for\s+)?([A-Za-z_]\w*)`)
	declRuby   = regexp.MustCompile(`^\s*(?:def\s+(?:self\.)?|class\s+|module\s+)([A-Za-z_]\w*[?!]?)`)
	declC      = regexp.MustCompile(`^\s*(?:(?:public|private|protected|static|final|abstract|virtual|inline|extern|override|async|const|unsigned|signed)\s+)*(?:class|struct|interface|enum|record)\s+([A-Za-z_]\w*)|^[A-Za-z_][\w:<>,*&\s]*[\s*&]([A-Za-z_]\w*)\s*\([^;]*$`)
	declShell  = regexp.MustCompile(`^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{?`)
	declMD     = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	declOther  = regexp.MustCompile(`^\s*(?:def|func|fn|function|class|struct|interface|enum|trait|module)\s+([A-Za-z_]\w*)`)
	identRE    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	ctrlWordRE = regexp.MustCompile(`^(if|for|while|switch|return|else|catch|sizeof|do)$`)
)

func declPattern(file string) *regexp.Regexp {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".go":
		return declGo
	case ".py", ".pyi":
		return declPy
	case ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte":
		return declJS
	case ".rs":
		return declRust
	case ".rb":
		return declRuby
	case ".c", ".h", ".cc", ".cpp", ".hpp", ".cxx", ".java", ".cs", ".kt", ".scala", ".swift", ".m":
		return declC
	case ".sh", ".bash", ".zsh":
		return declShell
	case ".md", ".markdown", ".mdx", ".rst":
		return declMD
	}
	return declOther
}

// prose reports whether a file is text whose words are not identifiers.
func prose(file string) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".md", ".markdown", ".mdx", ".rst", ".txt", "":
		return true
	}
	return false
}

// declared lists the names a text declares, in order, each once: functions,
// types, classes… for code, section headings for Markdown.
func declared(file, text string) []string {
	re := declPattern(file)
	var out []string
	inFence := false
	for _, l := range strings.Split(text, "\n") {
		if re == declMD && strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if inFence {
			continue
		}
		if name := declName(re, l); name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// declLines maps each name a text declares to its declaring line.
func declLines(file, text string) map[string]string {
	re := declPattern(file)
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if name := declName(re, l); name != "" {
			m[name] = strings.TrimSpace(l)
		}
	}
	return m
}

func declName(re *regexp.Regexp, line string) string {
	m := re.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	for i := len(m) - 1; i > 0; i-- {
		if m[i] != "" {
			if ctrlWordRE.MatchString(m[i]) {
				return ""
			}
			return clip(m[i], 80)
		}
	}
	return ""
}

// enclosing is the nearest declaration at or above line at.
func enclosing(file string, lines []string, at int) string {
	re := declPattern(file)
	if at >= len(lines) {
		at = len(lines) - 1
	}
	for i := at; i >= 0; i-- {
		if name := declName(re, lines[i]); name != "" {
			return name
		}
	}
	return ""
}

// codeWords are keywords and literals that are not worth naming.
var codeWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`if else for while return func function def class struct type var let const
		import from package use pub fn impl self this true false nil null None True False new and or not in is
		switch case break continue default go defer range map chan interface string int bool error byte rune float64
		int64 uint64 async await try catch finally throw raise with as mut static void public private protected
		export module match enum trait where loop yield lambda pass elif end then do done fi echo`) {
		codeWords[w] = true
	}
}

// identifiers lists the identifiers of a code fragment worth naming (three
// characters or more, not keywords), each once.
func identifiers(file, text string) []string {
	var out []string
	for _, id := range identRE.FindAllString(text, -1) {
		if len(id) < 3 || codeWords[id] || slices.Contains(out, id) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// listNames joins up to max names, saying how many more there are.
func listNames(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

func declaresWord(file string) string {
	if declPattern(file) == declMD {
		return "sections"
	}
	return "declares"
}

// kindOf names a file's kind by its extension.
func kindOf(file string) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(file), "."))
	switch ext {
	case "":
		return "text"
	case "md", "markdown":
		return "Markdown"
	case "go":
		return "Go"
	case "py":
		return "Python"
	case "rs":
		return "Rust"
	case "js", "mjs", "cjs", "jsx":
		return "JavaScript"
	case "ts", "tsx":
		return "TypeScript"
	}
	return ext
}

func countLines(s string) int {
	if s == "" {
		return 0
	}
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

func bytesText(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%d KB", n>>10)
	case n == 1:
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// firstSentence cuts a message after its first sentence ("File does not
// exist. Note: …" → "File does not exist.").
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 10 {
		return s[:i+1]
	}
	return s
}
