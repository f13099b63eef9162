package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the CPU this process has used, user and system: what a
// benchmark reports next to wall time, which a loaded machine inflates
// more.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
