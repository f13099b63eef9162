//go:build !linux

package redisserver

import "syscall"

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
