package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/exit"
)

// Every command and subcommand of both binaries answers -h and --help with
// its usage on exit 0, and does nothing else: the hook reads no payload and
// records nothing, the others start nothing.
func TestHelpOnEveryCommand(t *testing.T) {
	home := t.TempDir()
	env := append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL=http://"+downURL(t), "HOME="+t.TempDir())
	var lines [][]string
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		lines = append(lines, []string{mnemoBin, n})
	}
	for _, sub := range [][]string{
		{"hook", "claude-code"}, {"hook", "claude-code", "PostToolUse"}, {"spool", "status"}, {"spool", "flush"},
		{"dlq", "list"}, {"dlq", "show"}, {"dlq", "replay"}, {"bench", "load"}, {"bench", "report"},
		{"install", "claude-code"}, {"uninstall", "claude-code"},
	} {
		lines = append(lines, append([]string{mnemoBin}, sub...))
	}
	hookBin := smallHookBin(t)
	for _, sub := range [][]string{{}, {"hook"}, {"hook", "claude-code"}, {"hook", "claude-code", "PostToolUse"},
		{"spool"}, {"spool", "status"}, {"spool", "flush"}} {
		lines = append(lines, append([]string{hookBin}, sub...))
	}
	payload := bashPayload("help-session", "echo must-not-be-recorded")
	for _, line := range lines {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, line[1:]...), h)
			name := filepath.Base(line[0]) + " " + strings.Join(args, " ")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := exec.CommandContext(ctx, line[0], args...)
			cmd.Env = env
			cmd.Stdin = bytes.NewReader(payload)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			cancel()
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, out.String())
				continue
			}
			text := out.String()
			if !strings.Contains(strings.ToLower(text), "usage") {
				t.Errorf("%s printed no usage:\n%s", name, text)
			}
			if strings.Contains(text, "unknown") {
				t.Errorf("%s called help unknown:\n%s", name, text)
			}
		}
	}
	// The hook asked for help read nothing and recorded nothing.
	if names := spoolEntries(home); len(names) > 0 {
		t.Errorf("asking for help spooled events: %v", names)
	}
}

// A command with subcommands, called without one, prints its usage and
// exits 2; asked for help, it prints the same usage and exits 0.
func TestSubcommandHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		done bool
		code int
	}{{nil, true, 2}, {[]string{"help"}, true, 0}, {[]string{"-h"}, true, 0}, {[]string{"--help"}, true, 0}, {[]string{"list"}, false, 0}} {
		var out bytes.Buffer
		done, err := subcommandHelp(c.args, &out, "Usage: x")
		code, _ := exit.Status(err)
		if done != c.done || code != c.code || (out.Len() > 0) != c.done {
			t.Errorf("%q: done %v, status %d, printed %q; want done %v, status %d", c.args, done, code, out.String(), c.done, c.code)
		}
	}
}
