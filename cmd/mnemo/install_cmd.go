// The command line of `mnemo install` and `mnemo uninstall`: flags, the
// target files and the executables the hooks run. The settings edits are in
// install.go; the files they read and write, and the install record, in
// install_files.go.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

func init() {
	register("install", command{
		summary: "merge Mnemo's hooks and MCP server into Claude Code's settings: `mnemo install claude-code`",
		run:     runInstall,
	})
	register("uninstall", command{
		summary: "remove what `mnemo install claude-code` added: `mnemo uninstall claude-code`",
		run:     runUninstall,
	})
}

// installTarget says where the hooks and the MCP server go.
type installTarget struct {
	Settings string // Claude Code settings file (hooks)
	MCP      string // MCP server file; "" = leave MCP alone
	Exe      string // absolute path of the mnemo executable (the MCP server runs it)
	// HookExe is what the hooks run: mnemo-hook when it sits next to mnemo
	// (it starts several milliseconds faster), else mnemo itself.
	HookExe string
	Home    string // Mnemo's home: the install record lives there
	// ReplaceClaudeMem turns off claude-mem's plugin and hooks in Settings
	// (install --replace-claude-mem), so a session is not recorded twice.
	ReplaceClaudeMem bool
}

// parseInstallFlags reads install's and uninstall's arguments; flag.ErrHelp
// means help was asked for and printed.
func parseInstallFlags(name string, args []string, stdout, stderr io.Writer) (installTarget, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	scope := fs.String("scope", "user", "user (~/.claude/settings.json and ~/.claude.json) or project (.claude/settings.json and .mcp.json of the project)")
	settings := fs.String("settings", "", "the Claude Code settings file to change (overrides --scope for hooks)")
	mcpFile := fs.String("mcp-config", "", "the file holding mcpServers (overrides --scope for the MCP server)")
	noMCP := fs.Bool("no-mcp", false, "leave the MCP server configuration alone")
	exe := fs.String("exe", "", "the mnemo executable the MCP server (and, without mnemo-hook, the hooks) run (default: this one)")
	hookExe := fs.String("hook-exe", "", "the executable the hooks run (default: mnemo-hook next to mnemo when there is one, else mnemo)")
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	var replaceCM *bool
	if name == "install" {
		replaceCM = fs.Bool("replace-claude-mem", false, "turn off claude-mem's plugin and hooks in the settings file, so a session is not recorded twice (uninstall turns them on again)")
	}
	usage := fmt.Sprintf("usage: mnemo %s claude-code [--scope user|project] [--settings PATH] [--mcp-config PATH] [--no-mcp]", name)
	if name == "install" {
		usage += " [--replace-claude-mem]"
	}
	if len(args) > 0 && hookcli.IsHelp(args[0]) {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, usage)
		fs.PrintDefaults()
		return installTarget{}, false, flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "claude-code" {
		return installTarget{}, false, errors.New(usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return installTarget{}, false, err
	}
	t, err := resolveInstallTarget(*scope, *settings, *mcpFile, *noMCP, *exe)
	if err != nil {
		return t, *dryRun, err
	}
	t.ReplaceClaudeMem = replaceCM != nil && *replaceCM
	t.HookExe, err = hookExecutable(t.Exe, *hookExe)
	return t, *dryRun, err
}

// resolveInstallTarget picks the files. User scope: hooks in
// ~/.claude/settings.json, the MCP server in ~/.claude.json (where
// `claude mcp add --scope user` puts it). Project scope: hooks in
// <project>/.claude/settings.json, the MCP server in <project>/.mcp.json
// (Claude Code asks the user to approve a project's MCP servers).
func resolveInstallTarget(scope, settings, mcpFile string, noMCP bool, exe string) (installTarget, error) {
	var t installTarget
	switch scope {
	case "user":
		home, err := os.UserHomeDir()
		if err != nil {
			return t, fmt.Errorf("home directory: %w", err)
		}
		t.Settings = filepath.Join(home, ".claude", "settings.json")
		t.MCP = filepath.Join(home, ".claude.json")
	case "project":
		cwd, err := os.Getwd()
		if err != nil {
			return t, fmt.Errorf("working directory: %w", err)
		}
		root := cwd
		if r, _, ok := hook.GitRoot(cwd); ok {
			root = r
		}
		t.Settings = filepath.Join(root, ".claude", "settings.json")
		t.MCP = filepath.Join(root, ".mcp.json")
	default:
		return t, fmt.Errorf("--scope is %q: want user or project", scope)
	}
	if settings != "" {
		t.Settings = settings
	}
	if mcpFile != "" {
		t.MCP = mcpFile
	}
	if noMCP {
		t.MCP = ""
	}
	var err error
	if t.Settings, err = filepath.Abs(t.Settings); err != nil {
		return t, err
	}
	if t.MCP != "" {
		if t.MCP, err = filepath.Abs(t.MCP); err != nil {
			return t, err
		}
	}
	if exe == "" {
		if exe, err = mnemoExecutable(); err != nil {
			return t, err
		}
	}
	if t.Exe, err = filepath.Abs(exe); err != nil {
		return t, err
	}
	t.Home = config.Home()
	return t, nil
}

// mnemoExecutable is the absolute path to run this mnemo by: the path it was
// started by when that is the same file (a stable symlink such as
// /usr/local/bin/mnemo survives upgrades), else the resolved executable.
func mnemoExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the mnemo executable: %w", err)
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if p, err = filepath.Abs(p); err == nil {
			a, errA := os.Stat(p)
			b, errB := os.Stat(exe)
			if errA == nil && errB == nil && os.SameFile(a, b) {
				return p, nil
			}
		}
	}
	return exe, nil
}

// hookExecutable picks what the hooks run: the flag's value, else
// mnemo-hook next to the mnemo executable, else mnemo itself.
func hookExecutable(exe, flagValue string) (string, error) {
	if flagValue != "" {
		p, err := filepath.Abs(flagValue)
		if err != nil {
			return "", err
		}
		if !isMnemoExe(p) {
			return "", fmt.Errorf("--hook-exe %s is not a mnemo or mnemo-hook executable", p)
		}
		return p, nil
	}
	small := filepath.Join(filepath.Dir(exe), "mnemo-hook")
	if fi, err := os.Stat(small); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return small, nil
	}
	return exe, nil
}

func runInstall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	t, dryRun, err := parseInstallFlags("install", args, stdout, stderr)
	if err != nil {
		return exit.Usage(err)
	}
	changed, cm, err := installClaudeCode(t, dryRun)
	if err != nil {
		return err
	}
	switch {
	case cm.any() && t.ReplaceClaudeMem && dryRun:
		fmt.Fprintf(stdout, "would turn off claude-mem's %s in %s\n", cm, t.Settings)
	case cm.any() && t.ReplaceClaudeMem:
		fmt.Fprintf(stdout, "turned off claude-mem's %s in %s; `mnemo uninstall claude-code` turns it back on\n", cm, t.Settings)
	case cm.any():
		fmt.Fprintln(stdout, claudeMemNotice(t.Settings, cm))
	}
	for _, n := range otherSettingsNotes(t.Settings, claudeSettingsFiles()) {
		fmt.Fprintln(stdout, n)
	}
	report := changeReport{did: "updated", would: "would update", backups: true,
		none: fmt.Sprintf("Mnemo's hooks are already in %s; nothing changed.", t.Settings)}
	if !report.print(stdout, changed, dryRun) {
		return nil
	}
	fmt.Fprintf(stdout, "hooks run %s; check the whole path with `mnemo doctor`.\n", hookCommandLine(t.HookExe, "<event>"))
	return nil
}

func runUninstall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	t, dryRun, err := parseInstallFlags("uninstall", args, stdout, stderr)
	if err != nil {
		return exit.Usage(err)
	}
	changed, notes, err := uninstallClaudeCode(t, dryRun)
	if err != nil {
		return err
	}
	if !dryRun {
		for _, n := range notes {
			fmt.Fprintln(stdout, n)
		}
	}
	report := changeReport{did: "removed Mnemo from", would: "would remove Mnemo from",
		none: fmt.Sprintf("no Mnemo hooks found in %s; nothing changed.", t.Settings)}
	report.print(stdout, changed, dryRun)
	return nil
}

// changeReport is how install and uninstall list the files they changed, or
// would change on a dry run.
type changeReport struct {
	did, would string // the verb, done and on a dry run
	none       string // the line when nothing changed
	backups    bool   // each changed file was backed up as <file>.mnemo.bak
}

// print lists changed, one line a file, and reports whether there were any.
func (r changeReport) print(w io.Writer, changed []string, dryRun bool) bool {
	if len(changed) == 0 {
		fmt.Fprintln(w, r.none)
		return false
	}
	verb := r.did
	if dryRun {
		verb = r.would
	}
	for _, p := range changed {
		if r.backups {
			fmt.Fprintf(w, "%s %s (backup: %s.mnemo.bak)\n", verb, p, p)
		} else {
			fmt.Fprintf(w, "%s %s\n", verb, p)
		}
	}
	return true
}
