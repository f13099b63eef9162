package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/settings"
)

// runMnemoConfig runs the real `mnemo config …` with home as MNEMO_HOME.
func runMnemoConfig(t *testing.T, home string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(mnemoBin, append([]string{"config"}, args...)...)
	cmd.Env = append(append(os.Environ(), "MNEMO_HOME="+home), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestConfigGetSetList(t *testing.T) {
	home := t.TempDir()
	out, _, code := runMnemoConfig(t, home, nil, "path")
	if code != 0 || strings.TrimSpace(out) != filepath.Join(home, settings.FileName) {
		t.Fatalf("config path: %d %q", code, out)
	}
	if out, _, _ := runMnemoConfig(t, home, nil, "get", settings.ContextObservations); strings.TrimSpace(out) != "50" {
		t.Errorf("get of a seeded default = %q, want 50", out)
	}
	out, errOut, code := runMnemoConfig(t, home, nil, "set", settings.ContextFullCount, "3")
	if code != 0 || !strings.Contains(out, "no restart needed") {
		t.Errorf("set of a context setting: %d %q %q, want it to say no restart is needed", code, out, errOut)
	}
	out, _, code = runMnemoConfig(t, home, nil, "set", "MNEMO_NATS_PORT", "4999")
	if code != 0 || !strings.Contains(out, "needs a restart of mnemo run") {
		t.Errorf("set of a start-up setting: %d %q, want it to say a restart is needed", code, out)
	}
	if out, _, _ := runMnemoConfig(t, home, nil, "get", settings.ContextFullCount); strings.TrimSpace(out) != "3" {
		t.Errorf("get after set = %q, want 3", out)
	}
	out, _, code = runMnemoConfig(t, home, []string{"MNEMO_CONTEXT_SESSION_COUNT=4"}, "set", settings.ContextSessionCount, "6")
	if code != 0 || !strings.Contains(out, "set in your environment") {
		t.Errorf("set of a key the environment overrides: %d %q, want a note", code, out)
	}
	for _, bad := range [][]string{{"set", settings.ContextFullCount, "many"}, {"set", "MNEMO_NOPE", "1"}, {"get", "MNEMO_NOPE"}, {"set", settings.ContextFullField, "all"}} {
		if _, errOut, code := runMnemoConfig(t, home, nil, bad...); code == 0 || errOut == "" {
			t.Errorf("config %v: exit %d %q, want a failure with a reason", bad, code, errOut)
		}
	}
	if _, _, code := runMnemoConfig(t, home, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
	out, _, code = runMnemoConfig(t, home, []string{"MNEMO_CONTEXT_SESSION_COUNT=4", "MNEMO_LLM_API_KEY=sk-secret"}, "list")
	if code != 0 {
		t.Fatalf("list: exit %d", code)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[0]] = f[1:]
	}
	if len(rows) != len(settings.Defs) {
		t.Errorf("list shows %d settings, want %d:\n%s", len(rows), len(settings.Defs), out)
	}
	for key, want := range map[string]string{
		settings.ContextFullCount:    "3 file next",
		settings.ContextSessionCount: "4 env next",
		settings.ContextObservations: "50 file next",
		"MNEMO_NATS_PORT":            "4999 file restart",
		"MNEMO_LLM_API_KEY":          "(hidden) env restart",
	} {
		if got := strings.Join(rows[key], " "); !strings.HasPrefix(got, want) {
			t.Errorf("list row %s = %q, want %q…", key, got, want)
		}
	}
	if strings.Contains(out, "sk-secret") {
		t.Error("list printed a secret")
	}
}

var contextRow = regexp.MustCompile(`(?m)^(\*\*)?(\d+)(\*\*)? (\S+) `)

// A real `mnemo run`: the SessionStart context follows settings.json as it
// changes, with no restart, in the time zone the hook sends.
func TestRunContextFollowsSettingsFile(t *testing.T) {
	r := startRun(t)
	home, url := r.home, r.url
	if _, err := os.Stat(filepath.Join(home, settings.FileName)); err != nil {
		t.Fatalf("settings.json not seeded on first run: %v", err)
	}

	payload, project := sessionStartFixture(t)
	for i, title := range []string{"Chose SQLite for the cache", "Fixed the retry loop", "Added the export command"} {
		body := fmt.Sprintf(`{"project":%q,"title":%q,"text":"Narrative number %d of the test."}`, project, title, i+1)
		postJSON(t, url+"/v1/memories", []byte(body), http.StatusCreated)
	}
	hookHome := t.TempDir()
	sessionStart := func(tz string) (rows, full []string, text string) {
		t.Helper()
		r := runHookProc(t, hookHome, url, "SessionStart", payload, "TZ="+tz, "MNEMO_HOOK_CONTEXT_TIMEOUT=20s")
		var out struct {
			HookSpecificOutput struct {
				AdditionalContext string `json:"additionalContext"`
			} `json:"hookSpecificOutput"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("SessionStart: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		text = out.HookSpecificOutput.AdditionalContext
		for _, m := range contextRow.FindAllStringSubmatch(text, -1) {
			if m[1] != "" {
				full = append(full, m[2])
			}
			rows = append(rows, m[2])
		}
		return rows, full, text
	}
	rows, full, text := sessionStart("Asia/Tokyo")
	if len(rows) != 3 || len(full) != 0 || !strings.Contains(text, " JST\n") {
		t.Fatalf("defaults, Tokyo: %d rows, %d full, want 3 and 0 in JST:\n%s", len(rows), len(full), text)
	}
	if !regexp.MustCompile(`recent context, \d{4}-\d\d-\d\d \d{1,2}:\d\d[ap]m JST`).MatchString(text) {
		t.Errorf("header time not in the user's zone:\n%s", text)
	}

	// The user edits the file while Mnemo runs: 2 observations, 1 in full.
	path := filepath.Join(home, settings.FileName)
	var m map[string]any
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	m[settings.ContextObservations], m[settings.ContextFullCount] = "2", "1"
	b, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rows, full, text = sessionStart("America/Los_Angeles")
	if len(rows) != 2 || len(full) != 1 || full[0] != rows[len(rows)-1] || !strings.Contains(text, "Narrative number 3 of the test.") {
		t.Fatalf("after the edit: rows %v, full %v; want 2 rows, the newest in full with its narrative:\n%s", rows, full, text)
	}
	if !regexp.MustCompile(`recent context, .* P[SD]T\n`).MatchString(text) {
		t.Errorf("header not in Los Angeles time:\n%s", text)
	}

	// mnemo config set says no restart is needed, and it is not.
	out, errOut, code := runMnemoConfig(t, home, nil, "set", settings.ContextObservations, "1")
	if code != 0 || !strings.Contains(out, "no restart needed") {
		t.Fatalf("config set: %d %q %q", code, out, errOut)
	}
	if rows, _, text = sessionStart("Asia/Tokyo"); len(rows) != 1 {
		t.Fatalf("after config set to 1: %d rows:\n%s", len(rows), text)
	}
	out, _, _ = runMnemoConfig(t, home, nil, "set", "MNEMO_NATS_PORT", "0")
	if !strings.Contains(out, "needs a restart of mnemo run") {
		t.Errorf("config set of a start-up setting: %q, want it to say a restart is needed", out)
	}
}
