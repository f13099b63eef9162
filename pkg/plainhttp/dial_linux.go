package plainhttp

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// conn is a connected socket: its reads and writes honour deadlines through
// the runtime's poller, as a net.Conn's do.
type conn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
}

// dial connects a non-blocking TCP socket with the system calls themselves
// and hands it to the runtime's poller through os.NewFile: the same poller
// the net package uses, without linking net (and with it, where cgo is on,
// libc's resolver and a dynamic loader the hook would pay at every start).
func dial(ctx context.Context, ap netip.AddrPort) (conn, error) {
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip := ap.Addr().Unmap(); ip.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	cerr := syscall.Connect(fd, sa)
	if cerr != nil && cerr != syscall.EINPROGRESS {
		syscall.Close(fd)
		return nil, fmt.Errorf("dial %s: %w", ap, cerr)
	}
	f := os.NewFile(uintptr(fd), "tcp:"+ap.String()) // non-blocking: pollable
	if dl, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if cerr == syscall.EINPROGRESS {
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dial %s: %w", ap, err)
		}
		var soErr error
		// Called once the poller is armed for this wait, then at each
		// writability: done when the socket has failed or has a peer. (A
		// check, not a blind first wait: a loopback connect may complete
		// before the poller is armed, and its edge would be lost.)
		err = rc.Write(func(fd uintptr) bool {
			if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil {
				soErr = err
				return true
			} else if v != 0 {
				soErr = syscall.Errno(v)
				return true
			}
			_, err := syscall.Getpeername(int(fd))
			return err == nil
		})
		if err == nil {
			err = soErr
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dial %s: %w", ap, err)
		}
	}
	return f, nil
}
