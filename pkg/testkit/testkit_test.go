package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSIsRealAndRestartKeepsStore(t *testing.T) {
	n := testkit.StartNATS(t)
	nc, js := n.Connect(t)
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	testkit.Ensure(t, js, testkit.TestLayout())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "mnemo.ev.s1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	// The client reconnects to the same URL; the message survived on disk.
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := js.Stream(ctx, bus.EventsStream)
		if err == nil {
			info, err := s.Info(ctx)
			if err == nil && info.State.Msgs == 1 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream not back with its message after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisIsRealAndRestarts(t *testing.T) {
	r := testkit.StartRedis(t)
	c := r.Client(t)
	ctx := context.Background()
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded on a killed redis-server")
	}
	r.Start()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
	// Nothing persisted: a restart loses what Redis held.
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("key survived a restart of a non-persistent redis-server")
	}
}

func TestClusterReplicatesStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster start takes seconds")
	}
	c := testkit.StartCluster(t, 3)
	_, js := c.Connect(t)
	l := testkit.TestLayout()
	l.Replicas = 3
	l.Partitions = 4
	testkit.Ensure(t, js, l)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, info := testkit.StreamInfo(t, ctx, js, bus.EventsStream)
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream not R3: config %d, cluster %+v", info.Config.Replicas, info.Cluster)
	}
	if c.StreamLeader(bus.EventsStream) == nil {
		t.Fatal("no stream leader found")
	}
	if _, err := js.Publish(ctx, "mnemo.ev.x", []byte("x"), jetstream.WithMsgID("1")); err != nil {
		t.Fatal(err)
	}
}

// Settled reports a count that grows past the wanted one after it was
// reached, and returns once the count stayed put for the quiet period.
func TestSettledSeesLateDuplicates(t *testing.T) {
	start := time.Now()
	count := func() int {
		switch since := time.Since(start); {
		case since < 200*time.Millisecond:
			return 2
		case since < 500*time.Millisecond:
			return 3 // the wanted count
		default:
			return 4 // a duplicate arriving later
		}
	}
	if got := testkit.Settled(t, "events", 3, 10*time.Second, 800*time.Millisecond, count); got != 4 {
		t.Fatalf("Settled = %d, want the late 4th seen", got)
	}
	if took := time.Since(start); took < 1300*time.Millisecond {
		t.Fatalf("Settled returned after %s, before a quiet period after the last change", took)
	}
}
