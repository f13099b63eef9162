package bus

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// ServiceVersion is the version every Mnemo NATS micro service reports.
const ServiceVersion = "0.1.0"

// ServiceStatsSubject is where one instance of a service answers for its
// stats: mnemo.<service>.stats.<instance>; instance must be one subject token.
func ServiceStatsSubject(service, instance string) string {
	return "mnemo." + service + ".stats." + instance
}

// AddService registers one instance of a Mnemo service (ingest, worker,
// reaper) on nc as the NATS micro service mnemo-<service> with the shared
// version (docs/ARCHITECTURE.md §4): stats answers both the micro stats
// request and ServiceStatsSubject.
func AddService(nc *nats.Conn, service, instance, description string, metadata map[string]string, stats func() any) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:         "mnemo-" + service,
		Version:      ServiceVersion,
		Description:  description,
		Metadata:     metadata,
		StatsHandler: func(*micro.Endpoint) any { return stats() },
	})
	if err != nil {
		return nil, fmt.Errorf("register micro service: %w", err)
	}
	err = svc.AddEndpoint("stats", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON(stats())
	}), micro.WithEndpointSubject(ServiceStatsSubject(service, instance)))
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("add stats endpoint: %w", err)
	}
	return svc, nil
}
