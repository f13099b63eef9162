package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// ServiceVersion is the version every Mnemo NATS micro service reports.
const ServiceVersion = "0.1.0"

// BuildKey is the micro-service metadata key holding the binary's build
// (BuildVersion), so that an operator sees which build each instance runs.
const BuildKey = "build"

// ServiceStatsSubject is where one instance of a service answers for its
// stats: mnemo.<service>.stats.<instance>; instance must be one subject token.
func ServiceStatsSubject(service, instance string) string {
	return "mnemo." + service + ".stats." + instance
}

// ServiceName is the NATS micro-service name of a Mnemo service.
func ServiceName(service string) string { return "mnemo-" + service }

// SubjectToken makes s usable as one subject token: '.', '*', '>' and white
// space or control characters become '_'.
func SubjectToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '.' || c == '*' || c == '>' || c <= ' ' {
			b[i] = '_'
		}
	}
	return string(b)
}

// DefaultInstance names this process among the instances of a service when
// its configuration names none: <host>-<pid>, the host reduced to
// [A-Za-z0-9_-].
func DefaultInstance() string {
	host, _ := os.Hostname()
	b := []byte(host)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		b = []byte("host")
	}
	return fmt.Sprintf("%s-%d", b, os.Getpid())
}

// AddService registers one instance of a Mnemo service (ingest, worker,
// reaper, query) on nc as the NATS micro service mnemo-<service> with the
// shared version and the binary's build in its metadata (docs/ARCHITECTURE.md
// §4): stats answers both the micro stats request and
// ServiceStatsSubject(service, SubjectToken(instance)). Its errors start with
// the service's name.
func AddService(nc *nats.Conn, service, instance, description string, metadata map[string]string, stats func() any) (micro.Service, error) {
	md := maps.Clone(metadata)
	if md == nil {
		md = map[string]string{}
	}
	md[BuildKey] = BuildVersion()
	svc, err := micro.AddService(nc, micro.Config{
		Name:         ServiceName(service),
		Version:      ServiceVersion,
		Description:  description,
		Metadata:     md,
		StatsHandler: func(*micro.Endpoint) any { return stats() },
	})
	if err != nil {
		return nil, fmt.Errorf("%s: register micro service: %w", service, err)
	}
	err = svc.AddEndpoint("stats", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON(stats())
	}), micro.WithEndpointSubject(ServiceStatsSubject(service, SubjectToken(instance))))
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("%s: add stats endpoint: %w", service, err)
	}
	return svc, nil
}

// InstanceStats is one running instance's answer to the micro STATS request:
// its identity, build, start time and the service's own figures (the value
// its stats function returned).
type InstanceStats struct {
	ID       string            `json:"id"`
	Build    string            `json:"build"`
	Started  time.Time         `json:"started"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Data     json.RawMessage   `json:"data,omitempty"`
}

// MaxInstances bounds how many answers CollectStats reads: a cluster with
// more instances of one service than this is not one Mnemo is sized for.
const MaxInstances = 256

// CollectStats asks every running instance of a Mnemo service for its stats
// through the broker ($SRV.STATS.mnemo-<service>) and gathers the answers
// that arrive within wait (every instance answers at once; wait is the
// round trip allowed). The instances are those alive now: one whose process
// died has no subscription left and does not answer.
func CollectStats(ctx context.Context, nc *nats.Conn, service string, wait time.Duration) ([]InstanceStats, error) {
	subj, err := micro.ControlSubject(micro.StatsVerb, ServiceName(service), "")
	if err != nil {
		return nil, fmt.Errorf("stats subject: %w", err)
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe for %s stats: %w", service, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		return nil, fmt.Errorf("ask for %s stats: %w", service, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	out := []InstanceStats{}
	for len(out) < MaxInstances {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				break
			}
			return out, fmt.Errorf("read %s stats: %w", service, err)
		}
		var st micro.Stats
		if err := json.Unmarshal(msg.Data, &st); err != nil {
			continue // not a micro service's answer
		}
		is := InstanceStats{ID: st.ID, Build: st.Metadata[BuildKey], Started: st.Started, Metadata: st.Metadata}
		for _, e := range st.Endpoints {
			if e != nil && len(e.Data) > 0 {
				is.Data = e.Data
				break
			}
		}
		out = append(out, is)
	}
	return out, nil
}

// BuildVersion is this binary's version from its build information: the
// main module's version, else its VCS revision (12 characters, "+dirty" when
// built from modified files), else "devel".
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(12, len(rev))] + dirty
}
