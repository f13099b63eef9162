package bus_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// Every service registers the same way: mnemo-<service> at the shared
// version, its stats on its own subject.
func TestAddServiceReportsVersionAndStats(t *testing.T) {
	nc, _ := testkit.StartNATS(t).Connect(t)
	svc, err := bus.AddService(nc, "worker", "w1", "test worker", map[string]string{"worker": "w1"},
		func() any { return map[string]int{"applied": 7} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	m, err := nc.Request(bus.ServiceStatsSubject("worker", "w1"), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]int
	if err := json.Unmarshal(m.Data, &st); err != nil || st["applied"] != 7 {
		t.Fatalf("stats %q: %v", m.Data, err)
	}
	m, err = nc.Request("$SRV.INFO.mnemo-worker", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Name, Version string
		Metadata      map[string]string
	}
	if err := json.Unmarshal(m.Data, &info); err != nil || info.Name != "mnemo-worker" || info.Version != bus.ServiceVersion || info.Metadata["worker"] != "w1" {
		t.Fatalf("info %q: %v", m.Data, err)
	}
}
