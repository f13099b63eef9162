package llm

import (
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	for in, want := range map[string][2]time.Duration{
		"2s": {2 * time.Second, 2 * time.Second}, "0-200ms": {0, 200 * time.Millisecond},
		"10-200ms": {10 * time.Millisecond, 200 * time.Millisecond}, "50ms-2s": {50 * time.Millisecond, 2 * time.Second},
	} {
		lo, hi, err := ParseLatency(in)
		if err != nil || lo != want[0] || hi != want[1] {
			t.Errorf("%s → %v %v %v", in, lo, hi, err)
		}
	}
	for _, bad := range []string{"", "x", "5s-1s", "1-x"} {
		if _, _, err := ParseLatency(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
