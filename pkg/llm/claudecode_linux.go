package llm

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the CLI in its own process group, killed whole on timeout or
// cancel, and has the kernel kill it when the worker dies, kill -9 included:
// no orphan keeps spending the user's tokens.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the CLI's process group.
func killGroup(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
