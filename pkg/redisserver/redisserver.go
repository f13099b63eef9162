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
	"sync"
	"syscall"
	"time"
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

// Start starts redis-server bound to 127.0.0.1 and waits until it accepts
// connections. The child dies with its parent (Pdeathsig) on Linux.
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
	if o.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		o.Port = p
	}
	s := &Server{opts: o}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(ctx context.Context) error {
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
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		args = append(args, "--appendonly", "no")
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		cmd := exec.Command(s.opts.Bin, args...)
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("redisserver: start %s: %w", s.opts.Bin, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if lastErr = waitTCP(ctx, s.Addr(), done, 5*time.Second); lastErr == nil {
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
	return fmt.Errorf("redisserver: redis-server on port %d did not come up: %v\n%s", s.opts.Port, lastErr, log)
}

func waitTCP(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s after %s", addr, timeout)
}

// Addr is host:port; it stays the same across Restart.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.opts.Port) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

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
	return s.start(ctx)
}
