package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/natsembed"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an embedded nats-server with JetStream on file storage.
type NATS struct {
	t   testing.TB
	cfg natsembed.Config

	mu  sync.Mutex
	srv *server.Server
}

// StartNATS starts an embedded nats-server with JetStream, file storage in
// t.TempDir() and a loopback port it binds itself (port 0) and keeps across
// Restart; t.Cleanup shuts it down.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, cfg: natsembed.Config{
		StoreDir: filepath.Join(t.TempDir(), "jetstream"),
		Name:     fmt.Sprintf("test-%d", time.Now().UnixNano()),
	}}
	n.start()
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	if err := n.tryStart(50); err != nil {
		n.t.Fatalf("testkit: start nats-server: %v", err)
	}
}

// tryStart starts the server, trying again while its port may still be held
// by the previous incarnation's sockets, and records the ports it bound so
// that a restart comes back where clients look for it.
func (n *NATS) tryStart(attempts int) error {
	var (
		s   *server.Server
		err error
	)
	for i := 0; i < attempts; i++ {
		if s, err = natsembed.Start(n.cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srv = s
	if a, ok := s.Addr().(*net.TCPAddr); ok && n.cfg.Port != a.Port {
		n.cfg.Port = a.Port
	}
	return nil
}

// URL is the client URL of the server; it stays the same across Restart.
func (n *NATS) URL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", n.cfg.Port)
}

// Server returns the running server.
func (n *NATS) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// StoreDir is the JetStream storage directory, kept across Restart.
func (n *NATS) StoreDir() string { return n.cfg.StoreDir }

// Shutdown stops the server (a crash, as far as clients can tell). It is safe
// to call more than once.
func (n *NATS) Shutdown() {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart stops the server and starts it again on the same port with the same
// store, as a broker restart after a crash.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Shutdown()
	n.start()
}

// Start starts a server that was shut down, on the same port and store.
func (n *NATS) Start() {
	n.t.Helper()
	if n.Server() != nil {
		return
	}
	n.start()
}

// Connect returns a client connection and JetStream context, closed by t.Cleanup.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, n.URL())
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Name("mnemo-test"))
	if err != nil {
		t.Fatalf("testkit: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testkit: jetstream: %v", err)
	}
	return nc, js
}

// Ensure creates Mnemo's streams and consumers with the layout on the server.
func Ensure(t testing.TB, js jetstream.JetStream, l bus.Layout) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.Ensure(ctx, js, l, nil); err != nil {
		t.Fatalf("testkit: ensure streams and consumers: %v", err)
	}
}

// TestLayout is the default layout with short timers, for tests that must see
// redeliveries within seconds.
func TestLayout() bus.Layout {
	l := bus.DefaultLayout()
	l.AckWait = 5 * time.Second
	l.BackOff = nil
	return l
}

// Cluster is a real JetStream cluster of embedded servers on loopback.
type Cluster struct {
	t     testing.TB
	Nodes []*NATS
}

// StartCluster starts n embedded servers routed into one JetStream cluster
// and waits until it has a meta leader; t.Cleanup shuts them down.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	var c *Cluster
	var err error
	// Every node must know the others' route ports before it starts, so they
	// are chosen first; one taken meanwhile fails a start, and the cluster is
	// started again on other ports.
	for attempt := 0; attempt < 3; attempt++ {
		if c, err = startCluster(t, n); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("testkit: start a %d-node cluster: %v", n, err)
	}
	c.WaitMetaLeader(30 * time.Second)
	// Every node routed to the others and current with the meta group, so
	// the first stream a test creates is not raced by the cluster forming.
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range c.Nodes {
		for s := node.Server(); s == nil || s.NumRoutes() < n-1 || !s.JetStreamIsCurrent(); s = node.Server() {
			if time.Now().After(deadline) {
				t.Fatalf("testkit: cluster node %s not routed and current after 30s", node.cfg.Name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

func startCluster(t testing.TB, n int) (*Cluster, error) {
	name := fmt.Sprintf("mnemo-test-%d", time.Now().UnixNano())
	routes := make([]string, n)
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		p, err := unusedPort()
		if err != nil {
			return nil, err
		}
		clusterPorts[i] = p
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	c := &Cluster{t: t}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, &NATS{t: t, cfg: natsembed.Config{
			StoreDir:    filepath.Join(dir, fmt.Sprintf("n%d", i)),
			Name:        fmt.Sprintf("n%d", i),
			ClusterName: name,
			ClusterHost: "127.0.0.1",
			ClusterPort: clusterPorts[i],
			Routes:      routes,
		}})
	}
	// Start concurrently: each node waits for routes before JetStream is ready.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, node := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = node.tryStart(1)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, node := range c.Nodes {
			node.Shutdown()
		}
		return nil, err
	}
	for _, node := range c.Nodes {
		t.Cleanup(node.Shutdown)
	}
	return c, nil
}

// unusedPort is a port nothing listened on a moment ago: only for a
// cluster's route ports, which every node must know before any starts.
func unusedPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testkit: find a route port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URLs is a comma-separated client URL list of all nodes.
func (c *Cluster) URLs() string {
	s := ""
	for i, n := range c.Nodes {
		if i > 0 {
			s += ","
		}
		s += n.URL()
	}
	return s
}

// Connect returns a client connected to the cluster, closed by t.Cleanup.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return connect(t, c.URLs())
}

// WaitMetaLeader waits until the JetStream meta group has a leader.
func (c *Cluster) WaitMetaLeader(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			if s := n.Server(); s != nil && s.JetStreamIsLeader() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("testkit: no JetStream meta leader after %s", timeout)
}

// StreamLeader returns the node that leads the stream, or nil.
func (c *Cluster) StreamLeader(stream string) *NATS {
	for _, n := range c.Nodes {
		if s := n.Server(); s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return n
		}
	}
	return nil
}

// StreamInfo returns stream and its info, failing the test when either
// cannot be read.
func StreamInfo(t testing.TB, ctx context.Context, js jetstream.JetStream, stream string) (jetstream.Stream, *jetstream.StreamInfo) {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, info
}

// StreamData returns the body of every message of stream, in sequence
// order, failing the test on any message it cannot read: for streams a test
// expects to hold every message it published.
func StreamData(t testing.TB, js jetstream.JetStream, stream string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, info := StreamInfo(t, ctx, js, stream)
	var out [][]byte
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("%s: get seq %d: %v", stream, seq, err)
		}
		out = append(out, m.Data)
	}
	return out
}
