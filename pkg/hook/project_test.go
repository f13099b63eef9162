package hook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/hook"
)

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGitProjectNaming(t *testing.T) {
	root := t.TempDir()
	// A main work tree with a nested directory.
	main := mkdir(t, root, "acme-api")
	mkdir(t, main, ".git", "worktrees", "wt-tool")
	sub := mkdir(t, main, "src", "deep")
	// A linked worktree elsewhere, absolute gitdir.
	wt := mkdir(t, root, "acme-api-worktrees", "wt-tool")
	writeFile(t, filepath.Join(wt, ".git"), "gitdir: "+filepath.Join(main, ".git", "worktrees", "wt-tool")+"\n")
	wtSub := mkdir(t, wt, "pkg")
	// A linked worktree inside the main one, relative gitdir.
	mkdir(t, main, ".git", "worktrees", "feature")
	inner := mkdir(t, main, ".claude", "worktrees", "feature")
	writeFile(t, filepath.Join(inner, ".git"), "gitdir: ../../../.git/worktrees/feature")
	// A submodule: its .git file points into the parent's modules.
	mkdir(t, main, ".git", "modules", "vendor-lib")
	submodule := mkdir(t, main, "vendor-lib")
	writeFile(t, filepath.Join(submodule, ".git"), "gitdir: ../.git/modules/vendor-lib\n")
	// No git at all.
	plain := mkdir(t, root, "scratch", "notes")

	for _, tc := range []struct {
		cwd, want string
		ok        bool
	}{
		{main, "acme-api", true},
		{sub, "acme-api", true},
		{wt, "acme-api/wt-tool", true},
		{wtSub, "acme-api/wt-tool", true},
		{inner, "acme-api/feature", true},
		{submodule, "vendor-lib", true},
		{plain, "", false},
		{"", "", false},
	} {
		got, ok := hook.GitProject(tc.cwd)
		if got != tc.want || ok != tc.ok {
			t.Errorf("GitProject(%s) = %q, %v; want %q, %v", tc.cwd, got, ok, tc.want, tc.ok)
		}
	}
	if r, m, ok := hook.GitRoot(wtSub); !ok || r != wt || m != main {
		t.Errorf("GitRoot(%s) = %s, %s, %v", wtSub, r, m, ok)
	}

	namer := hook.ProjectNamer(filepath.Join(root, "scratch"))
	for cwd, want := range map[string]string{
		sub:                        "acme-api",
		wt:                         "acme-api/wt-tool",
		plain:                      "scratch", // inside CLAUDE_PROJECT_DIR, no git
		filepath.Join(root, "tmp"): "tmp",     // outside both
		"":                         "unknown-project",
		"/":                        "unknown-project",
	} {
		if got := namer(cwd); got != want {
			t.Errorf("ProjectNamer(%s) = %q, want %q", cwd, got, want)
		}
	}
}

// TestGitProjectOnRealWorktree checks the naming against what git itself
// writes for `git worktree add`.
func TestGitProjectOnRealWorktree(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed for this test: apt-get install git")
	}
	root := t.TempDir()
	main := mkdir(t, root, "acme-api")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(main, "init", "-q")
	git(main, "commit", "-q", "--allow-empty", "-m", "init")
	wt := filepath.Join(root, "acme-api-worktrees", "wt-demo")
	git(main, "worktree", "add", "-q", wt)
	mkdir(t, wt, "src")
	if got, ok := hook.GitProject(filepath.Join(wt, "src")); !ok || got != "acme-api/wt-demo" {
		t.Fatalf("real worktree: %q %v", got, ok)
	}
	if got, ok := hook.GitProject(main); !ok || got != "acme-api" {
		t.Fatalf("real main: %q %v", got, ok)
	}
}

func TestStateSweepAndBadSession(t *testing.T) {
	dir := t.TempDir()
	st := &hook.State{Dir: dir, MaxAge: time.Hour}
	if _, err := st.Prompt("../evil", "p", "x", time.Now()); err == nil {
		t.Fatal("a session ID that is not a token must not name a file")
	}
	if _, err := st.Prompt("old", "p1", "<private>x</private>", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prompt("new", "p1", "<private>x</private>", time.Now()); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "old.json"), old, old); err != nil {
		t.Fatal(err)
	}
	st.Sweep(time.Now())
	if st.PrivateTurn("old", "p1") || !st.PrivateTurn("new", "p1") {
		t.Fatal("Sweep removed the wrong files")
	}
	// A damaged file reads as an empty state.
	writeFile(t, filepath.Join(dir, "new.json"), "{not json")
	if st.PrivateTurn("new", "p1") {
		t.Fatal("damaged state")
	}
	if dup, err := st.Prompt("new", "p2", "hello", time.Now()); err != nil || dup {
		t.Fatalf("prompt after damage: %v %v", dup, err)
	}
}
