package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process a test runs (a worker, a reaper), so that a kill
// -9 is a real one. Its output goes to a log file whose tail is printed when
// the test fails; t.Cleanup kills it.
type Proc struct {
	ID   string
	Cmd  *exec.Cmd
	Log  string
	done chan struct{}
}

// StartProc starts bin with env (added to the test's environment).
func StartProc(t testing.TB, id, bin string, env ...string) *Proc {
	t.Helper()
	return StartCmd(t, id, bin, nil, env...)
}

// StartCmd starts bin with args and env (added to the test's environment).
// The compressor is pinned offline unless env names one, so a developer's
// logged-in claude CLI never changes what a test exercises.
func StartCmd(t testing.TB, id, bin string, args []string, env ...string) *Proc {
	t.Helper()
	return start(t, id, bin, args, append(append(os.Environ(), "MNEMO_LLM_PROVIDER=offline"), env...), os.Kill) // the last of a name wins
}

// StartExact starts bin with args and exactly env, nothing of the test's
// environment, as a deployment starts it; when the test ends it is stopped
// with SIGTERM, as there, and killed if it is still running 15 s later.
func StartExact(t testing.TB, id, bin string, args, env []string) *Proc {
	t.Helper()
	return start(t, id, bin, args, env, syscall.SIGTERM)
}

// start runs bin with exactly env and stops it with stop when the test ends.
func start(t testing.TB, id, bin string, args, env []string, stop os.Signal) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), id+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("testkit: start %s: %v", id, err)
	}
	p := &Proc{ID: id, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Signal(stop)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("--- last lines of %s:\n%s", id, strings.Join(lines, "\n"))
		}
	})
	return p
}

// Signal sends sig and waits for the process to end (killing it after 15 s).
func (p *Proc) Signal(sig os.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Output is what the process has written so far (its log file).
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Alive reports whether process pid runs: it exists and is not a zombie (a
// process that exited and was not reaped yet is gone for a test).
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !(i > 0 && len(s) > i+2 && s[i+2] == 'Z') && syscall.Kill(pid, 0) == nil
}
