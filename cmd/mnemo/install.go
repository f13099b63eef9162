package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

func init() {
	register("install", command{
		summary: "merge Mnemo's hooks and MCP server into Claude Code's settings: `mnemo install claude-code`",
		run:     runInstall,
	})
	register("uninstall", command{
		summary: "remove what `mnemo install claude-code` added: `mnemo uninstall claude-code`",
		run:     runUninstall,
	})
}

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

// installTarget says where the hooks and the MCP server go.
type installTarget struct {
	Settings string // Claude Code settings file (hooks)
	MCP      string // MCP server file; "" = leave MCP alone
	Exe      string // absolute path of the mnemo executable (the MCP server runs it)
	// HookExe is what the hooks run: mnemo-hook when it sits next to mnemo
	// (it starts several milliseconds faster), else mnemo itself.
	HookExe string
	Home    string // Mnemo's home: the install record lives there
	// ReplaceClaudeMem turns off claude-mem's plugin and hooks in Settings
	// (install --replace-claude-mem), so a session is not recorded twice.
	ReplaceClaudeMem bool
}

// parseInstallFlags reads install's and uninstall's arguments; flag.ErrHelp
// means help was asked for and printed.
func parseInstallFlags(name string, args []string, stdout, stderr io.Writer) (installTarget, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	scope := fs.String("scope", "user", "user (~/.claude/settings.json and ~/.claude.json) or project (.claude/settings.json and .mcp.json of the project)")
	settings := fs.String("settings", "", "the Claude Code settings file to change (overrides --scope for hooks)")
	mcpFile := fs.String("mcp-config", "", "the file holding mcpServers (overrides --scope for the MCP server)")
	noMCP := fs.Bool("no-mcp", false, "leave the MCP server configuration alone")
	exe := fs.String("exe", "", "the mnemo executable the MCP server (and, without mnemo-hook, the hooks) run (default: this one)")
	hookExe := fs.String("hook-exe", "", "the executable the hooks run (default: mnemo-hook next to mnemo when there is one, else mnemo)")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	var replaceCM *bool
	if name == "install" {
		replaceCM = fs.Bool("replace-claude-mem", false, "turn off claude-mem's plugin and hooks in the settings file, so a session is not recorded twice (uninstall turns them on again)")
	}
	usage := fmt.Sprintf("usage: mnemo %s claude-code [--scope user|project] [--settings PATH] [--mcp-config PATH] [--no-mcp]", name)
	if name == "install" {
		usage += " [--replace-claude-mem]"
	}
	if len(args) > 0 && hookcli.IsHelp(args[0]) {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, usage)
		fs.PrintDefaults()
		return installTarget{}, false, flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "claude-code" {
		return installTarget{}, false, errors.New(usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return installTarget{}, false, err
	}
	t, err := resolveInstallTarget(*scope, *settings, *mcpFile, *noMCP, *exe)
	if err != nil {
		return t, *dryRun, err
	}
	t.ReplaceClaudeMem = replaceCM != nil && *replaceCM
	t.HookExe, err = hookExecutable(t.Exe, *hookExe)
	return t, *dryRun, err
}

// resolveInstallTarget picks the files. User scope: hooks in
// ~/.claude/settings.json, the MCP server in ~/.claude.json (where
// `claude mcp add --scope user` puts it). Project scope: hooks in
// <project>/.claude/settings.json, the MCP server in <project>/.mcp.json
// (Claude Code asks the user to approve a project's MCP servers).
func resolveInstallTarget(scope, settings, mcpFile string, noMCP bool, exe string) (installTarget, error) {
	var t installTarget
	switch scope {
	case "user":
		home, err := os.UserHomeDir()
		if err != nil {
			return t, fmt.Errorf("home directory: %w", err)
		}
		t.Settings = filepath.Join(home, ".claude", "settings.json")
		t.MCP = filepath.Join(home, ".claude.json")
	case "project":
		cwd, err := os.Getwd()
		if err != nil {
			return t, fmt.Errorf("working directory: %w", err)
		}
		root := cwd
		if r, _, ok := hook.GitRoot(cwd); ok {
			root = r
		}
		t.Settings = filepath.Join(root, ".claude", "settings.json")
		t.MCP = filepath.Join(root, ".mcp.json")
	default:
		return t, fmt.Errorf("--scope is %q: want user or project", scope)
	}
	if settings != "" {
		t.Settings = settings
	}
	if mcpFile != "" {
		t.MCP = mcpFile
	}
	if noMCP {
		t.MCP = ""
	}
	var err error
	if t.Settings, err = filepath.Abs(t.Settings); err != nil {
		return t, err
	}
	if t.MCP != "" {
		if t.MCP, err = filepath.Abs(t.MCP); err != nil {
			return t, err
		}
	}
	if exe == "" {
		if exe, err = mnemoExecutable(); err != nil {
			return t, err
		}
	}
	if t.Exe, err = filepath.Abs(exe); err != nil {
		return t, err
	}
	t.Home = config.Home()
	return t, nil
}

// mnemoExecutable is the absolute path to run this mnemo by: the path it was
// started by when that is the same file (a stable symlink such as
// /usr/local/bin/mnemo survives upgrades), else the resolved executable.
func mnemoExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the mnemo executable: %w", err)
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if p, err = filepath.Abs(p); err == nil {
			a, errA := os.Stat(p)
			b, errB := os.Stat(exe)
			if errA == nil && errB == nil && os.SameFile(a, b) {
				return p, nil
			}
		}
	}
	return exe, nil
}

// hookExecutable picks what the hooks run: the flag's value, else
// mnemo-hook next to the mnemo executable, else mnemo itself.
func hookExecutable(exe, flagValue string) (string, error) {
	if flagValue != "" {
		p, err := filepath.Abs(flagValue)
		if err != nil {
			return "", err
		}
		if !isMnemoExe(p) {
			return "", fmt.Errorf("--hook-exe %s is not a mnemo or mnemo-hook executable", p)
		}
		return p, nil
	}
	small := filepath.Join(filepath.Dir(exe), "mnemo-hook")
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return small, nil
	}
	return exe, nil
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

// installRecord remembers, per changed file, which containers install
// created, so that uninstall removes those and nothing the user had (an
// empty "hooks" or "mcpServers" object stays when it was there before).
type installRecord struct {
	Files map[string]*fileRecord `json:"files"`
}

type fileRecord struct {
	CreatedFile bool     `json:"created_file,omitempty"`
	Created     []string `json:"created,omitempty"`
	// ClaudeMem is what --replace-claude-mem turned off in the file.
	ClaudeMem *claudeMemRecord `json:"claude_mem,omitempty"`
}

func recordPath(home string) string { return filepath.Join(home, "install", "claude-code.json") }

func loadInstallRecord(home string) *installRecord {
	r := &installRecord{Files: map[string]*fileRecord{}}
	if b, err := os.ReadFile(recordPath(home)); err == nil {
		_ = json.Unmarshal(b, r)
		if r.Files == nil {
			r.Files = map[string]*fileRecord{}
		}
	}
	return r
}

func (r *installRecord) save(home string) error {
	if err := os.MkdirAll(filepath.Dir(recordPath(home)), 0o700); err != nil {
		return fmt.Errorf("install record: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("install record: %w", err)
	}
	return writeFileAtomic(recordPath(home), append(b, '\n'), 0o600)
}

// installHooks merges Mnemo's hooks into a settings document. It returns the
// new document and the containers it created ("hooks", "hooks/<Event>").
func installHooks(b []byte, exe string) ([]byte, []string, error) {
	var created []string
	root, err := parseSpans(b)
	if err != nil {
		return nil, nil, err
	}
	if root.kind != '{' {
		return nil, nil, errors.New("the settings file is not a JSON object")
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
	root, err := parseSpans(b)
	if err != nil {
		return nil, false, err
	}
	hooks, _ := root.member("hooks")
	if root.kind != '{' || hooks == nil || hooks.kind != '{' {
		return b, false, nil
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
	root, err := parseSpans(b)
	if err != nil {
		return nil, nil, err
	}
	if root.kind != '{' {
		return nil, nil, errors.New("the MCP config file is not a JSON object")
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
	root, err := parseSpans(b)
	if err != nil {
		return nil, false, err
	}
	servers, _ := root.member("mcpServers")
	if root.kind != '{' || servers == nil || servers.kind != '{' {
		return b, false, nil
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

// readSettings reads a JSON settings file; a missing (or empty) file reads as
// an empty object.
func readSettings(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []byte("{}\n"), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}\n"), true, nil
	}
	return b, true, nil
}

// writeSettings replaces path with b, keeping a backup of the previous
// content in <path>.mnemo.bak and the file's mode.
func writeSettings(path string, old, b []byte, existed bool) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if existed {
		if err := writeFileAtomic(path+".mnemo.bak", old, mode); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return writeFileAtomic(path, b, mode)
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// (Claude Code) never sees half a file.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
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

// claudeMem is what install --replace-claude-mem turned off in the file, or nil.
func (fr *fileRecord) claudeMem() *claudeMemRecord {
	if fr == nil {
		return nil
	}
	return fr.ClaudeMem
}

func isEmptyObject(b []byte) bool {
	var m map[string]any
	return json.Unmarshal(b, &m) == nil && len(m) == 0
}

func runInstall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	t, dryRun, err := parseInstallFlags("install", args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return &exit.Error{Code: 2, Err: err}
	}
	changed, cm, err := installClaudeCode(t, dryRun)
	if err != nil {
		return err
	}
	switch {
	case cm.any() && t.ReplaceClaudeMem && dryRun:
		fmt.Fprintf(stdout, "would turn off claude-mem's %s in %s\n", cm, t.Settings)
	case cm.any() && t.ReplaceClaudeMem:
		fmt.Fprintf(stdout, "turned off claude-mem's %s in %s; `mnemo uninstall claude-code` turns it back on\n", cm, t.Settings)
	case cm.any():
		fmt.Fprintln(stdout, claudeMemNotice(t.Settings, cm))
	}
	for _, n := range otherSettingsNotes(t.Settings, claudeSettingsFiles()) {
		fmt.Fprintln(stdout, n)
	}
	if len(changed) == 0 {
		fmt.Fprintf(stdout, "Mnemo's hooks are already in %s; nothing changed.\n", t.Settings)
		return nil
	}
	verb := "updated"
	if dryRun {
		verb = "would update"
	}
	for _, p := range changed {
		fmt.Fprintf(stdout, "%s %s (backup: %s.mnemo.bak)\n", verb, p, p)
	}
	fmt.Fprintf(stdout, "hooks run %s; check the whole path with `mnemo doctor`.\n", hookCommandLine(t.HookExe, "<event>"))
	return nil
}

func runUninstall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	t, dryRun, err := parseInstallFlags("uninstall", args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return &exit.Error{Code: 2, Err: err}
	}
	changed, notes, err := uninstallClaudeCode(t, dryRun)
	if err != nil {
		return err
	}
	if !dryRun {
		for _, n := range notes {
			fmt.Fprintln(stdout, n)
		}
	}
	if len(changed) == 0 {
		fmt.Fprintf(stdout, "no Mnemo hooks found in %s; nothing changed.\n", t.Settings)
		return nil
	}
	verb := "removed Mnemo from"
	if dryRun {
		verb = "would remove Mnemo from"
	}
	for _, p := range changed {
		fmt.Fprintf(stdout, "%s %s\n", verb, p)
	}
	return nil
}
