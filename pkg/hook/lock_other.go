//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hook

import "os"

// lockFile is a no-op where flock(2) is missing: the state file is small and
// written in one call, and a torn read only costs a missed dedupe.
func lockFile(f *os.File, exclusive bool) error { return nil }
