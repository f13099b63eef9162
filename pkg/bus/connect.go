package bus

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnName is the connection name of a Mnemo process, mnemo-<service>/<host>/<pid>,
// so that /connz and `nats server report connections` show who is who.
func ConnName(service string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("mnemo-%s/%s/%d", service, host, os.Getpid())
}

// ConnectOptions are the options Mnemo's processes connect with.
type ConnectOptions struct {
	URL     string
	Service string
	// Token, or User and Password, authenticate to a secured server.
	Token    string
	User     string
	Password string
	// CredsFile is a NATS credentials file (JWT + nkey).
	CredsFile string
	Logger    *slog.Logger
	// ReconnectWait between attempts; MaxReconnects -1 means forever.
	ReconnectWait time.Duration
}

// Connect connects to NATS with reconnects forever (a broker restart must not
// take a service down) and logs connection state changes.
func Connect(ctx context.Context, o ConnectOptions) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	opts := []nats.Option{
		nats.Name(ConnName(o.Service)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
	switch {
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", o.URL, err)
	}
	return nc, nil
}

// WaitConnected waits until nc is connected or ctx ends.
func WaitConnected(ctx context.Context, nc *nats.Conn) error {
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: not connected to %s: %w", nc.Opts.Url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// ConnectJetStream connects as Connect does and returns the JetStream
// context on the connection too; the caller closes the connection.
func ConnectJetStream(ctx context.Context, o ConnectOptions) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bus: jetstream on %s: %w", o.URL, err)
	}
	return nc, js, nil
}
