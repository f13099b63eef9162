package testkit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an embedded nats-server with JetStream on file storage.
type NATS struct {
	t   testing.TB
	cfg bus.EmbeddedConfig

	mu  sync.Mutex
	srv *server.Server
}

// StartNATS starts an embedded nats-server with JetStream, file storage in
// t.TempDir() and a free loopback port; t.Cleanup shuts it down.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, cfg: bus.EmbeddedConfig{
		Port:     FreePort(t),
		StoreDir: filepath.Join(t.TempDir(), "jetstream"),
		Name:     fmt.Sprintf("test-%d", time.Now().UnixNano()),
	}}
	n.start()
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	var (
		s   *server.Server
		err error
	)
	// The port may be briefly held by the previous incarnation's sockets.
	for i := 0; i < 50; i++ {
		if s, err = bus.StartEmbedded(n.cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatalf("testkit: start nats-server: %v", err)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

// URL is the client URL of the server; it stays the same across Restart.
func (n *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.cfg.Port) }

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
	name := fmt.Sprintf("mnemo-test-%d", time.Now().UnixNano())
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = FreePort(t)
	}
	routes := make([]string, n)
	for i, p := range clusterPorts {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	c := &Cluster{t: t}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		node := &NATS{t: t, cfg: bus.EmbeddedConfig{
			Port:        FreePort(t),
			StoreDir:    filepath.Join(dir, fmt.Sprintf("n%d", i)),
			Name:        fmt.Sprintf("n%d", i),
			ClusterName: name,
			ClusterHost: "127.0.0.1",
			ClusterPort: clusterPorts[i],
			Routes:      routes,
		}}
		c.Nodes = append(c.Nodes, node)
	}
	// Start concurrently: each node waits for routes before JetStream is ready.
	var wg sync.WaitGroup
	for _, node := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node.start()
		}()
		t.Cleanup(node.Shutdown)
	}
	wg.Wait()
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
