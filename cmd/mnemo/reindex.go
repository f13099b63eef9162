package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mnemo-dev/mnemo/pkg/embed"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/semantic"
)

func init() {
	register("reindex", command{
		summary: "(re)embed stored observations with the configured MNEMO_EMBED_* model, e.g. after a model change: mnemo reindex [--project P]",
		run:     runReindex,
	})
}

// runReindex embeds every observation (of one project) under the current
// embedding model, replacing its vector; without --project it then drops
// every other model's vectors (docs/ARCHITECTURE.md §14).
func runReindex(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs, set, cfg := storeFlags("reindex", stderr)
	set.Reads(embed.EnvVars)
	project := fs.String("project", "", "only this project's memories (default: all, and other models' vectors are dropped)")
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exit.Error{Code: 2, Err: err}
	}
	if fs.NArg() > 0 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo reindex [--project P]")}
	}
	emb, err := embed.Open(os.Getenv)
	if err != nil {
		return &exit.Error{Code: 2, Err: err}
	}
	if emb == nil {
		return &exit.Error{Code: 2, Err: errors.New("semantic search is off: set MNEMO_EMBED_PROVIDER (openai or gemini) and MNEMO_EMBED_MODEL to the model to embed with")}
	}
	cfg.fillFromRun()
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	progress, done := reindexProgress(stderr)
	n, err := semantic.Reindex(ctx, st, emb, *project, progress)
	done()
	if err != nil {
		return fmt.Errorf("reindex stopped after %d memories (run it again to go on): %w", n, err)
	}
	scope := "every project"
	if *project != "" {
		scope = "project " + *project
	}
	fmt.Fprintf(stdout, "embedded %d memories (observations, summaries, prompts) of %s with %s\n", n, scope, emb.Key())
	return nil
}

// reindexProgress reports on w: a progress bar on a terminal, a plain line
// every few seconds otherwise. done ends the report.
func reindexProgress(w io.Writer) (func(done, total int64), func()) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(done, total int64) {
				if bar == nil {
					bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("embedding"),
						progressbar.OptionShowCount(), progressbar.OptionSetItsString("memories"), progressbar.OptionShowIts(),
						progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
				}
				_ = bar.Set64(done)
			}, func() {
				if bar != nil {
					_ = bar.Finish()
				}
			}
	}
	var next time.Time
	return func(done, total int64) {
		if now := time.Now(); now.After(next) || done == total {
			fmt.Fprintf(w, "embedded %d of %d memories\n", done, total)
			next = now.Add(2 * time.Second)
		}
	}, func() {}
}
