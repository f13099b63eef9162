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
// (the design file the code once cited was not part of a clone).
// oldDesign is the design file outside the repository that citations once
// named, spelt in two parts so this test does not cite it itself.
const oldDesign = "DESIGN" + ".md"

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
		if strings.Contains(text, oldDesign) {
			t.Errorf("%s cites %s, which is not in the repository: cite docs/ARCHITECTURE.md", path, oldDesign)
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

// README's layout table lists every Go package of the repository: in a row
// of its own, or beside its parent's (`services/ingest` (`cmd/mnemo-ingest`)).
func TestREADMELayoutListsEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cells []string // each layout row's first cell
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			cells = append(cells, strings.SplitN(line, "|", 3)[1])
		}
	}
	listed := func(pkg string) bool {
		for _, c := range cells {
			if strings.Contains(c, "`"+pkg+"`") {
				return true
			}
			for _, parent := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(c, -1) {
				if rest, ok := strings.CutPrefix(pkg, parent[1]+"/"); ok && strings.Contains(c, "`"+rest+"`") {
					return true
				}
			}
		}
		return false
	}
	found := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); name == ".git" || name == "testdata" || name == "node_modules" || (strings.HasPrefix(name, ".") && path != root) {
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		hasCode := false
		for _, f := range files {
			hasCode = hasCode || !strings.HasSuffix(f, "_test.go")
		}
		rel, _ := filepath.Rel(root, path)
		if !hasCode {
			return nil
		}
		found++
		if !listed(filepath.ToSlash(rel)) {
			t.Errorf("README's layout table does not list the package %s", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 10 {
		t.Fatalf("found %d packages: the walk missed the tree", found)
	}
}
