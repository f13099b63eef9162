// Package worker turns accepted events into memory: it leases partitions of
// the event stream, hands each session's events to a per-session actor that
// applies them strictly in order and exactly once, and acknowledges a message
// only after its effect is committed to the store.
package worker
