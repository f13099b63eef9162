package testkit

import (
	"path/filepath"
	"runtime"
	"testing"
)

// FixtureDir is the absolute path of a fixture set kept in this package's
// testdata: "claude-code" (real Claude Code hook payloads and a transcript) or
// "claude-mem" (real claude-mem databases). Every test of the workspace reads
// fixtures through it, so a clone alone holds everything its tests need. Where
// the fixtures came from is in testdata/README.md.
func FixtureDir(t testing.TB, set string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testkit: cannot locate its own source to find testdata")
	}
	return filepath.Join(filepath.Dir(file), "testdata", set)
}
