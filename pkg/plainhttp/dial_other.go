//go:build !linux

package plainhttp

import (
	"context"
	"net"
	"net/netip"
)

type conn = net.Conn

// dial connects with the net package where the socket calls differ.
func dial(ctx context.Context, ap netip.AddrPort) (conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", ap.String())
}
