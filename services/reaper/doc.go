// Package reaper does what JetStream alone does not (docs/ARCHITECTURE.md §7). Several
// reapers may run; they elect a leader through a Redis lock
// (mnemo:reaper:leader, SET NX PX, renewed by a Lua compare-and-extend) and
// only the leader acts. Every action is idempotent, so a leader that dies
// half-way leaves nothing the next one cannot redo:
//
//   - Dead workers: a worker whose heartbeat expired has its partition leases
//     and session locks released and every message it registered as in flight
//     NAKed through its ack reply subject, so another worker gets it at once
//     instead of after AckWait; then it is forgotten.
//   - Dead letters: MAX_DELIVERIES and MSG_TERMINATED advisories captured in
//     MNEMO_ADVISORIES become MNEMO_DLQ entries (the original event fetched by
//     sequence, the reason, the delivery count; Nats-Msg-Id dlq-<stream>-<seq>)
//     and store dead-letter rows. Replay republishes the original under a new
//     event ID whose replay_of records the original.
//   - Idle sessions: a session with events but no stop for IdleSummary gets a
//     synthetic stop on the normal publish subject, with an event ID derived
//     from the session and its last event, so the worker makes the summary in
//     order, once, whichever reaper asks and however often.
//   - Audits: per-partition consumer figures and the age of the oldest
//     unacknowledged message as metrics, a log line for stuck partitions, and
//     Redis session metadata rebuilt from the store when missing.
//
// It serves /metrics and /healthz on a loopback address and registers the NATS
// micro service mnemo-reaper.
package reaper
