package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	accepted    prometheus.Counter
	duplicates  prometheus.Counter
	rejected    *prometheus.CounterVec
	publish     prometheus.Histogram
	metaDropped prometheus.Counter
	metaFailed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_ingest_accepted_total", Help: "Events stored by JetStream (new, not duplicates).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_ingest_duplicates_total", Help: "Events JetStream already had (same event ID).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mnemo_ingest_rejected_total", Help: "Events refused, by reason (unavailable is a 503).",
		}, []string{"reason"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mnemo_ingest_publish_seconds",
			Help:    "Time from publish to JetStream ack for single events.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		metaDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_ingest_meta_dropped_total", Help: "Session metadata updates dropped (too many sessions waiting for their write); the worker repairs them.",
		}),
		metaFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mnemo_ingest_meta_failed_total", Help: "Session metadata writes Redis refused, counted per session; the worker repairs them.",
		}),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.duplicates, m.rejected, m.publish, m.metaDropped, m.metaFailed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return m, nil
}
