package query

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

// The ops page's limits (docs/ARCHITECTURE.md §16).
const (
	// opsHistory is how many chart samples query keeps in memory: at most
	// one per opsSampleEvery, so at least 5 minutes.
	opsHistory = 600
	// opsSampleEvery is the least time between two chart samples; /v1/ops
	// calls closer together share the last one.
	opsSampleEvery = 500 * time.Millisecond
	// opsGather is how long /v1/ops waits for the services' answers to the
	// micro-service STATS request.
	opsGather = 300 * time.Millisecond
	// opsDeadLetters is how many dead letters /v1/ops lists, newest first.
	opsDeadLetters = 20
)

// opsSources says where each figure of /v1/ops comes from, shown by the page.
var opsSources = map[string]string{
	"figures":      "JetStream consumer info of every partition consumer (queue depth, in flight), Redis (active sessions)",
	"partitions":   "JetStream consumer info (pending, ack pending, num_redelivered); lease holder from the workers' STATS",
	"workers":      "NATS micro service mnemo-worker: $SRV.STATS answers of the live instances",
	"ingest":       "NATS micro service mnemo-ingest: $SRV.STATS answers (events accepted)",
	"reaper":       "NATS micro service mnemo-reaper: $SRV.STATS answers (leader flag)",
	"dead_letters": "the store's dead_letters table; Replay republishes through JetStream",
	"llm":          "calls and latency: the workers' STATS; tokens and cost today: the store's llm_usage table",
	"pending":      "JetStream: the message after the ack floor of each partition consumer",
	"history":      "samples of the above kept in this query process's memory (at most " + strconv.Itoa(opsHistory) + ")",
}

// OpsWorker is one live worker as it answers through the broker.
type OpsWorker struct {
	api.WorkerStats
	ID      string    `json:"id"`
	Build   string    `json:"build"`
	Started time.Time `json:"started"`
}

// OpsIngest is one live ingest instance.
type OpsIngest struct {
	api.IngestStats
	ID    string `json:"id"`
	Build string `json:"build"`
}

// OpsReaper is one live reaper.
type OpsReaper struct {
	api.ReaperStats
	ID    string `json:"id"`
	Build string `json:"build"`
}

// OpsLLM are the compressor's figures: calls and time from the live
// workers (since each started), tokens and cost from the store (today, UTC).
type OpsLLM struct {
	Calls        int64   `json:"calls"`
	Seconds      float64 `json:"seconds"`
	MeanMS       float64 `json:"mean_ms"`
	InputTokens  int64   `json:"input_tokens_today"`
	OutputTokens int64   `json:"output_tokens_today"`
	CostUSD      float64 `json:"cost_usd_today"`
}

// OpsPending is the earliest event not yet acknowledged, cluster-wide.
type OpsPending struct {
	Partition  int       `json:"partition"`
	Seq        uint64    `json:"seq"`
	At         time.Time `json:"at"`
	AgeSeconds float64   `json:"age_seconds"`
}

// OpsSample is one point of the ops page's charts.
type OpsSample struct {
	At         time.Time `json:"at"`
	Accepted   float64   `json:"accepted_per_s"` // events ingest accepted per second
	Applied    float64   `json:"applied_per_s"`  // events the workers processed per second
	QueueDepth uint64    `json:"queue_depth"`
	// LLMLatencyMS is the mean compressor call time since the last sample;
	// nil when no call ended in between.
	LLMLatencyMS *float64 `json:"llm_latency_ms"`
}

// OpsMonitor links the embedded NATS server's monitoring pages.
type OpsMonitor struct {
	Varz string `json:"varz"`
	Jsz  string `json:"jsz"`
}

// Ops is GET /v1/ops: the cluster's machinery at a glance.
type Ops struct {
	At              time.Time           `json:"at"`
	Cluster         Stats               `json:"cluster"`
	Workers         []OpsWorker         `json:"workers"`
	Ingest          []OpsIngest         `json:"ingest"`
	Reapers         []OpsReaper         `json:"reapers"`
	ReaperLeader    string              `json:"reaper_leader"`
	DeadLetters     []store.DeadLetter  `json:"dead_letters"`
	CanReplay       bool                `json:"can_replay"`
	LLM             OpsLLM              `json:"llm"`
	EarliestPending *OpsPending         `json:"earliest_pending"`
	History         []OpsSample         `json:"history"`
	Monitor         *OpsMonitor         `json:"nats_monitor,omitempty"`
	Sources         map[string]string   `json:"sources"`
	Errors          []string            `json:"errors,omitempty"`
	counters        map[string]counters // per instance, for the next sample
}

// counters are one instance's cumulative figures a sample differentiates.
type counters struct {
	accepted, applied, llmCalls int64
	llmSeconds                  float64
}

// opsHistoryRing keeps the chart samples and the counters they come from.
type opsHistoryRing struct {
	mu      sync.Mutex
	samples []OpsSample
	last    time.Time
	prev    map[string]counters
}

// add records a sample from o unless the last one is younger than
// opsSampleEvery, and returns the history, oldest first.
func (h *opsHistoryRing) add(o *Ops) []OpsSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && o.At.Sub(h.last) < opsSampleEvery {
		return slices.Clone(h.samples)
	}
	sm := OpsSample{At: o.At, QueueDepth: o.Cluster.QueueDepth}
	if h.prev != nil {
		secs := o.At.Sub(h.last).Seconds()
		var acc, app, calls int64
		var llmSecs float64
		for id, c := range o.counters {
			p, ok := h.prev[id]
			if !ok || c.accepted < p.accepted || c.applied < p.applied || c.llmCalls < p.llmCalls {
				continue // new or restarted instance: no difference to take yet
			}
			acc += c.accepted - p.accepted
			app += c.applied - p.applied
			calls += c.llmCalls - p.llmCalls
			llmSecs += c.llmSeconds - p.llmSeconds
		}
		sm.Accepted, sm.Applied = float64(acc)/secs, float64(app)/secs
		if calls > 0 {
			ms := llmSecs * 1000 / float64(calls)
			sm.LLMLatencyMS = &ms
		}
	}
	h.prev, h.last = o.counters, o.At
	if h.prev == nil {
		h.prev = map[string]counters{}
	}
	if len(h.samples) == opsHistory {
		h.samples = slices.Delete(h.samples, 0, 1)
	}
	h.samples = append(h.samples, sm)
	return slices.Clone(h.samples)
}

// Ops gathers the ops page's figures from the broker, Redis and the store;
// a source that fails is named in Errors and the others are still reported.
func (s *Server) Ops(ctx context.Context) Ops {
	o := Ops{Workers: []OpsWorker{}, Ingest: []OpsIngest{}, Reapers: []OpsReaper{}, DeadLetters: []store.DeadLetter{},
		Sources: opsSources, counters: map[string]counters{}}
	if s.d.NATSMonitor != "" {
		o.Monitor = &OpsMonitor{Varz: s.d.NATSMonitor + "/varz", Jsz: s.d.NATSMonitor + "/jsz"}
	}
	var mu sync.Mutex
	fail := failTo(&mu, &o.Errors)
	var wg sync.WaitGroup
	wg.Go(func() { o.Cluster = s.Stats(ctx) })
	wg.Go(func() {
		collect(ctx, s, "worker", fail, func(in bus.InstanceStats, st api.WorkerStats) {
			mu.Lock()
			defer mu.Unlock()
			o.Workers = append(o.Workers, OpsWorker{WorkerStats: st, ID: in.ID, Build: in.Build, Started: in.Started})
			o.counters["worker/"+in.ID] = counters{applied: st.Processed, llmCalls: st.LLMCalls, llmSeconds: st.LLMSeconds}
		})
	})
	wg.Go(func() {
		collect(ctx, s, "ingest", fail, func(in bus.InstanceStats, st api.IngestStats) {
			mu.Lock()
			defer mu.Unlock()
			o.Ingest = append(o.Ingest, OpsIngest{IngestStats: st, ID: in.ID, Build: in.Build})
			o.counters["ingest/"+in.ID] = counters{accepted: st.Accepted}
		})
	})
	wg.Go(func() {
		collect(ctx, s, "reaper", fail, func(in bus.InstanceStats, st api.ReaperStats) {
			mu.Lock()
			defer mu.Unlock()
			o.Reapers = append(o.Reapers, OpsReaper{ReaperStats: st, ID: in.ID, Build: in.Build})
		})
	})
	wg.Go(func() {
		dl, err := s.d.Store.DeadLetters(ctx, opsDeadLetters, 0)
		if err != nil {
			fail("dead letters", err)
			return
		}
		for i := range dl {
			dl[i].Payload = nil
		}
		mu.Lock()
		o.DeadLetters = dl
		mu.Unlock()
	})
	wg.Wait()
	o.At = time.Now().UTC()
	// Over the bus a replay needs a reaper to answer: the button shows
	// while one does.
	o.CanReplay = !s.replayOverBus || len(o.Reapers) > 0
	o.Errors = append(o.Errors, o.Cluster.Errors...)
	slices.SortFunc(o.Workers, func(a, b OpsWorker) int { return cmp.Compare(a.Worker, b.Worker) })
	slices.SortFunc(o.Ingest, func(a, b OpsIngest) int { return cmp.Compare(a.Instance, b.Instance) })
	slices.SortFunc(o.Reapers, func(a, b OpsReaper) int { return cmp.Compare(a.Reaper, b.Reaper) })
	for _, w := range o.Workers {
		for _, p := range w.Leased {
			if p >= 0 && p < len(o.Cluster.Partitions) {
				o.Cluster.Partitions[p].LeasedBy = w.Worker
			}
		}
		o.LLM.Calls += w.LLMCalls
		o.LLM.Seconds += w.LLMSeconds
	}
	if o.LLM.Calls > 0 {
		o.LLM.MeanMS = o.LLM.Seconds * 1000 / float64(o.LLM.Calls)
	}
	o.LLM.CostUSD = o.Cluster.LLMCostUSDToday
	o.LLM.InputTokens, o.LLM.OutputTokens = o.Cluster.LLMInputTokensToday, o.Cluster.LLMOutputTokensToday
	for _, r := range o.Reapers {
		if r.Leader {
			o.ReaperLeader = r.Reaper
		}
	}
	pending, err := s.earliestPending(ctx, o.Cluster.Partitions, o.At)
	if err != nil {
		o.Errors = append(o.Errors, "earliest pending: "+err.Error())
	}
	o.EarliestPending = pending
	o.History = s.history.add(&o)
	return o
}

// collect asks every live instance of a service for its stats
// (bus.CollectStats) and hands each answer, decoded as T, to add; what cannot
// be read is reported to fail.
func collect[T any](ctx context.Context, s *Server, service string, fail func(string, error), add func(bus.InstanceStats, T)) {
	ins, err := bus.CollectStats(ctx, s.d.NC, service, opsGather)
	if err != nil {
		fail(service+" stats", err)
	}
	for _, in := range ins {
		var st T
		if err := json.Unmarshal(in.Data, &st); err != nil {
			fail(service+" "+in.ID, err)
			continue
		}
		add(in, st)
	}
}

// earliestPending reads, for each partition with work, the message after the
// consumer's ack floor and returns the oldest; nil when nothing is pending.
func (s *Server) earliestPending(ctx context.Context, parts []PartitionDepth, now time.Time) (*OpsPending, error) {
	var stream jetstream.Stream
	var best *OpsPending
	for _, p := range parts {
		if p.Pending == 0 && p.AckPending == 0 {
			continue
		}
		if stream == nil {
			var err error
			if stream, err = s.d.JS.Stream(ctx, bus.EventsStream); err != nil {
				return nil, err
			}
		}
		m, err := stream.GetMsg(ctx, p.ackFloor+1, jetstream.WithGetMsgSubject(bus.PartitionFilter(p.Partition)))
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // acknowledged since the consumer info was read
			}
			return best, err
		}
		if best == nil || m.Time.Before(best.At) {
			best = &OpsPending{Partition: p.Partition, Seq: m.Sequence, At: m.Time.UTC()}
		}
	}
	if best != nil {
		best.AgeSeconds = max(0, now.Sub(best.At).Seconds())
	}
	return best, nil
}

func (s *Server) handleOpsData(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	httpapi.WriteJSON(w, http.StatusOK, s.Ops(ctx))
}

// handleReplay republishes one dead letter (POST
// /v1/dead-letters/{id}/replay): 404 for none, 409 when it was replayed
// already, 503 when no reaper answered.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		httpapi.WriteError(w, http.StatusBadRequest, "the dead letter ID must be a positive number", "id")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	d, err := s.d.Store.DeadLetter(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "no dead letter "+strconv.FormatInt(id, 10), "id")
		return
	case err != nil:
		s.log.Error("read dead letter", "id", id, "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "the store did not answer", "")
		return
	case d.ReplayedAs != "":
		httpapi.WriteError(w, http.StatusConflict, "dead letter "+strconv.FormatInt(id, 10)+" was replayed as "+d.ReplayedAs, "id")
		return
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	newID, err := s.d.Replay(rctx, id)
	switch {
	case errors.Is(err, bus.ErrAlreadyReplayed):
		httpapi.WriteError(w, http.StatusConflict, "dead letter "+strconv.FormatInt(id, 10)+" was replayed as "+newID, "id")
		return
	case errors.Is(err, bus.ErrNoReaper):
		httpapi.WriteError(w, http.StatusServiceUnavailable, err.Error()+": start a reaper (mnemo-reaper), and let query's broker user publish on "+bus.ReplaySubject, "")
		return
	case err != nil:
		s.log.Error("replay dead letter", "id", id, "err", err)
		httpapi.WriteError(w, http.StatusServiceUnavailable, "replay failed: "+err.Error(), "")
		return
	}
	s.log.Info("dead letter replayed", "id", id, "event_id", newID)
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "replayed_as": newID})
}
