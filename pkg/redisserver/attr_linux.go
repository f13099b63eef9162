//go:build linux

package redisserver

import "syscall"

// childAttr makes the child die with its parent, so a killed `mnemo run`
// leaves no redis-server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
