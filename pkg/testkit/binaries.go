package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary is a program the tests run as a child process, so that a kill -9
// or a hook's exec is real: the package Pkg, as `go build` takes it from the
// directory Dir (empty: the test's own), built as Name; Path receives where.
type Binary struct {
	Name, Pkg, Dir string
	Path           *string
}

// MainWithBinaries is a TestMain that builds bins into a temporary directory
// once, runs the tests and removes them; a build that fails ends the run
// with the compiler's output.
func MainWithBinaries(m *testing.M, bins ...Binary) {
	dir, err := os.MkdirTemp("", "mnemo-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range bins {
		*b.Path = filepath.Join(dir, b.Name)
		build := exec.Command("go", "build", "-o", *b.Path, b.Pkg)
		build.Dir = b.Dir
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", b.Name, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
