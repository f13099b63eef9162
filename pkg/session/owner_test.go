package session_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sessionPkg is the import path of the one owner of session metadata.
const sessionPkg = "github.com/mnemo-dev/mnemo/pkg/session"

// metaKeyUses returns where a Go file names session metadata's Redis keys
// itself: a string holding a session key prefix, or session.MetaKey or
// session.ActiveKey, which only pkg/session (MetaStore) may use.
func metaKeyUses(fset *token.FileSet, f *ast.File) []string {
	sessionName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == sessionPkg {
			sessionName = "session"
			if imp.Name != nil {
				sessionName = imp.Name.Name
			}
		}
	}
	var uses []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if n.Kind == token.STRING && (strings.Contains(n.Value, "mnemo:{") || strings.Contains(n.Value, "mnemo:sessions:")) {
				uses = append(uses, fset.Position(n.Pos()).String()+" "+n.Value)
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && sessionName != "" && x.Name == sessionName &&
				(n.Sel.Name == "MetaKey" || n.Sel.Name == "ActiveKey") {
				uses = append(uses, fset.Position(n.Pos()).String()+" session."+n.Sel.Name)
			}
		}
		return true
	})
	return uses
}

// Session metadata has one owner: every service writes it through
// session.MetaStore, so no code outside pkg/session names its keys
// (docs/ARCHITECTURE.md §5). Tests may, to make Redis lose data.
func TestOnlyPkgSessionWritesSessionMetadata(t *testing.T) {
	// The check finds what it must find.
	fset := token.NewFileSet()
	bad, err := parser.ParseFile(fset, "bad.go", `package x
import s "`+sessionPkg+`"
func f() { _ = s.MetaKey("a"); _ = "mnemo:{a}:meta"; _ = s.ActiveKey }`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := metaKeyUses(fset, bad); len(got) != 3 {
		t.Fatalf("check found %v in a file with three uses", got)
	}

	root := filepath.Join("..", "..")
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || name == "node_modules" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			if abs, _ := filepath.Abs(path); abs == self {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		files++
		for _, u := range metaKeyUses(fset, f) {
			t.Errorf("%s: session metadata keys outside pkg/session; use session.MetaStore", u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("scanned %d Go files under %s; the walk missed the tree", files, root)
	}
}
