package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// From a $HOME outside git, the user's settings are also "the project's":
// doctor reads the file once and finds one copy of each hook after one
// install.
func TestDoctorReadsEachSettingsFileOnce(t *testing.T) {
	home := t.TempDir()
	m := startMnemo(t, "")
	env := []string{"HOME=" + home, "MNEMO_HOME=" + filepath.Join(home, ".mnemo"), "MNEMO_URL=" + m.url}
	if out, code := runIn(t, home, mnemoBin, env, "install", "claude-code", "--no-mcp"); code != 0 {
		t.Fatalf("install: %d %s", code, out)
	}
	out, code := runIn(t, home, mnemoBin, env, "doctor")
	if code != 0 || strings.Contains(out, "more than once") || !strings.Contains(out, "all good") {
		t.Fatalf("doctor after one install, run from $HOME: %d\n%s", code, out)
	}
	if n := strings.Count(out, filepath.Join(home, ".claude", "settings.json")); n != 1 {
		t.Errorf("doctor names the settings file %d times, want once:\n%s", n, out)
	}
}

// Mnemo's binaries installed under other names are known by what they are
// (their build information), not by their file names: install takes them,
// a second install changes nothing, doctor is satisfied, uninstall removes
// every hook it installed.
func TestRenamedBinaryIsRecognised(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	mem, memHook := filepath.Join(bin, "memory"), filepath.Join(bin, "memhook")
	testkit.CopyFile(t, mnemoBin, mem, 0o755)
	testkit.CopyFile(t, smallHookBin(t), memHook, 0o755)
	settings := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(settings, []byte(userSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMnemo(t, "")
	env := []string{"HOME=" + dir, "MNEMO_HOME=" + filepath.Join(dir, "mnemo-home"), "MNEMO_URL=" + m.url}
	args := []string{"claude-code", "--settings", settings, "--no-mcp", "--hook-exe", memHook}
	if out, code := runIn(t, dir, mem, env, append([]string{"install"}, args...)...); code != 0 {
		t.Fatalf("install with a renamed hook binary: %d %s", code, out)
	}
	first, _ := os.ReadFile(settings)
	if n := strings.Count(string(first), memHook+" hook claude-code PostToolUse\""); n != 1 {
		t.Fatalf("PostToolUse hook installed %d times:\n%s", n, first)
	}
	if out, code := runIn(t, dir, mem, env, append([]string{"install"}, args...)...); code != 0 {
		t.Fatalf("second install: %d %s", code, out)
	}
	if again, _ := os.ReadFile(settings); !bytes.Equal(again, first) {
		t.Fatalf("a second install changed the settings:\n%s", again)
	}
	out, code := runIn(t, dir, mem, env, "doctor", "--settings", settings)
	if code != 0 || !strings.Contains(out, "all good") {
		t.Fatalf("doctor with renamed binaries: %d\n%s", code, out)
	}
	if out, code := runIn(t, dir, mem, env, append([]string{"uninstall"}, args...)...); code != 0 {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if b, _ := os.ReadFile(settings); string(b) != userSettings {
		t.Fatalf("settings after uninstall differ from the original:\n%s", b)
	}
}
