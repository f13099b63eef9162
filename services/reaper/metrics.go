package reaper

import (
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
	part := []string{"partition"}
	m := &metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mnemo_reaper_leader", Help: "1 while this reaper holds the leadership lock.",
		}),
		deadWorkers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_reaper_dead_workers_total", Help: "Dead workers whose work was released.",
		}),
		naked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_reaper_inflight_naked_total", Help: "In-flight messages of dead workers NAKed for redelivery.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mnemo_reaper_dead_letters_total", Help: "Advisories turned into dead letters, by advisory kind.",
		}, []string{"kind"}),
		idleStops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_reaper_idle_stops_total", Help: "Synthetic stops published for idle sessions.",
		}),
		metaRebuilt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_reaper_meta_rebuilt_total", Help: "Session metadata rebuilt in Redis from the store.",
		}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mnemo_reaper_consumer_pending", Help: "Messages not yet delivered, per partition consumer.",
		}, part),
		ackPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mnemo_reaper_consumer_ack_pending", Help: "Messages delivered and not acknowledged, per partition consumer.",
		}, part),
		redelivered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mnemo_reaper_consumer_redelivered", Help: "Messages redelivered and not acknowledged, per partition consumer.",
		}, part),
		ackFloor: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mnemo_reaper_consumer_ack_floor", Help: "Stream sequence of the consumer's ack floor, per partition.",
		}, part),
		oldestUnacked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mnemo_reaper_partition_oldest_unacked_seconds", Help: "Age of the oldest unacknowledged message, per partition (0 = none).",
		}, part),
		stuck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mnemo_reaper_partitions_stuck", Help: "Partitions whose oldest unacknowledged message is older than the threshold.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mnemo_reaper_errors_total", Help: "Failed reaper actions, by task (retried on the next pass).",
		}, []string{"task"}),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.deadWorkers, m.naked, m.deadLetters, m.idleStops, m.metaRebuilt,
			m.pending, m.ackPending, m.redelivered, m.ackFloor, m.oldestUnacked, m.stuck, m.errors)
	}
	return m
}
