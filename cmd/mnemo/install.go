// The settings edits of `mnemo install claude-code`: Mnemo's hooks and MCP
// server merged into (and removed from) a settings document, byte for byte
// outside what changes. The command line is in install_cmd.go; file IO in
// install_files.go.

package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// claudeCodeHook is one hook Mnemo installs.
type claudeCodeHook struct {
	Event   string
	Matcher string
}

// claudeCodeHooks are the hooks `mnemo install claude-code` adds. SessionStart
// has no matcher: every source is recorded, and the hook itself leaves out the
// context on resume (Claude Code re-sends the earlier one).
var claudeCodeHooks = []claudeCodeHook{
	{Event: "SessionStart"},
	{Event: "UserPromptSubmit"},
	{Event: "PostToolUse"},
	{Event: "PostToolUseFailure"},
	{Event: "PreToolUse", Matcher: "Read"},
	{Event: "Stop"},
	{Event: "SessionEnd"},
}

// hookTimeoutSeconds is the timeout Claude Code gives each Mnemo hook: far
// above what it needs, only a bound should it ever hang.
const hookTimeoutSeconds = 10

// mcpServerName is the key of Mnemo's MCP server in mcpServers.
const mcpServerName = "mnemo"

// hookEntry is one matcher group of a settings file's hooks.<Event> array.
type hookEntry struct {
	Matcher string        `json:"matcher,omitempty"`
	Hooks   []hookCommand `json:"hooks"`
}

type hookCommand struct {
	Type    string `json:"type"`
	Command string `json:"command"`
	Timeout int    `json:"timeout,omitempty"`
}

// mcpServer is Mnemo's entry in mcpServers.
type mcpServer struct {
	Type    string   `json:"type"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

// hookCommandLine is the command Claude Code runs for an event (through bash).
func hookCommandLine(exe, eventName string) string {
	return shellQuote(exe) + " hook claude-code " + eventName
}

func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+:@%=,", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWords splits a command line the way hookCommandLine builds it (plain
// words and single-quoted words).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == '"':
			// double quotes: take the text up to the next one
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// mnemoPrograms are the Go package paths of the executables that run
// Mnemo's hooks and MCP server, as their build information names them.
var mnemoPrograms = []string{"github.com/mnemo-dev/mnemo/cmd/mnemo", "github.com/mnemo-dev/mnemo/pkg/hook/cmd/mnemo-hook"}

var (
	mnemoBinaryMu    sync.Mutex
	mnemoBinaryCache = map[string]bool{}
)

// isMnemoExe reports whether a command word runs a mnemo executable: one
// whose Go build information says it is mnemo or mnemo-hook, whatever the
// file is called; a file that cannot be read (gone, not a Go program) counts
// when it is named mnemo or mnemo-<something>.
func isMnemoExe(word string) bool {
	mnemoBinaryMu.Lock()
	defer mnemoBinaryMu.Unlock()
	if v, ok := mnemoBinaryCache[word]; ok {
		return v
	}
	v := false
	if info, err := buildinfo.ReadFile(word); err == nil {
		v = slices.Contains(mnemoPrograms, info.Path)
	} else {
		base := strings.ToLower(filepath.Base(word))
		v = base == "mnemo" || base == "mnemo.exe" || strings.HasPrefix(base, "mnemo-") || strings.HasPrefix(base, "mnemo_")
	}
	mnemoBinaryCache[word] = v
	return v
}

// isMnemoHookCommand reports whether a hook command is one Mnemo installed,
// by what it runs: `<exe> hook claude-code <Event>` where exe is a mnemo
// executable (see isMnemoExe), whatever its path and name.
func isMnemoHookCommand(cmd string) bool {
	w := shellWords(cmd)
	return len(w) == 4 && w[1] == "hook" && w[2] == "claude-code" && isMnemoExe(w[0])
}

// isMnemoEntry reports whether a hooks array element is Mnemo's: one command
// hook running mnemo.
func isMnemoEntry(b []byte, n *jnode) bool {
	if n.kind != '{' {
		return false
	}
	var e struct {
		Hooks []hookCommand `json:"hooks"`
	}
	if decodeSpan(b, n, &e) != nil || len(e.Hooks) != 1 {
		return false
	}
	return isMnemoHookCommand(e.Hooks[0].Command)
}

// installHooks merges Mnemo's hooks into a settings document. It returns the
// new document and the containers it created ("hooks", "hooks/<Event>").
func installHooks(b []byte, exe string) ([]byte, []string, error) {
	var created []string
	root, err := parseObject(b, "the settings file")
	if err != nil {
		return nil, nil, err
	}
	if h, _ := root.member("hooks"); h == nil {
		if b, err = appendMember(b, root, "hooks", struct{}{}); err != nil {
			return nil, nil, err
		}
		created = append(created, "hooks")
	} else if h.kind != '{' {
		return nil, nil, errors.New(`"hooks" is not a JSON object`)
	}
	for _, spec := range claudeCodeHooks {
		want := hookEntry{Matcher: spec.Matcher, Hooks: []hookCommand{{
			Type: "command", Command: hookCommandLine(exe, spec.Event), Timeout: hookTimeoutSeconds,
		}}}
		root, _ = parseSpans(b)
		hooks, _ := root.member("hooks")
		arr, _ := hooks.member(spec.Event)
		if arr == nil {
			if b, err = appendMember(b, hooks, spec.Event, []any{}); err != nil {
				return nil, nil, err
			}
			created = append(created, "hooks/"+spec.Event)
			root, _ = parseSpans(b)
			hooks, _ = root.member("hooks")
			arr, _ = hooks.member(spec.Event)
		}
		if arr.kind != '[' {
			return nil, nil, fmt.Errorf(`"hooks.%s" is not a JSON array`, spec.Event)
		}
		var ours []int
		for i, el := range arr.elems {
			if isMnemoEntry(b, el) {
				ours = append(ours, i)
			}
		}
		if len(ours) == 0 {
			if b, err = appendElem(b, arr, want); err != nil {
				return nil, nil, err
			}
			continue
		}
		// Drop duplicates (last first, so the indices stay right), then
		// update the first one if it differs.
		for k := len(ours) - 1; k >= 1; k-- {
			b = removeElem(b, arr, ours[k])
			root, _ = parseSpans(b)
			hooks, _ = root.member("hooks")
			arr, _ = hooks.member(spec.Event)
		}
		if !sameJSON(b[arr.elems[ours[0]].start:arr.elems[ours[0]].end], want) {
			if b, err = replaceValue(b, arr.elems[ours[0]], want); err != nil {
				return nil, nil, err
			}
		}
	}
	return b, created, nil
}

// sameJSON reports whether raw encodes the same value as v.
func sameJSON(raw []byte, v any) bool {
	enc, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal(enc, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// uninstallHooks removes every Mnemo hook entry. Containers left empty are
// removed when install created them (rec), or, without a record, always.
func uninstallHooks(b []byte, rec *fileRecord) ([]byte, bool, error) {
	root, hooks, err := objectMember(b, "hooks")
	if err != nil || hooks == nil {
		return b, false, err // b unchanged: unparsable, or nothing of Mnemo's
	}
	createdOrUnknown := func(name string) bool { return rec == nil || slices.Contains(rec.Created, name) }
	var events []string
	for _, m := range hooks.members {
		events = append(events, m.key)
	}
	removedAny := false
	for _, ev := range events {
		removed := false
		for {
			root, _ = parseSpans(b)
			hooks, _ = root.member("hooks")
			arr, _ := hooks.member(ev)
			if arr == nil || arr.kind != '[' {
				break
			}
			idx := slices.IndexFunc(arr.elems, func(el *jnode) bool { return isMnemoEntry(b, el) })
			if idx < 0 {
				break
			}
			b = removeElem(b, arr, idx)
			removed = true
		}
		if !removed {
			continue
		}
		removedAny = true
		root, _ = parseSpans(b)
		hooks, _ = root.member("hooks")
		if arr, i := hooks.member(ev); arr != nil && len(arr.elems) == 0 && createdOrUnknown("hooks/"+ev) {
			b = removeMember(b, hooks, i)
		}
	}
	if removedAny {
		root, _ = parseSpans(b)
		if hooks, i := root.member("hooks"); hooks != nil && len(hooks.members) == 0 && createdOrUnknown("hooks") {
			b = removeMember(b, root, i)
		}
	}
	return b, removedAny, nil
}

// installMCP adds (or updates) Mnemo's MCP server in a document holding
// mcpServers. An mcpServers.mnemo that runs something else is an error.
func installMCP(b []byte, exe string) ([]byte, []string, error) {
	var created []string
	root, err := parseObject(b, "the MCP config file")
	if err != nil {
		return nil, nil, err
	}
	want := mcpServer{Type: "stdio", Command: exe, Args: []string{"mcp"}}
	servers, _ := root.member("mcpServers")
	if servers == nil {
		if b, err = appendMember(b, root, "mcpServers", struct{}{}); err != nil {
			return nil, nil, err
		}
		created = append(created, "mcpServers")
		root, _ = parseSpans(b)
		servers, _ = root.member("mcpServers")
	}
	if servers.kind != '{' {
		return nil, nil, errors.New(`"mcpServers" is not a JSON object`)
	}
	cur, _ := servers.member(mcpServerName)
	if cur == nil {
		b, err = appendMember(b, servers, mcpServerName, want)
		return b, created, err
	}
	if !isMnemoServer(b, cur) {
		return nil, nil, fmt.Errorf("mcpServers.%s exists and does not run mnemo: remove it or install with --no-mcp", mcpServerName)
	}
	if sameJSON(b[cur.start:cur.end], want) {
		return b, created, nil
	}
	b, err = replaceValue(b, cur, want)
	return b, created, err
}

func isMnemoServer(b []byte, n *jnode) bool {
	var s mcpServer
	return n.kind == '{' && decodeSpan(b, n, &s) == nil && isMnemoExe(s.Command) && slices.Equal(s.Args, []string{"mcp"})
}

// uninstallMCP removes Mnemo's MCP server; an emptied mcpServers goes only
// when install created it (Claude Code keeps its own empty one).
func uninstallMCP(b []byte, rec *fileRecord) ([]byte, bool, error) {
	root, servers, err := objectMember(b, "mcpServers")
	if err != nil || servers == nil {
		return b, false, err // b unchanged: unparsable, or nothing of Mnemo's
	}
	cur, i := servers.member(mcpServerName)
	if cur == nil || !isMnemoServer(b, cur) {
		return b, false, nil
	}
	b = removeMember(b, servers, i)
	if rec != nil && slices.Contains(rec.Created, "mcpServers") {
		root, _ = parseSpans(b)
		if servers, j := root.member("mcpServers"); servers != nil && len(servers.members) == 0 {
			b = removeMember(b, root, j)
		}
	}
	return b, true, nil
}

// fileEdit is one file's change.
type fileEdit struct {
	path    string
	existed bool
	old, b  []byte
	created []string
	// mid is old with claude-mem turned off (claudeMem says what), before
	// Mnemo's entries were added.
	mid       []byte
	claudeMem *claudeMemRecord
}

// installClaudeCode merges the hooks and the MCP server into the target's
// files. It is idempotent: a second run changes nothing. It returns the
// files it changed, and claude-mem's plugin and hooks found on in the
// settings file (turned off with t.ReplaceClaudeMem).
func installClaudeCode(t installTarget, dryRun bool) ([]string, claudeMemFound, error) {
	var edits []fileEdit
	var cm claudeMemFound
	old, existed, err := readSettings(t.Settings)
	if err != nil {
		return nil, cm, err
	}
	hookExe := t.HookExe
	if hookExe == "" {
		hookExe = t.Exe
	}
	if cm, err = findClaudeMem(old); err != nil {
		return nil, cm, fmt.Errorf("%s: %w", t.Settings, err)
	}
	mid := old
	var cmRec *claudeMemRecord
	if t.ReplaceClaudeMem && cm.any() {
		var r claudeMemRecord
		if mid, r, err = turnOffClaudeMem(old); err != nil {
			return nil, cm, fmt.Errorf("%s: %w", t.Settings, err)
		}
		cmRec = &r
	}
	b, created, err := installHooks(mid, hookExe)
	if err != nil {
		return nil, cm, fmt.Errorf("%s: %w", t.Settings, err)
	}
	edits = append(edits, fileEdit{path: t.Settings, existed: existed, old: old, b: b, created: created, claudeMem: cmRec, mid: mid})
	if t.MCP != "" {
		if t.MCP == t.Settings {
			return nil, cm, errors.New("the hooks and the MCP server need two different files")
		}
		old, existed, err := readSettings(t.MCP)
		if err != nil {
			return nil, cm, err
		}
		b, created, err := installMCP(old, t.Exe)
		if err != nil {
			return nil, cm, fmt.Errorf("%s: %w", t.MCP, err)
		}
		edits = append(edits, fileEdit{path: t.MCP, existed: existed, old: old, b: b, created: created})
	}
	var changed []string
	rec := loadInstallRecord(t.Home)
	for _, e := range edits {
		if e.existed && bytes.Equal(e.old, e.b) {
			continue
		}
		changed = append(changed, e.path)
		if dryRun {
			continue
		}
		fr := rec.Files[e.path]
		if fr == nil {
			fr = &fileRecord{CreatedFile: !e.existed}
			rec.Files[e.path] = fr
		}
		for _, c := range e.created {
			if !slices.Contains(fr.Created, c) {
				fr.Created = append(fr.Created, c)
			}
		}
		if e.claudeMem != nil {
			if err := recordClaudeMem(fr, e); err != nil {
				return changed, cm, fmt.Errorf("%s: %w", e.path, err)
			}
		}
		if err := rec.save(t.Home); err != nil {
			return changed, cm, err
		}
		if err := writeSettings(e.path, e.old, e.b, e.existed); err != nil {
			return changed, cm, fmt.Errorf("%s: %w", e.path, err)
		}
	}
	return changed, cm, nil
}

// recordClaudeMem keeps in fr what turning claude-mem off changed: the
// document without Mnemo's entries (as uninstall will see it) before and
// after. An earlier record whose After is this Before is extended, so the
// first Before is what uninstall restores.
func recordClaudeMem(fr *fileRecord, e fileEdit) error {
	before, _, err := uninstallHooks(e.old, fr)
	if err != nil {
		return err
	}
	after, _, err := uninstallHooks(e.mid, fr)
	if err != nil {
		return err
	}
	r := *e.claudeMem
	r.Before, r.After = string(before), string(after)
	if prev := fr.ClaudeMem; prev != nil && prev.After == r.Before {
		r.Before = prev.Before
		r.Plugins = append(slices.Clone(prev.Plugins), r.Plugins...)
		r.Hooks = append(slices.Clone(prev.Hooks), r.Hooks...)
	}
	fr.ClaudeMem = &r
	return nil
}

// uninstallClaudeCode removes exactly what install added, and turns on
// again what install --replace-claude-mem turned off. It returns the files
// it changed and what it has to say about claude-mem.
func uninstallClaudeCode(t installTarget, dryRun bool) ([]string, []string, error) {
	rec := loadInstallRecord(t.Home)
	var changed, notes []string
	for _, f := range []struct {
		path   string
		remove func([]byte, *fileRecord) ([]byte, bool, error)
	}{{t.Settings, uninstallHooks}, {t.MCP, uninstallMCP}} {
		if f.path == "" {
			continue
		}
		old, existed, err := readSettings(f.path)
		if err != nil {
			return changed, notes, err
		}
		if !existed {
			continue
		}
		fr := rec.Files[f.path]
		b, removed, err := f.remove(old, fr)
		if err != nil {
			return changed, notes, fmt.Errorf("%s: %w", f.path, err)
		}
		if cm := fr.claudeMem(); cm != nil && f.path == t.Settings {
			restored, exact, err := restoreClaudeMem(b, cm)
			if err != nil {
				return changed, notes, fmt.Errorf("%s: turning claude-mem on again: %w", f.path, err)
			}
			removed = removed || !bytes.Equal(restored, b)
			b = restored
			if exact {
				notes = append(notes, fmt.Sprintf("claude-mem turned on again in %s, as it was before install", f.path))
			} else {
				notes = append(notes, fmt.Sprintf("claude-mem turned on again in %s (the file changed since install, so its hooks are appended in Mnemo's formatting)", f.path))
			}
		}
		if !removed {
			continue
		}
		changed = append(changed, f.path)
		if dryRun {
			continue
		}
		if fr != nil && fr.CreatedFile && isEmptyObject(b) {
			if err := os.Remove(f.path); err != nil {
				return changed, notes, err
			}
		} else if err := writeSettings(f.path, old, b, true); err != nil {
			return changed, notes, fmt.Errorf("%s: %w", f.path, err)
		}
		delete(rec.Files, f.path)
		if err := rec.save(t.Home); err != nil {
			return changed, notes, err
		}
	}
	return changed, notes, nil
}

func isEmptyObject(b []byte) bool {
	var m map[string]any
	return json.Unmarshal(b, &m) == nil && len(m) == 0
}
