package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("bench", command{
		summary: "benchmarks: `bench load` drives a deployment, `bench report` runs the suite",
		run: func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			if len(args) == 0 {
				return fmt.Errorf("usage: mnemo bench load|report [flags]")
			}
			switch args[0] {
			case "load":
				return loadCmd(ctx, args[1:], stdout, stderr)
			case "report":
				return reportCmd(ctx, args[1:], stdout, stderr)
			}
			return fmt.Errorf("unknown bench command %q: want load or report", args[0])
		},
	})
}
