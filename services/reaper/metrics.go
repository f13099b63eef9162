package reaper

import (
	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the reaper's Prometheus metrics.
type metrics struct {
	leader        prometheus.Gauge
	deadWorkers   prometheus.Counter
	naked         prometheus.Counter
	deadLetters   *prometheus.CounterVec
	idleStops     prometheus.Counter
	metaRebuilt   prometheus.Counter
	pending       *prometheus.GaugeVec
	ackPending    *prometheus.GaugeVec
	redelivered   *prometheus.GaugeVec
	ackFloor      *prometheus.GaugeVec
	oldestUnacked *prometheus.GaugeVec
	stuck         prometheus.Gauge
	errors        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leader:        daemon.Gauge("mnemo_reaper_leader", "1 while this reaper holds the leadership lock."),
		deadWorkers:   daemon.Counter("mnemo_reaper_dead_workers_total", "Dead workers whose work was released."),
		naked:         daemon.Counter("mnemo_reaper_inflight_naked_total", "In-flight messages of dead workers NAKed for redelivery."),
		deadLetters:   daemon.CounterVec("mnemo_reaper_dead_letters_total", "Advisories turned into dead letters, by advisory kind.", "kind"),
		idleStops:     daemon.Counter("mnemo_reaper_idle_stops_total", "Synthetic stops published for idle sessions."),
		metaRebuilt:   daemon.Counter("mnemo_reaper_meta_rebuilt_total", "Session metadata rebuilt in Redis from the store."),
		pending:       daemon.GaugeVec("mnemo_reaper_consumer_pending", "Messages not yet delivered, per partition consumer.", "partition"),
		ackPending:    daemon.GaugeVec("mnemo_reaper_consumer_ack_pending", "Messages delivered and not acknowledged, per partition consumer.", "partition"),
		redelivered:   daemon.GaugeVec("mnemo_reaper_consumer_redelivered", "Messages redelivered and not acknowledged, per partition consumer.", "partition"),
		ackFloor:      daemon.GaugeVec("mnemo_reaper_consumer_ack_floor", "Stream sequence of the consumer's ack floor, per partition.", "partition"),
		oldestUnacked: daemon.GaugeVec("mnemo_reaper_partition_oldest_unacked_seconds", "Age of the oldest unacknowledged message, per partition (0 = none).", "partition"),
		stuck:         daemon.Gauge("mnemo_reaper_partitions_stuck", "Partitions whose oldest unacknowledged message is older than the threshold."),
		errors:        daemon.CounterVec("mnemo_reaper_errors_total", "Failed reaper actions, by task (retried on the next pass).", "task"),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.deadWorkers, m.naked, m.deadLetters, m.idleStops, m.metaRebuilt,
			m.pending, m.ackPending, m.redelivered, m.ackFloor, m.oldestUnacked, m.stuck, m.errors)
	}
	return m
}
