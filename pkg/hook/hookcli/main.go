package hookcli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mnemo-dev/mnemo/pkg/exit"
)

// Main is the whole hook executable (mnemo-hook): `hook claude-code <event>`
// and `spool status|flush`, the two commands a hook process and its
// background flusher run. It returns the exit status. A binary built on it
// alone starts in a fraction of the time of the full mnemo binary, whose
// package initialisation (NATS server, stores, metrics) the agent would
// otherwise wait for at every tool call.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return 2
	}
	if IsHelp(args[0]) {
		fmt.Fprint(stdout, mainUsage)
		return 0
	}
	var err error
	switch args[0] {
	case "hook":
		// The hook's work is bounded by its deadlines, and it must end with
		// exit 0 and its event sent or spooled: SIGINT and SIGTERM are
		// ignored rather than watched. Watching them (signal.Notify) costs
		// every hook a goroutine parked on an OS thread of its own, with its
		// clone and wake-ups, at every tool call. A child the hook starts
		// (the background flusher, mnemo for an https URL) watches them again.
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		err = RunHook(context.Background(), args[1:], stdin, stdout, stderr)
	case "spool":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = RunSpool(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "mnemo-hook: unknown command %q (want hook or spool)\n\n%s", args[0], mainUsage)
		return 2
	}
	code, err := exit.Status(err)
	if err != nil {
		fmt.Fprintf(stderr, "mnemo-hook %s: %v\n", args[0], err)
	}
	return code
}

// mainUsage is mnemo-hook's help.
const mainUsage = `mnemo-hook: the small executable Claude Code's hooks run (the same as mnemo's
hook and spool commands, without the full binary's start-up cost).

Usage:
  mnemo-hook hook claude-code <event>   record the hook payload on stdin (always exits 0)
  mnemo-hook spool status [--json]      events waiting in the local spool
  mnemo-hook spool flush [--timeout D]  replay the spool to Mnemo now

Run ` + "`mnemo-hook hook -h`" + ` or ` + "`mnemo-hook spool -h`" + ` for more.
`

// IsHelp reports whether a command-line argument asks for help.
func IsHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// wantsHelp reports whether any argument asks for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if IsHelp(a) && a != "help" {
			return true
		}
	}
	return len(args) > 0 && args[0] == "help"
}
