package ingest

import (
	"fmt"

	"github.com/mnemo-dev/mnemo/pkg/daemon"
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
		accepted:   daemon.Counter("mnemo_ingest_accepted_total", "Events stored by JetStream (new, not duplicates)."),
		duplicates: daemon.Counter("mnemo_ingest_duplicates_total", "Events JetStream already had (same event ID)."),
		rejected:   daemon.CounterVec("mnemo_ingest_rejected_total", "Events refused, by reason (unavailable is a 503).", "reason"),
		publish: daemon.Histogram("mnemo_ingest_publish_seconds", "Time from publish to JetStream ack for single events.",
			[]float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
		metaDropped: daemon.Counter("mnemo_ingest_meta_dropped_total", "Session metadata updates dropped (too many sessions waiting for their write); the worker repairs them."),
		metaFailed:  daemon.Counter("mnemo_ingest_meta_failed_total", "Session metadata writes Redis refused, counted per session; the worker repairs them."),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.duplicates, m.rejected, m.publish, m.metaDropped, m.metaFailed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return m, nil
}
