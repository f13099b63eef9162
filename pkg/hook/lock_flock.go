//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hook

import (
	"os"
	"syscall"
)

// lockFile takes an advisory lock on f (shared or exclusive), blocking until
// it is granted; the lock goes with the file's close.
func lockFile(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}
