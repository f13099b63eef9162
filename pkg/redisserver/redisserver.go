// Package redisserver runs a redis-server child process: the one outside part
// of the single-machine default, started by `mnemo run` when no Redis is
// configured, and by the tests.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled means redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH: install it with `apt-get install redis-server` (or set MNEMO_REDIS_SERVER to its path, or MNEMO_REDIS_URL to a running Redis)")

// Binary finds redis-server: $MNEMO_REDIS_SERVER, else PATH.
func Binary() (string, error) {
	if p := os.Getenv("MNEMO_REDIS_SERVER"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Options configure the child.
type Options struct {
	Bin  string // "" = Binary()
	Port int    // 0 = a free loopback port
	Dir  string // working dir for its files (required)
	// Persist keeps an append-only file in Dir (the metadata survives a
	// restart of mnemo run); tests leave it off.
	Persist bool
}

// Server is a running redis-server child.
type Server struct {
	opts Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts redis-server bound to 127.0.0.1 and waits until it answers
// INFO with its own process ID (not merely until something accepts on the
// port). The child dies with its parent (Pdeathsig) on Linux.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Bin == "" {
		b, err := Binary()
		if err != nil {
			return nil, err
		}
		o.Bin = b
	}
	if o.Dir == "" {
		return nil, errors.New("redisserver: a directory is required")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("redisserver: %w", err)
	}
	s := &Server{opts: o}
	if err := s.start(ctx, o.Port == 0); err != nil {
		return nil, err
	}
	return s, nil
}

// unusedPort is a loopback port nothing listened on a moment ago. It may be
// taken before redis-server binds it: start then tries another.
func unusedPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the child until it answers as itself. With repick, a failed
// start (the port taken meanwhile, or answered by another server) tries a
// new port; without (a restart), clients hold the address, so the same port
// is tried again while the old sockets go away.
func (s *Server) start(ctx context.Context, repick bool) error {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		if repick {
			p, err := unusedPort()
			if err != nil {
				return err
			}
			s.opts.Port = p
		}
		cmd := exec.Command(s.opts.Bin, s.args()...)
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("redisserver: start %s: %w", s.opts.Bin, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if lastErr = waitOwn(ctx, s.Addr(), cmd.Process.Pid, done, 5*time.Second); lastErr == nil {
			s.mu.Lock()
			s.cmd, s.done = cmd, done
			s.mu.Unlock()
			return nil
		}
		_ = cmd.Process.Kill()
		<-done
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.opts.Dir, "redis.log"))
	return fmt.Errorf("redisserver: redis-server on port %d did not come up: %w\n%s", s.opts.Port, lastErr, log)
}

func (s *Server) args() []string {
	args := []string{
		"--port", strconv.Itoa(s.opts.Port),
		"--bind", "127.0.0.1",
		"--dir", s.opts.Dir,
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--logfile", filepath.Join(s.opts.Dir, "redis.log"),
	}
	if s.opts.Persist {
		return append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	}
	return append(args, "--appendonly", "no")
}

// ErrNotOurs means the port answered, but not from the child just started:
// another redis-server holds it.
var ErrNotOurs = errors.New("redisserver: another redis-server answers on the port")

// waitOwn waits until addr answers INFO with the child's process_id.
func waitOwn(ctx context.Context, addr string, pid int, exited <-chan struct{}, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited (is port %s taken?): %w", addr, errors.Join(lastErr, ErrExited))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		info, err := c.Info(ctx, "server").Result()
		if err == nil {
			got := infoField(info, "process_id")
			if got == strconv.Itoa(pid) {
				return nil
			}
			return fmt.Errorf("%w: %s is process %s, not our child %d", ErrNotOurs, addr, got, pid)
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s after %s: %w", addr, timeout, lastErr)
}

// ErrExited means the child ended before it answered.
var ErrExited = errors.New("redis-server exited")

// infoField reads one "name:value" line of an INFO answer.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// Addr is host:port; it stays the same across Restart.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.opts.Port) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// PID is the child's process ID, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the child is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop asks the child to exit (SIGTERM) and waits for it; SIGKILL after 5 s.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 5*time.Second) }

// Kill kills the child with SIGKILL, losing what it held in memory.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 5*time.Second) }

func (s *Server) signal(sig syscall.Signal, wait time.Duration) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts a stopped or killed server again on the same port.
func (s *Server) Restart(ctx context.Context) error {
	if s.Running() {
		s.Kill()
	}
	return s.start(ctx, false)
}
