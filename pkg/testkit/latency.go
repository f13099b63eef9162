package testkit

import (
	"slices"
	"testing"
	"time"
)

// ReportLatency reports the median and the 99th percentile of lat in
// milliseconds, as the metrics p50-ms and p99-ms that `mnemo bench report`
// reads. It sorts lat; with no latencies it reports nothing.
func ReportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
}
