// Package natsembed runs an in-process nats-server with JetStream: the broker
// of `mnemo run` on one machine and of the tests (docs/ARCHITECTURE.md §4).
// It is apart from pkg/bus so that only those link the server; the service
// binaries speak to a broker through pkg/bus alone.
package natsembed

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an in-process nats-server with JetStream.
type Config struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 = a free port; -1 = no client listener at all
	StoreDir string // JetStream file storage
	HTTPPort int    // monitoring (/varz, /jsz); 0 = off
	Name     string
	// Cluster routes for a clustered embedded server.
	ClusterName string
	ClusterHost string
	ClusterPort int
	Routes      []string
	// Token required of clients when set.
	Token string
	// MaxMemory and MaxStore bound JetStream resources (0 = server default).
	MaxStore int64
}

// Start starts an in-process nats-server with JetStream and waits until
// it accepts clients.
func Start(c Config) (*server.Server, error) {
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := c.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:            c.Name,
		Host:                  host,
		Port:                  port,
		JetStream:             true,
		StoreDir:              c.StoreDir,
		JetStreamMaxStore:     c.MaxStore,
		NoSigs:                true,
		NoLog:                 true,
		HTTPHost:              host,
		HTTPPort:              c.HTTPPort,
		Authorization:         c.Token,
		MaxPayload:            8 << 20,
		DisableShortFirstPing: true,
	}
	if c.HTTPPort == 0 {
		opts.HTTPPort = 0
	}
	if c.ClusterName != "" {
		opts.Cluster.Name = c.ClusterName
		opts.Cluster.Host = c.ClusterHost
		opts.Cluster.Port = c.ClusterPort
		opts.Routes = server.RoutesFromStr(strings.Join(c.Routes, ","))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: configure nats-server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("natsembed: nats-server not ready after 10s (store dir %s)", c.StoreDir)
	}
	return s, nil
}
