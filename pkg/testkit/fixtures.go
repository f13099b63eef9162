package testkit

import (
	"io"
	"os"
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

// CopyFile copies the file from to the path to, created with perm, so a
// test may write or run a copy of a fixture or a binary.
func CopyFile(t testing.TB, from, to string, perm os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
