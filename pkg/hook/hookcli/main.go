package hookcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is the whole hook executable (mnemo-hook): `hook claude-code <event>`
// and `spool status|flush`, the two commands a hook process and its
// background flusher run. It returns the exit status. A binary built on it
// alone starts in a fraction of the time of the full mnemo binary, whose
// package initialisation (NATS server, stores, metrics) the agent would
// otherwise wait for at every tool call.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: mnemo-hook hook claude-code <event> | mnemo-hook spool status|flush")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "hook":
		err = RunHook(ctx, args[1:], stdin, stdout, stderr)
	case "spool":
		err = RunSpool(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "mnemo-hook: unknown command %q (want hook or spool)\n", args[0])
		return 2
	}
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "mnemo-hook %s: %v\n", args[0], ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "mnemo-hook %s: %v\n", args[0], err)
	return 1
}
