package hook

import (
	"os"
	"path/filepath"
	"strings"
)

// GitProject names the project of cwd the way claude-mem does: the basename
// of the git work tree root found by walking up from cwd to the first .git.
// A .git directory is a main work tree. A .git file ("gitdir: …") whose
// gitdir lies in <main>/.git/worktrees/<name> is a linked worktree, named
// "<basename of main>/<basename of the worktree root>". Any other .git file
// (a submodule) names its own root. It reports false when no .git is found.
//
// It only stats and reads files: running git would cost milliseconds the
// agent waits for.
func GitProject(cwd string) (string, bool) {
	root, main, ok := GitRoot(cwd)
	if !ok {
		return "", false
	}
	if main != "" {
		return BaseProject(main) + "/" + BaseProject(root), true
	}
	return BaseProject(root), true
}

// GitRoot walks up from cwd to the first .git and returns the work tree root
// holding it; for a linked worktree, main is the main work tree's root.
func GitRoot(cwd string) (root, main string, ok bool) {
	if cwd == "" {
		return "", "", false
	}
	dir := filepath.Clean(cwd)
	for {
		dotGit := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dotGit); err == nil {
			if !fi.IsDir() {
				main, _ = worktreeMain(dotGit)
			}
			return dir, main, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", false
		}
		dir = parent
	}
}

// worktreeMain reads a .git file and returns the main work tree's root when
// the file points into <main>/.git/worktrees/<name>.
func worktreeMain(dotGitFile string) (string, bool) {
	b, err := os.ReadFile(dotGitFile)
	if err != nil || len(b) > 4096 {
		return "", false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
	if !ok {
		return "", false
	}
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(filepath.Dir(dotGitFile), gitdir)
	}
	gitdir = filepath.Clean(gitdir)
	worktrees := filepath.Dir(gitdir) // <main>/.git/worktrees
	if filepath.Base(worktrees) != "worktrees" {
		return "", false
	}
	mainGit := filepath.Dir(worktrees) // <main>/.git
	if filepath.Base(mainGit) != ".git" {
		return "", false
	}
	return filepath.Dir(mainGit), true
}

// ProjectNamer returns the project namer the hook CLI uses: GitProject, else
// the basename of projectDir when cwd lies inside it (Claude Code's
// CLAUDE_PROJECT_DIR, so that `cd src` outside git keeps the project), else
// the basename of cwd.
func ProjectNamer(projectDir string) func(cwd string) string {
	return func(cwd string) string {
		if p, ok := GitProject(cwd); ok {
			return p
		}
		if projectDir != "" && within(cwd, projectDir) {
			return BaseProject(projectDir)
		}
		return BaseProject(cwd)
	}
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
