// Package reaper does what JetStream alone does not: it redelivers the work of
// dead workers at once, turns exhausted deliveries into dead letters, makes the
// summary of sessions that went idle, and audits consumers against the store.
package reaper
