package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd := exec.Command(mnemoBin, args...)
	cmd.Env = append(append(os.Environ(), "MNEMO_LLM_PROVIDER=offline"), env...) // pinned unless env names one
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
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
	if code != 0 {
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
	out, code = mnemoCmd(t, env, append([]string{"uninstall"}, args...)...)
	if code != 0 {
		t.Fatalf("uninstall: %d %s", code, out)
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
