package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const userSettings = `{
  "model": "opus",
  "hooks": {
    "PostToolUse": [
      {
        "matcher": "Write|Edit",
        "hooks": [
          { "type": "command", "command": "prettier --write \"$CLAUDE_FILE_PATHS\"" }
        ]
      }
    ],
    "Stop": [
      { "hooks": [ { "type": "command", "command": "notify-send done" } ] }
    ]
  },
  "permissions": { "allow": ["Bash(go test:*)"] }
}
`

const claudeJSON = `{
  "numStartups": 12,
  "mcpServers": {
    "github": { "command": "gh-mcp", "args": [] }
  }
}
`

func mnemoCmd(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	return runIn(t, "", mnemoBin, append([]string{"MNEMO_LLM_PROVIDER=offline"}, env...), args...) // pinned unless env names one
}

// Install on copies of real settings with unrelated hooks: idempotent, a
// backup written, other hooks and keys kept; uninstall restores both files
// byte for byte.
func TestInstallUninstallRoundTrip(t *testing.T) {
	dir := t.TempDir()
	settings, mcpFile := filepath.Join(dir, "settings.json"), filepath.Join(dir, "claude.json")
	os.WriteFile(settings, []byte(userSettings), 0o644)
	os.WriteFile(mcpFile, []byte(claudeJSON), 0o644)
	env := []string{"MNEMO_HOME=" + filepath.Join(dir, "home")}
	args := []string{"claude-code", "--settings", settings, "--mcp-config", mcpFile, "--exe", "/opt/mnemo/bin/mnemo"}

	out, code := mnemoCmd(t, env, append([]string{"install"}, args...)...)
	if code != 0 || !strings.Contains(out, "updated "+settings+" (backup: "+settings+".mnemo.bak)\n") {
		t.Fatalf("install: %d %s", code, out)
	}
	after, _ := os.ReadFile(settings)
	for _, want := range []string{"prettier --write", "notify-send done", `"Bash(go test:*)"`,
		"/opt/mnemo/bin/mnemo hook claude-code SessionStart", "/opt/mnemo/bin/mnemo hook claude-code PostToolUse",
		"/opt/mnemo/bin/mnemo hook claude-code Stop", `"matcher": "Read"`} {
		if !strings.Contains(string(after), want) {
			t.Errorf("installed settings lack %q:\n%s", want, after)
		}
	}
	mcp, _ := os.ReadFile(mcpFile)
	if !strings.Contains(string(mcp), `"mnemo"`) || !strings.Contains(string(mcp), "gh-mcp") {
		t.Errorf("MCP config %s", mcp)
	}
	if b, err := os.ReadFile(settings + ".mnemo.bak"); err != nil || string(b) != userSettings {
		t.Errorf("no faithful backup: %v", err)
	}
	out, code = mnemoCmd(t, env, append([]string{"install"}, args...)...)
	again, _ := os.ReadFile(settings)
	if code != 0 || string(again) != string(after) || strings.Count(string(again), "hook claude-code PostToolUse\"") != 1 {
		t.Fatalf("second install changed the file (%d %s)", code, out)
	}
	if !strings.Contains(out, "Mnemo's hooks are already in "+settings+"; nothing changed.") {
		t.Errorf("second install said %s", out)
	}
	out, code = mnemoCmd(t, env, append([]string{"uninstall"}, args...)...)
	if code != 0 || !strings.Contains(out, "removed Mnemo from "+settings+"\n") || !strings.Contains(out, "removed Mnemo from "+mcpFile+"\n") {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if out, _ := mnemoCmd(t, env, append(append([]string{"uninstall"}, args...), "--dry-run")...); !strings.Contains(out, "no Mnemo hooks found in "+settings+"; nothing changed.") {
		t.Errorf("uninstall again: %s", out)
	}
	if b, _ := os.ReadFile(settings); string(b) != userSettings {
		t.Fatalf("settings after uninstall differ from the original:\n%s", b)
	}
	if b, _ := os.ReadFile(mcpFile); string(b) != claudeJSON {
		t.Fatalf("MCP config after uninstall differs from the original:\n%s", b)
	}
}

// Install into a missing file creates it; uninstall then leaves no Mnemo trace.
func TestInstallIntoFreshSettings(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, ".claude", "settings.json")
	env := []string{"MNEMO_HOME=" + filepath.Join(dir, "home")}
	if out, code := mnemoCmd(t, env, "install", "claude-code", "--settings", settings, "--no-mcp"); code != 0 {
		t.Fatalf("install: %d %s", code, out)
	}
	if b, err := os.ReadFile(settings); err != nil || !strings.Contains(string(b), "hook claude-code UserPromptSubmit") {
		t.Fatalf("fresh settings: %v %s", err, b)
	}
	if out, code := mnemoCmd(t, env, "uninstall", "claude-code", "--settings", settings, "--no-mcp"); code != 0 {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if b, _ := os.ReadFile(settings); strings.Contains(string(b), "mnemo") {
		t.Fatalf("uninstall left Mnemo in %s", b)
	}
}

// doctor says what is wrong, and is happy once everything is in place.
func TestDoctor(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.json")
	home := filepath.Join(dir, "home")
	down := []string{"MNEMO_HOME=" + home, "MNEMO_URL=http://127.0.0.1:1"}
	out, code := mnemoCmd(t, down, "doctor", "--settings", settings)
	if code != 1 || !strings.Contains(out, "mnemo install claude-code") || !strings.Contains(out, "not reachable") {
		t.Fatalf("doctor with nothing set up: %d\n%s", code, out)
	}
	m := startMnemo(t, "")
	env := []string{"MNEMO_HOME=" + home, "MNEMO_URL=" + m.url}
	if out, code := mnemoCmd(t, env, "install", "claude-code", "--settings", settings, "--no-mcp"); code != 0 {
		t.Fatalf("install: %s", out)
	}
	out, code = mnemoCmd(t, env, "doctor", "--settings", settings)
	if code != 0 || !strings.Contains(out, "all good") {
		t.Fatalf("doctor with everything in place: %d\n%s", code, out)
	}
}

// claudeMemSettings is a user's settings with claude-mem on twice over: its
// plugin enabled and its hooks copied into the file (paths resolved, as its
// hooks.json has them under the plugin cache), one of them in a group with
// a hook of the user's own.
const claudeMemSettings = `{
  "enabledPlugins": {
    "gopls-lsp@claude-plugins-official": true,
    "claude-mem@thedotmack": true
  },
  "hooks": {
    "SessionStart": [
      {
        "matcher": "startup|clear|compact",
        "hooks": [
          { "type": "command", "command": "node \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/smart-install.js\"", "timeout": 300 },
          { "type": "command", "command": "node \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/bun-runner.js\" \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/worker-service.cjs\" hook claude-code context", "timeout": 60 }
        ]
      }
    ],
    "PostToolUse": [
      {
        "matcher": "Write|Edit",
        "hooks": [ { "type": "command", "command": "prettier --write \"$CLAUDE_FILE_PATHS\"" } ]
      },
      {
        "matcher": "*",
        "hooks": [
          { "type": "command", "command": "node \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/bun-runner.js\" \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/worker-service.cjs\" hook claude-code observation", "timeout": 120 }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          { "type": "command", "command": "notify-send done" },
          { "type": "command", "command": "node \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/bun-runner.js\" \"/home/dev/.claude/plugins/cache/thedotmack/claude-mem/13.25.3/scripts/worker-service.cjs\" hook claude-code summarize", "timeout": 120 }
        ]
      }
    ]
  },
  "model": "opus"
}
`

// install spots claude-mem's plugin and hooks and says in one line how to
// turn them off, changing none of them; --replace-claude-mem turns them off
// (plugin false, hooks gone, the user's own kept); uninstall gives the file
// back byte for byte.
func TestInstallReplacesClaudeMem(t *testing.T) {
	settings, env, args := claudeMemInstalled(t)
	claudeMemLines := func(out string) []string {
		var l []string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "claude-mem") {
				l = append(l, line)
			}
		}
		return l
	}

	// Spotted: one line, nothing of claude-mem changed.
	out, code := mnemoCmd(t, env, append([]string{"install"}, args...)...)
	if l := claudeMemLines(out); code != 0 || len(l) != 1 || !strings.Contains(l[0], "--replace-claude-mem") ||
		!strings.Contains(l[0], "plugin claude-mem@thedotmack and 4 hook command(s)") {
		t.Fatalf("install beside claude-mem: %d\n%s", code, out)
	}
	spotted, _ := os.ReadFile(settings)
	if !strings.Contains(string(spotted), `"claude-mem@thedotmack": true`) || strings.Count(string(spotted), "worker-service.cjs") != 3 ||
		!strings.Contains(string(spotted), "/opt/mnemo/bin/mnemo hook claude-code PostToolUse") {
		t.Fatalf("install without --replace-claude-mem changed claude-mem:\n%s", spotted)
	}
	if out, code := mnemoCmd(t, env, append([]string{"uninstall"}, args...)...); code != 0 {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if b, _ := os.ReadFile(settings); string(b) != claudeMemSettings {
		t.Fatalf("uninstall after a plain install differs from the original:\n%s", b)
	}

	// Replaced: the plugin off, its four commands gone, the user's kept.
	out, code = mnemoCmd(t, env, append(append([]string{"install"}, args...), "--replace-claude-mem")...)
	if code != 0 || !strings.Contains(out, "turned off claude-mem's plugin claude-mem@thedotmack and 4 hook command(s)") {
		t.Fatalf("install --replace-claude-mem: %d\n%s", code, out)
	}
	replaced, _ := os.ReadFile(settings)
	for _, want := range []string{`"claude-mem@thedotmack": false`, `"gopls-lsp@claude-plugins-official": true`, "prettier --write",
		"notify-send done", `"model": "opus"`, "/opt/mnemo/bin/mnemo hook claude-code Stop"} {
		if !strings.Contains(string(replaced), want) {
			t.Errorf("settings after --replace-claude-mem lack %q", want)
		}
	}
	if strings.Contains(string(replaced), "thedotmack/claude-mem") {
		t.Errorf("claude-mem's hooks survived --replace-claude-mem:\n%s", replaced)
	}
	out, code = mnemoCmd(t, env, append(append([]string{"install"}, args...), "--replace-claude-mem")...)
	if again, _ := os.ReadFile(settings); code != 0 || string(again) != string(replaced) || len(claudeMemLines(out)) != 0 {
		t.Fatalf("a second install --replace-claude-mem: %d %s", code, out)
	}

	// Uninstall: byte for byte what the user had.
	out, code = mnemoCmd(t, env, append([]string{"uninstall"}, args...)...)
	if code != 0 || !strings.Contains(out, "claude-mem turned on again") {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if b, _ := os.ReadFile(settings); string(b) != claudeMemSettings {
		t.Fatalf("settings after uninstall differ from the original:\n%s", b)
	}
	if out, code := mnemoCmd(t, env, append([]string{"uninstall"}, args...)...); code != 0 || strings.Contains(out, "claude-mem") {
		t.Fatalf("a second uninstall: %d %s", code, out)
	}
	if b, _ := os.ReadFile(settings); string(b) != claudeMemSettings {
		t.Fatalf("a second uninstall changed the settings:\n%s", b)
	}
}

// When the user changed the settings after install --replace-claude-mem,
// uninstall still turns claude-mem back on (its plugin true, its hooks
// back), keeping the user's change.
func TestUninstallRestoresClaudeMemAfterAnEdit(t *testing.T) {
	settings, env, args := claudeMemInstalled(t)
	if out, code := mnemoCmd(t, env, append(append([]string{"install"}, args...), "--replace-claude-mem")...); code != 0 {
		t.Fatalf("install: %d %s", code, out)
	}
	b, _ := os.ReadFile(settings)
	edited := strings.Replace(string(b), `"model": "opus"`, `"model": "sonnet"`, 1)
	if edited == string(b) {
		t.Fatal("no model to edit")
	}
	os.WriteFile(settings, []byte(edited), 0o644)
	if out, code := mnemoCmd(t, env, append([]string{"uninstall"}, args...)...); code != 0 || !strings.Contains(out, "claude-mem turned on again") {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	after, _ := os.ReadFile(settings)
	var doc struct {
		EnabledPlugins map[string]bool                            `json:"enabledPlugins"`
		Model          string                                     `json:"model"`
		Hooks          map[string][]struct{ Hooks []hookCommand } `json:"hooks"`
	}
	if err := json.Unmarshal(after, &doc); err != nil {
		t.Fatalf("settings after uninstall: %v\n%s", err, after)
	}
	var cm, mnemo []string
	for ev, groups := range doc.Hooks {
		for _, g := range groups {
			for _, h := range g.Hooks {
				switch {
				case strings.Contains(h.Command, "/opt/mnemo"):
					mnemo = append(mnemo, ev)
				case strings.Contains(h.Command, "thedotmack/claude-mem"):
					cm = append(cm, ev)
				}
			}
		}
	}
	slices.Sort(cm)
	if !doc.EnabledPlugins["claude-mem@thedotmack"] || doc.Model != "sonnet" || len(mnemo) != 0 ||
		strings.Join(cm, " ") != "PostToolUse SessionStart SessionStart Stop" {
		t.Fatalf("after an edit, uninstall left plugin %v, model %q, Mnemo hooks %v, claude-mem hooks %v:\n%s",
			doc.EnabledPlugins, doc.Model, mnemo, cm, after)
	}
}

// With a temp HOME and a project outside git: install names the other
// settings files that already run Mnemo's hooks or claude-mem (Claude Code
// runs them all), and doctor warns that claude-mem records every session
// too, saying how to turn it off and how to import its memory; once it is
// off, doctor only points at the import.
func TestInstallAndDoctorReportOtherSettingsAndClaudeMem(t *testing.T) {
	home, proj := t.TempDir(), t.TempDir()
	user := filepath.Join(home, ".claude", "settings.json")
	local := filepath.Join(proj, ".claude", "settings.local.json")
	for path, body := range map[string]string{user: claudeMemSettings, filepath.Join(home, ".claude-mem", "claude-mem.db"): "db"} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"HOME=" + home, "MNEMO_HOME=" + filepath.Join(home, ".mnemo"), "MNEMO_URL=http://127.0.0.1:1", "MNEMO_LLM_PROVIDER=offline"}
	run := func(args ...string) string {
		out, _ := runIn(t, proj, mnemoBin, env, args...)
		return out
	}
	exe := []string{"--no-mcp", "--exe", "/opt/mnemo/bin/mnemo", "--hook-exe", "/opt/mnemo/bin/mnemo"}
	out := run(append([]string{"install", "claude-code", "--settings", local}, exe...)...)
	if !strings.Contains(out, "claude-mem's plugin claude-mem@thedotmack and 4 hook command(s) in "+user) {
		t.Fatalf("install into the local settings does not name claude-mem in the user's:\n%s", out)
	}
	out = run(append([]string{"install", "claude-code", "--scope", "project"}, exe...)...)
	for _, want := range []string{"Mnemo's hooks are also in " + local, "mnemo uninstall claude-code --settings " + local, "claude-mem's plugin claude-mem@thedotmack and 4 hook command(s) in " + user} {
		if !strings.Contains(out, want) {
			t.Errorf("install --scope project does not say %q:\n%s", want, out)
		}
	}
	out = run("doctor")
	for _, want := range []string{"[warn] claude-mem", "claude-mem is on (plugin claude-mem@thedotmack and 4 hook command(s) in " + user,
		"--replace-claude-mem", "mnemo import claude-mem"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor beside claude-mem does not say %q:\n%s", want, out)
		}
	}
	if out := run(append([]string{"install", "claude-code", "--scope", "user", "--replace-claude-mem"}, exe...)...); !strings.Contains(out, "turned off claude-mem's") {
		t.Fatalf("install --replace-claude-mem:\n%s", out)
	}
	out = run("doctor")
	if !strings.Contains(out, "[ok  ] claude-mem") || !strings.Contains(out, "mnemo import claude-mem") || strings.Contains(out, "claude-mem is on") {
		t.Errorf("doctor once claude-mem is off:\n%s", out)
	}
}

// claudeMemInstalled is a settings file where claude-mem's hooks are
// installed, a MNEMO_HOME beside it, and the arguments of `mnemo install`
// (and uninstall) for that file.
func claudeMemInstalled(t *testing.T) (settings string, env, args []string) {
	t.Helper()
	dir := t.TempDir()
	settings = filepath.Join(dir, "settings.json")
	if err := os.WriteFile(settings, []byte(claudeMemSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	env = []string{"MNEMO_HOME=" + filepath.Join(dir, "home")}
	args = []string{"claude-code", "--settings", settings, "--no-mcp", "--exe", "/opt/mnemo/bin/mnemo"}
	return settings, env, args
}
