package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// claude-mem records Claude Code sessions through a plugin
// (enabledPlugins "claude-mem@thedotmack") or, in older or hand-made
// setups, hooks in the settings file that run its scripts. Both beside
// Mnemo's hooks record every session twice, so install says so, and
// --replace-claude-mem turns them off; uninstall turns them on again.

// claudeMemPluginPrefix starts the enabledPlugins key of claude-mem's
// plugin, whatever marketplace it came from ("claude-mem@thedotmack").
const claudeMemPluginPrefix = "claude-mem@"

// claudeMemRecord is what --replace-claude-mem changed in a settings file.
// Before and After are the file without Mnemo's own entries, before and
// after the change: uninstall puts Before back, byte for byte, when it finds
// After. When the file changed since, the plugins are turned on again and the
// hooks appended where they were, in Mnemo's formatting.
type claudeMemRecord struct {
	Before  string        `json:"before"`
	After   string        `json:"after"`
	Plugins []string      `json:"plugins,omitempty"` // enabledPlugins keys turned from true to false
	Hooks   []removedHook `json:"hooks,omitempty"`   // hook commands removed
}

// removedHook is one of claude-mem's hook commands, with the matcher of the
// group it was in.
type removedHook struct {
	Event   string          `json:"event"`
	Matcher string          `json:"matcher,omitempty"`
	Hook    json.RawMessage `json:"hook"`
}

// claudeMemFound is what of claude-mem a settings file turns on.
type claudeMemFound struct {
	Plugins []string // enabledPlugins keys set to true
	Hooks   int      // hook commands running claude-mem
}

func (f claudeMemFound) any() bool { return len(f.Plugins) > 0 || f.Hooks > 0 }

// String names what was found, e.g. "plugin claude-mem@thedotmack and 5 hooks".
func (f claudeMemFound) String() string {
	var parts []string
	if len(f.Plugins) > 0 {
		parts = append(parts, "plugin "+strings.Join(f.Plugins, ", "))
	}
	if f.Hooks > 0 {
		parts = append(parts, fmt.Sprintf("%d hook command(s)", f.Hooks))
	}
	return strings.Join(parts, " and ")
}

// isClaudeMemHookCommand reports whether a hook command runs claude-mem: its
// scripts live in a directory named for it (the plugin cache
// .../thedotmack/claude-mem/<version>/, ~/.claude-mem), and its hooks run
// its worker-service.cjs. Mnemo's own hooks never count.
func isClaudeMemHookCommand(cmd string) bool {
	if isMnemoHookCommand(cmd) {
		return false
	}
	c := strings.ToLower(cmd)
	return strings.Contains(c, "claude-mem") || strings.Contains(c, "worker-service.cjs")
}

// hookCommandNodes returns, for one matcher group of hooks.<Event>, the
// nodes of its "hooks" array and the commands they run.
func hookCommandNodes(b []byte, group *jnode) (*jnode, []string) {
	if group.kind != '{' {
		return nil, nil
	}
	arr, _ := group.member("hooks")
	if arr == nil || arr.kind != '[' {
		return nil, nil
	}
	cmds := make([]string, len(arr.elems))
	for i, el := range arr.elems {
		var h hookCommand
		if el.kind == '{' && decodeSpan(b, el, &h) == nil {
			cmds[i] = h.Command
		}
	}
	return arr, cmds
}

// findClaudeMem reports the claude-mem plugin and hooks a settings document
// turns on.
func findClaudeMem(b []byte) (claudeMemFound, error) {
	var f claudeMemFound
	root, err := parseSpans(b)
	if err != nil {
		return f, err
	}
	if root.kind != '{' {
		return f, nil
	}
	if plugins, _ := root.member("enabledPlugins"); plugins != nil && plugins.kind == '{' {
		for _, m := range plugins.members {
			if strings.HasPrefix(m.key, claudeMemPluginPrefix) && string(b[m.val.start:m.val.end]) == "true" {
				f.Plugins = append(f.Plugins, m.key)
			}
		}
	}
	if hooks, _ := root.member("hooks"); hooks != nil && hooks.kind == '{' {
		for _, ev := range hooks.members {
			if ev.val.kind != '[' {
				continue
			}
			for _, group := range ev.val.elems {
				_, cmds := hookCommandNodes(b, group)
				for _, c := range cmds {
					if isClaudeMemHookCommand(c) {
						f.Hooks++
					}
				}
			}
		}
	}
	return f, nil
}

// turnOffClaudeMem sets claude-mem's plugins to false and removes its hook
// commands (a matcher group left with none goes too). It returns the new
// document and what it changed.
func turnOffClaudeMem(b []byte) ([]byte, claudeMemRecord, error) {
	var rec claudeMemRecord
	f, err := findClaudeMem(b)
	if err != nil {
		return nil, rec, err
	}
	for _, key := range f.Plugins {
		root, _ := parseSpans(b)
		plugins, _ := root.member("enabledPlugins")
		v, _ := plugins.member(key)
		b = splice(b, v.start, v.end, "false")
		rec.Plugins = append(rec.Plugins, key)
	}
	for {
		root, _ := parseSpans(b)
		hooks, _ := root.member("hooks")
		if hooks == nil || hooks.kind != '{' {
			break
		}
		cut := false
	events:
		for _, ev := range hooks.members {
			if ev.val.kind != '[' {
				continue
			}
			for _, group := range ev.val.elems {
				arr, cmds := hookCommandNodes(b, group)
				i := slices.IndexFunc(cmds, isClaudeMemHookCommand)
				if i < 0 {
					continue
				}
				var matcher string
				if m, _ := group.member("matcher"); m != nil {
					_ = decodeSpan(b, m, &matcher)
				}
				rec.Hooks = append(rec.Hooks, removedHook{Event: ev.key, Matcher: matcher,
					Hook: json.RawMessage(compactJSON(b[arr.elems[i].start:arr.elems[i].end]))})
				if len(arr.elems) == 1 {
					b = removeElem(b, ev.val, slices.Index(ev.val.elems, group))
				} else {
					b = removeElem(b, arr, i)
				}
				cut = true
				break events
			}
		}
		if !cut {
			break
		}
	}
	return b, rec, nil
}

func compactJSON(raw []byte) []byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

// restoreClaudeMem undoes turnOffClaudeMem on b (a document without Mnemo's
// entries): rec.Before when b is rec.After, else the plugins turned on
// again and the hooks appended. exact reports the first.
func restoreClaudeMem(b []byte, rec *claudeMemRecord) (out []byte, exact bool, err error) {
	if string(b) == rec.After {
		return []byte(rec.Before), true, nil
	}
	for _, key := range rec.Plugins {
		root, err := parseObject(b, "the settings file")
		if err != nil {
			return nil, false, err
		}
		plugins, _ := root.member("enabledPlugins")
		if plugins == nil {
			if b, err = appendMember(b, root, "enabledPlugins", map[string]bool{key: true}); err != nil {
				return nil, false, err
			}
			continue
		}
		if plugins.kind != '{' {
			return nil, false, errors.New(`"enabledPlugins" is not a JSON object`)
		}
		if v, _ := plugins.member(key); v == nil {
			b, err = appendMember(b, plugins, key, true)
		} else if string(b[v.start:v.end]) == "false" {
			b = splice(b, v.start, v.end, "true")
		}
		if err != nil {
			return nil, false, err
		}
	}
	for _, h := range rec.Hooks {
		root, err := parseSpans(b)
		if err != nil {
			return nil, false, err
		}
		hooks, _ := root.member("hooks")
		if hooks == nil {
			if b, err = appendMember(b, root, "hooks", struct{}{}); err != nil {
				return nil, false, err
			}
			root, _ = parseSpans(b)
			hooks, _ = root.member("hooks")
		}
		if hooks.kind != '{' {
			return nil, false, errors.New(`"hooks" is not a JSON object`)
		}
		arr, _ := hooks.member(h.Event)
		if arr == nil {
			if b, err = appendMember(b, hooks, h.Event, []any{}); err != nil {
				return nil, false, err
			}
			root, _ = parseSpans(b)
			hooks, _ = root.member("hooks")
			arr, _ = hooks.member(h.Event)
		}
		if arr.kind != '[' {
			return nil, false, fmt.Errorf(`"hooks.%s" is not a JSON array`, h.Event)
		}
		group := struct {
			Matcher string            `json:"matcher,omitempty"`
			Hooks   []json.RawMessage `json:"hooks"`
		}{h.Matcher, []json.RawMessage{h.Hook}}
		if b, err = appendElem(b, arr, group); err != nil {
			return nil, false, err
		}
	}
	return b, false, nil
}

// claudeMemNotice is install's one line about claude-mem found in path.
func claudeMemNotice(path string, f claudeMemFound) string {
	return fmt.Sprintf("claude-mem's %s in %s record(s) every session too, so each would be recorded twice: "+
		"run this install again with --replace-claude-mem to turn claude-mem off (uninstall turns it back on).", f, path)
}

// otherSettingsNotes names, for install, the Claude Code settings files
// other than the one it changes (changed; files as claudeSettingsFiles lists
// them) that already run Mnemo's hooks or claude-mem: Claude Code runs the
// hooks of the user's, the project's and the local settings together, so
// either would record each session a second time.
func otherSettingsNotes(changed string, files []string) []string {
	var notes []string
	cfi, cerr := os.Stat(changed)
	for _, f := range distinctFiles(files) {
		if f == changed {
			continue
		}
		if fi, err := os.Stat(f); err != nil || (cerr == nil && os.SameFile(fi, cfi)) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			notes = append(notes, fmt.Sprintf("could not read %s to look for other hooks: %v", f, err))
			continue
		}
		if cmds, err := mnemoHookCommands(b); err == nil && len(cmds) > 0 {
			notes = append(notes, fmt.Sprintf("Mnemo's hooks are also in %s, and Claude Code runs both files' hooks, so each event "+
				"would be sent twice: remove that copy with `mnemo uninstall claude-code --settings %s`", f, f))
		}
		if cm, err := findClaudeMem(b); err == nil && cm.any() {
			notes = append(notes, fmt.Sprintf("claude-mem's %s in %s record(s) every session too, so each would be recorded twice: "+
				"set its enabledPlugins entry to false and remove its hooks there (`mnemo doctor` says so until it is off)", cm, f))
		}
	}
	return notes
}
