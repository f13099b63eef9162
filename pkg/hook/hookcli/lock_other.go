//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hookcli

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"time"
)

// tryLockFile uses an O_EXCL lock file where flock(2) is missing. A flusher
// that dies leaves it behind; it is taken over after a minute.
func tryLockFile(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path+".excl", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(path + ".excl"); serr == nil && time.Since(fi.ModTime()) > time.Minute {
			_ = os.Remove(path + ".excl")
			return tryLockFile(path)
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

func unlockFile(f *os.File) {
	if f != nil {
		name := f.Name()
		f.Close()
		_ = os.Remove(name)
	}
}

func detach(cmd *exec.Cmd) {}
