package llm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/llm"
)

// The automatic choice, with a fake claude on PATH (or at MNEMO_CLAUDE_PATH)
// logged in or not, keys set or not, and a provider set.
func TestCompressorChoice(t *testing.T) {
	home := isolateClaude(t)
	bin := t.TempDir()
	cli := fakeClaude(t, bin)
	login := filepath.Join(t.TempDir(), "logged-in")
	t.Setenv("FAKE_CLAUDE_LOGIN", login)
	empty := t.TempDir()
	cases := []struct {
		name      string
		env       map[string]string
		loggedIn  bool
		provider  string
		cli       string
		daily     int64
		why       string // in Choice.Why
		wantErr   string
		stored    bool // a credentials file in ~/.claude, and an auth status that answers nothing
		brokenCLI bool
	}{
		{name: "no claude anywhere", env: map[string]string{"PATH": empty}, provider: "offline", why: "no claude CLI was found"},
		{name: "claude logged out", env: map[string]string{"PATH": bin}, provider: "offline", why: "has no credentials (`claude auth status`: not logged in)"},
		{name: "claude logged in", env: map[string]string{"PATH": bin}, loggedIn: true, provider: "claude-code", cli: cli, daily: llm.DefaultAutoDailyTokens, why: "logged in, claude.ai"},
		{name: "API key", env: map[string]string{"PATH": bin, "ANTHROPIC_API_KEY": "sk-x"}, provider: "claude-code", cli: cli, daily: llm.DefaultAutoDailyTokens, why: "ANTHROPIC_API_KEY is set"},
		{name: "OAuth token", env: map[string]string{"PATH": bin, "CLAUDE_CODE_OAUTH_TOKEN": "tok"}, provider: "claude-code", cli: cli, daily: llm.DefaultAutoDailyTokens, why: "CLAUDE_CODE_OAUTH_TOKEN is set"},
		{name: "stored login file", env: map[string]string{"PATH": bin}, stored: true, provider: "claude-code", daily: llm.DefaultAutoDailyTokens, why: "stored login in"},
		{name: "budget set", env: map[string]string{"PATH": bin, "MNEMO_LLM_DAILY_TOKENS": "5000"}, loggedIn: true, provider: "claude-code", cli: cli, daily: 5000},
		{name: "MNEMO_CLAUDE_PATH", env: map[string]string{"PATH": empty, "MNEMO_CLAUDE_PATH": cli}, loggedIn: true, provider: "claude-code", cli: cli, daily: llm.DefaultAutoDailyTokens},
		{name: "offline opts out", env: map[string]string{"PATH": bin, "MNEMO_LLM_PROVIDER": "offline"}, loggedIn: true, provider: "offline", why: "MNEMO_LLM_PROVIDER=offline"},
		{name: "another provider set", env: map[string]string{"PATH": bin, "MNEMO_LLM_PROVIDER": "anthropic"}, loggedIn: true, provider: "anthropic", daily: 0},
		{name: "claude-code asked for", env: map[string]string{"PATH": bin, "MNEMO_LLM_PROVIDER": "claude-code"}, provider: "claude-code", cli: cli, daily: 0},
		{name: "claude-code asked for, no CLI", env: map[string]string{"PATH": empty, "MNEMO_LLM_PROVIDER": "claude-code"}, wantErr: "no claude CLI on PATH"},
		{name: "MNEMO_CLAUDE_PATH wrong", env: map[string]string{"PATH": bin, "MNEMO_CLAUDE_PATH": filepath.Join(empty, "nope")}, wantErr: "is not an executable file"},
		{name: "unknown provider", env: map[string]string{"MNEMO_LLM_PROVIDER": "claude"}, wantErr: "want offline, claude-code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			os.Remove(login)
			if c.loggedIn {
				if err := os.WriteFile(login, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			creds := filepath.Join(home, ".claude", ".credentials.json")
			os.Remove(creds)
			if c.stored {
				// A CLI whose auth status says nothing usable, and a login file.
				broken := filepath.Join(t.TempDir(), "claude")
				if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'unknown command'; exit 2\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				t.Setenv("PATH", filepath.Dir(broken))
				c.cli = broken
				if err := os.MkdirAll(filepath.Dir(creds), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(creds, []byte(`{}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ch, err := llm.Choose(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Provider != c.provider || ch.CLI != c.cli || ch.DailyTokens != c.daily || !strings.Contains(ch.Why, c.why) {
				t.Fatalf("choice %+v: want provider %s, CLI %q, budget %d, why with %q", ch, c.provider, c.cli, c.daily, c.why)
			}
			line := ch.String()
			if ch.Provider == "claude-code" && (!strings.HasPrefix(line, "claude-code/haiku, because ") || !strings.Contains(line, "tokens per project per UTC day") && ch.DailyTokens > 0) {
				t.Fatalf("line %q", line)
			}
			comp, err := llm.Build(ch, t.TempDir())
			if ch.Provider == "anthropic" {
				if err == nil || !strings.Contains(err.Error(), "MNEMO_LLM_API_KEY") {
					t.Fatalf("anthropic without a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"offline": "offline", "claude-code": "claude-code/haiku"}[ch.Provider]
			if comp.Name() != want {
				t.Fatalf("compressor %q, want %q", comp.Name(), want)
			}
		})
	}
}
