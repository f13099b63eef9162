//go:build !unix

package llm

import "os/exec"

// ownGroup does nothing where there are no process groups.
func ownGroup(*exec.Cmd) {}

// killGroup kills the CLI.
func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
