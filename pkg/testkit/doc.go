// Package testkit starts the real infrastructure Mnemo's tests run on: an
// embedded nats-server with JetStream (alone or as a 3-node cluster), a real
// redis-server child process and a fresh PostgreSQL database, each on a free
// loopback port and torn down by t.Cleanup. Nothing here is a mock.
package testkit
