package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every design citation in the repository's Go code and README names a
// section docs/ARCHITECTURE.md has, and none points outside the repository
// (the DESIGN.md the code once cited was not part of a clone).
func TestDesignCitationsPointIntoArchitecture(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\d+)\. `).FindAllStringSubmatch(string(doc), -1) {
		sections[m[1]] = true
	}
	if len(sections) < 10 {
		t.Fatalf("docs/ARCHITECTURE.md has %d numbered sections", len(sections))
	}
	cite := regexp.MustCompile(`ARCHITECTURE\.md ((?:§\d+(?:[–-]§\d+)?(?:, )?)+)`)
	num := regexp.MustCompile(`§(\d+)`)
	cited := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || path == filepath.Join(root, "README.md")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		if path != filepath.Join(root, "cmd", "mnemo", "citations_test.go") && strings.Contains(text, "DESIGN.md") {
			t.Errorf("%s cites DESIGN.md, which is not in the repository: cite docs/ARCHITECTURE.md", path)
		}
		for _, m := range cite.FindAllStringSubmatch(text, -1) {
			for _, n := range num.FindAllStringSubmatch(m[1], -1) {
				cited++
				if !sections[n[1]] {
					t.Errorf("%s cites docs/ARCHITECTURE.md §%s, which has no such section", path, n[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited == 0 {
		t.Fatal("no citation of docs/ARCHITECTURE.md found: the walk read nothing")
	}
}
