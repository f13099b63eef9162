package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

func init() {
	register("bench", command{
		summary: "benchmarks: `bench load` drives a deployment, `bench report` runs the suite",
		run: func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
			if len(args) == 0 {
				return &exit.Error{Code: 2, Err: errors.New(benchUsage)}
			}
			if hookcli.IsHelp(args[0]) {
				fmt.Fprintln(stdout, benchUsage)
				return nil
			}
			switch args[0] {
			case "load":
				return loadCmd(ctx, args[1:], stdout, stderr)
			case "report":
				return reportCmd(ctx, args[1:], stdout, stderr)
			}
			return &exit.Error{Code: 2, Err: fmt.Errorf("unknown bench command %q: want load or report", args[0])}
		},
	})
}

const benchUsage = `usage: mnemo bench load|report [flags]
  load    drive a deployment's ingest with paced events and report latency (mnemo bench load -h)
  report  run the benchmark suite and write bench/REPORT.md (mnemo bench report -h)`
