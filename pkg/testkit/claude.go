package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var claudeOnce struct {
	sync.Once
	path string
	err  string
}

// ClaudeCLI is the path of the real Claude Code CLI (npm's
// @anthropic-ai/claude-code, the fixtures' version), installed by
// scripts/deps/30-claude-code.sh when missing (Node from apt when missing).
// When it cannot be had the test fails under CI=true and is skipped, saying
// why, elsewhere.
func ClaudeCLI(t testing.TB) string {
	t.Helper()
	claudeOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "deps", "30-claude-code.sh")
		cmd := exec.Command("bash", script)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			claudeOnce.err = err.Error() + ": " + strings.TrimSpace(errb.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		claudeOnce.path = lines[len(lines)-1]
	})
	if claudeOnce.path == "" {
		msg := "testkit: the real Claude Code CLI is not available (scripts/deps/30-claude-code.sh: " + claudeOnce.err + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return claudeOnce.path
}
