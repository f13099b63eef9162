//go:build unix && !linux

package llm

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the CLI in its own process group, killed whole on timeout or
// cancel. Only Linux has a parent-death signal.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the CLI's process group.
func killGroup(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
