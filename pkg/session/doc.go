// Package session keeps Mnemo's coordination state in Redis
// (docs/ARCHITECTURE.md §5). Each concern has its own file and type, and each
// type is the one writer of its keys:
//
//   - membership.go: Membership, a worker's heartbeat in the worker registry;
//     LiveWorkers, DeadWorkers and ForgetWorker read and prune the registry.
//   - partitions.go: PartitionLeases, the worker's leases on stream partitions;
//     FairShare says which partitions a worker should hold.
//   - inflight.go: InflightRegistry, the messages a worker holds (stream
//     sequence → ack subject), so the reaper can NAK a dead worker's work.
//   - lock.go: Locks, session locks with fences.
//   - meta.go: MetaStore, session metadata and the active-session set; nothing
//     else writes those keys (TestOnlyPkgSessionWritesSessionMetadata).
//   - dial.go: the Redis client with Mnemo's timeouts.
//
// Nothing here is canonical: the store is, and everything in Redis can be
// rebuilt from it after a Redis restart.
package session
