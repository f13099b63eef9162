// Command mnemo is Mnemo's user CLI: the all-in-one runner (`mnemo run`), the
// agent hooks (`mnemo hook claude-code <event>`), the MCP server and the admin
// commands. Each subcommand lives in its own file and registers itself here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/mnemo-dev/mnemo/pkg/exit"
)

// command is one subcommand.
type command struct {
	summary string
	// run gets the arguments after the subcommand name. Its error is printed
	// and turned into exit status 1; an *exit.Error chooses another.
	run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mnemo: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := exit.Status(c.run(ctx, args[1:], stdin, stdout, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "mnemo %s: %v\n", args[0], err)
	}
	return code
}

// subcommandHelp prints usage to w when args name no subcommand or ask for
// help, as the commands with subcommands (dlq, config) read them: done says
// so, and err is then a missing subcommand's exit status 2, or nil for help.
func subcommandHelp(args []string, w io.Writer, usage string) (done bool, err error) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		return false, nil
	}
	fmt.Fprintln(w, usage)
	if len(args) == 0 {
		return true, &exit.Error{Code: 2}
	}
	return true, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Mnemo: memory for coding agents.\n\nUsage: mnemo <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `mnemo <command> -h` for a command's flags.")
}
