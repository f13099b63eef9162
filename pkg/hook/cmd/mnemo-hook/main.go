// Command mnemo-hook is the small executable Claude Code runs at every hook:
// `mnemo-hook hook claude-code <event>` does exactly what `mnemo hook
// claude-code <event>` does, and `mnemo-hook spool status|flush` what `mnemo
// spool` does, without the full mnemo binary's start-up cost (its package
// initialisation takes several milliseconds the agent would wait for).
// `mnemo install claude-code` uses it when it sits next to mnemo.
package main

import (
	"os"

	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
)

func main() {
	os.Exit(hookcli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
