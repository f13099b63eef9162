package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

const importClaudeMemUsage = `usage: mnemo import claude-mem [PATH] [--project P] [--dry-run]

Brings a claude-mem database (default ~/.claude-mem/claude-mem.db) into
Mnemo's store: every session, prompt, observation and summary, keeping
projects, prompt numbers, types and timestamps. claude-mem may keep running:
the file is read read-only. Rows already imported are recognised by their
stable keys, so running it again, or after an interrupted run, writes each
row once.`

// runImportClaudeMem is `mnemo import claude-mem`.
func runImportClaudeMem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, set, cfg := storeFlags("import claude-mem", stderr)
	project := fs.String("project", "", "import only this project")
	dryRun := fs.Bool("dry-run", false, "print what would be imported and write nothing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, importClaudeMemUsage)
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	// The path may come before the flags, as users type it: parse again
	// after each positional argument.
	var pos []string
	for rest := args; ; {
		if err := set.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exit.Error{Code: 2, Err: err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) > 1 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo import claude-mem [PATH] [--project P] [--dry-run]")}
	}
	path := claudemem.DefaultPath()
	if len(pos) == 1 {
		path = pos[0]
	}
	db, err := claudemem.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	if m := db.Missing(); len(m) > 0 {
		fmt.Fprintf(stderr, "this claude-mem database is from an older release; imported without: %s\n", strings.Join(m, ", "))
	}
	c, err := db.Count(ctx, *project)
	if err != nil {
		return err
	}
	scope := "every project"
	if *project != "" {
		scope = "project " + *project
	}
	if *dryRun {
		fmt.Fprintf(stdout, "would import from %s (%s): %d sessions, %d prompts, %d observations, %d summaries\n",
			path, scope, c.Sessions, c.Prompts, c.Observations, c.Summaries)
		return nil
	}
	cfg.fillFromRun()
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	total := c.Sessions + c.Prompts + c.Observations + c.Summaries
	progress, done := importProgress(stderr, total)
	res, err := db.ImportInto(ctx, st, *project, progress)
	done()
	if err != nil {
		return err
	}
	if res.Written() > 0 {
		if err := st.Optimize(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "imported %d sessions, %d prompts, %d observations, %d summaries from %s (%s); %d rows were already present\n",
		res.Sessions, res.Prompts, res.Observations, res.Summaries, path, scope, res.Present)
	return nil
}

// importProgress reports progress on w: a progress bar on a terminal
// (schollz/progressbar, a well-kept one, rather than a hand-drawn bar),
// a plain line every few seconds otherwise. done ends the report.
func importProgress(w io.Writer, total int) (claudemem.Progress, func()) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("rows"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		last := 0
		return func(n int) { _ = bar.Add(n - last); last = n }, func() { _ = bar.Finish() }
	}
	var next time.Time
	return func(n int) {
		if now := time.Now(); now.After(next) || n == total {
			fmt.Fprintf(w, "imported %d of %d rows\n", n, total)
			next = now.Add(2 * time.Second)
		}
	}, func() {}
}
