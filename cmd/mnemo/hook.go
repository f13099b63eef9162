package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

// The hook and spool commands live in pkg/hook/hookcli, shared with the
// small mnemo-hook executable (pkg/hook/cmd/mnemo-hook) that `mnemo install`
// prefers: the full mnemo binary starts several milliseconds slower.
func init() {
	register("hook", command{
		summary: "agent hook: `mnemo hook claude-code <event>` records the hook payload on stdin (always exits 0)",
		run:     hookcli.RunHook,
	})
	register("spool", command{
		summary: "the hook's local spool of events Mnemo could not take: `mnemo spool status|flush`",
		run: func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
			err := hookcli.RunSpool(ctx, args, stdin, stdout, stderr)
			var ee *hookcli.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.Code, err: ee.Err}
			}
			return err
		},
	})
}

// defaultMnemoURL is where Mnemo listens unless MNEMO_URL says otherwise.
const defaultMnemoURL = hookcli.DefaultURL

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
