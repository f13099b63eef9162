package worker

import (
	"time"

	"github.com/mnemo-dev/mnemo/pkg/daemon"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus metrics.
type metrics struct {
	applied    prometheus.Counter
	duplicates prometheus.Counter
	dead       prometheus.Counter
	stale      prometheus.Counter
	applyDur   prometheus.Histogram
	lag        prometheus.Histogram
}

// newMetrics registers the worker's metrics with reg.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applied:    daemon.Counter("mnemo_worker_events_applied_total", "Events applied to the store."),
		duplicates: daemon.Counter("mnemo_worker_units_duplicate_total", "Units skipped because their events were applied before."),
		dead:       daemon.Counter("mnemo_worker_events_dead_total", "Events given up on and dead-lettered."),
		stale: daemon.Counter("mnemo_worker_stale_writes_refused_total",
			"Writes the store refused because another worker holds a newer fence of the session (this worker had lost its lock)."),
		applyDur: daemon.Histogram("mnemo_worker_apply_seconds", "Store transaction time per unit.",
			prometheus.ExponentialBuckets(0.0005, 2, 14)),
		lag: daemon.Histogram("mnemo_worker_accept_to_stored_seconds", "Time from the broker's accept to the store commit.",
			prometheus.ExponentialBuckets(0.001, 2, 16)),
	}
	reg.MustRegister(m.applied, m.duplicates, m.dead, m.stale, m.applyDur, m.lag)
	return m
}

func (w *Worker) observeApply(start time.Time, evs []streamEvent, res store.ApplyResult) {
	m := w.m
	now := time.Now()
	m.applyDur.Observe(now.Sub(start).Seconds())
	if res.Duplicate {
		m.duplicates.Inc()
		return
	}
	m.applied.Add(float64(len(evs)))
	for _, e := range evs {
		m.lag.Observe(now.Sub(e.at).Seconds())
	}
}

func (w *Worker) countDead(n int) {
	w.m.dead.Add(float64(n))
}

func (w *Worker) countStale() {
	w.m.stale.Inc()
}

func (w *Worker) isStopping() bool { return w.stoppingFlag.Load() }
