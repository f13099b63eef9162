package bus_test

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
)

// Layout.Bind is the one binding the worker and the reaper share: a variable
// beats the default and a flag beats the variable, under the same names.
func TestLayoutBindReadsVariablesAndFlags(t *testing.T) {
	t.Setenv("MNEMO_PARTITIONS", "16")
	t.Setenv("MNEMO_BACKOFF", "1s,2s")
	l := bus.DefaultLayout()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := config.NewSet(fs)
	l.Bind(s)
	if err := s.Parse([]string{"-max-deliver", "7", "-replicas", "3"}); err != nil {
		t.Fatal(err)
	}
	want := bus.DefaultLayout()
	want.Partitions, want.BackOff, want.MaxDeliver, want.Replicas = 16, []time.Duration{time.Second, 2 * time.Second}, 7, 3
	if l.Partitions != want.Partitions || !slices.Equal(l.BackOff, want.BackOff) || l.MaxDeliver != want.MaxDeliver ||
		l.Replicas != want.Replicas || l.AckWait != want.AckWait {
		t.Fatalf("bound layout %+v, want %+v", l, want)
	}
	for _, v := range []string{"MNEMO_PARTITIONS", "MNEMO_REPLICAS", "MNEMO_ACK_WAIT", "MNEMO_MAX_DELIVER", "MNEMO_BACKOFF"} {
		if !slices.Contains(s.Variables(), v) {
			t.Errorf("%s not bound (%v)", v, s.Variables())
		}
	}
}
