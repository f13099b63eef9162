package query

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/session"
)

// PartitionDepth is one partition consumer's backlog.
type PartitionDepth struct {
	Partition  int    `json:"partition"`
	Pending    uint64 `json:"pending"`     // stored, not yet delivered
	AckPending int    `json:"ack_pending"` // delivered, not yet acknowledged
	// Redelivered counts the delivered, unacknowledged messages that were
	// delivered more than once (JetStream's num_redelivered).
	Redelivered int `json:"redelivered"`
	// LeasedBy is the worker pulling the partition, as the workers report it
	// through the broker (GET /v1/ops only; "" for none).
	LeasedBy string `json:"leased_by,omitempty"`
	// ackFloor is the last stream sequence acknowledged in order: the
	// partition's earliest pending event is the next one after it.
	ackFloor uint64
}

// Stats are SessionManager's figures, cluster-wide: from JetStream consumer
// info, Redis and the store.
type Stats struct {
	ActiveSessions int64    `json:"active_sessions"`
	QueueDepth     uint64   `json:"queue_depth"` // stored events not yet delivered
	InFlight       int      `json:"in_flight"`   // delivered, not yet acknowledged
	ActiveWork     uint64   `json:"active_work"` // queued + in flight
	Processing     bool     `json:"processing"`
	LiveWorkers    []string `json:"live_workers"`
	DLQSize        uint64   `json:"dlq_size"` // messages in the MNEMO_DLQ stream
	// DeadLetters counts the store's dead letters, replayed ones included.
	DeadLetters    int64 `json:"dead_letters"`
	LLMTokensToday int64 `json:"llm_tokens_today"`
	// LLMInputTokensToday and LLMOutputTokensToday split LLMTokensToday.
	LLMInputTokensToday  int64            `json:"llm_input_tokens_today"`
	LLMOutputTokensToday int64            `json:"llm_output_tokens_today"`
	Partitions           []PartitionDepth `json:"partitions"`
	Errors               []string         `json:"errors,omitempty"` // sources that could not be read
	// LLMCostUSDToday is what today's LLM calls cost, as their providers
	// reported it (only the Claude Code CLI does; the others count 0).
	LLMCostUSDToday float64 `json:"llm_cost_usd_today"`

	// The memory held (claude-mem's database figures) and this server's
	// build and time up (its worker figures).
	Observations  int64     `json:"observations"`
	Sessions      int64     `json:"sessions"`
	Prompts       int64     `json:"prompts"`
	Summaries     int64     `json:"summaries"`
	StoreBytes    int64     `json:"store_bytes"`
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	// Semantic says whether semantic search is on, and why not (§14).
	Semantic SemanticStats `json:"semantic"`
}

// failTo returns how concurrent gatherers of figures report a source that
// failed: its name and error are added to *errs under mu, the figures' lock.
func failTo(mu *sync.Mutex, errs *[]string) func(what string, err error) {
	return func(what string, err error) {
		mu.Lock()
		*errs = append(*errs, what+": "+err.Error())
		mu.Unlock()
	}
}

// Stats gathers the figures; a source that fails is named in Errors and the
// others are still reported.
func (s *Server) Stats(ctx context.Context) Stats {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st := Stats{LiveWorkers: []string{}, Partitions: make([]PartitionDepth, s.d.Layout.Partitions),
		Version: bus.BuildVersion(), StartedAt: s.started, UptimeSeconds: int64(time.Since(s.started) / time.Second)}
	var mu sync.Mutex
	fail := failTo(&mu, &st.Errors)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for p := 0; p < s.d.Layout.Partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			st.Partitions[p].Partition = p
			c, err := s.d.JS.Consumer(ctx, bus.EventsStream, bus.ConsumerName(p))
			if err != nil {
				fail(bus.ConsumerName(p), err)
				return
			}
			info, err := c.Info(ctx)
			if err != nil {
				fail(bus.ConsumerName(p), err)
				return
			}
			st.Partitions[p].Pending, st.Partitions[p].AckPending = info.NumPending, info.NumAckPending
			st.Partitions[p].Redelivered, st.Partitions[p].ackFloor = info.NumRedelivered, info.AckFloor.Stream
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		dlq, err := s.d.JS.Stream(ctx, bus.DLQStream)
		if err == nil {
			var info, ierr = dlq.Info(ctx)
			if ierr == nil {
				mu.Lock()
				st.DLQSize = info.State.Msgs
				mu.Unlock()
				return
			}
			err = ierr
		}
		fail("dlq", err)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		day := time.Now().UTC().Truncate(24 * time.Hour)
		c, err := s.d.Store.Counts(ctx, "", day)
		if err != nil {
			fail("store", err)
			return
		}
		size, err := s.d.Store.Size(ctx)
		if err != nil {
			fail("store size", err)
		}
		mu.Lock()
		st.LLMTokensToday = c.InputTokens + c.OutputTokens
		st.LLMInputTokensToday, st.LLMOutputTokensToday = c.InputTokens, c.OutputTokens
		st.DeadLetters = c.DeadLetters
		st.LLMCostUSDToday = c.CostUSD
		st.Observations, st.Sessions, st.Prompts, st.Summaries = c.Observations, c.Sessions, c.Prompts, c.Summaries
		st.StoreBytes = size
		mu.Unlock()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		sem, err := s.semanticStats(ctx)
		if err != nil {
			fail("semantic", err)
		}
		mu.Lock()
		st.Semantic = sem
		mu.Unlock()
	}()
	if s.d.Redis != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			live, err := session.LiveWorkers(ctx, s.d.Redis, s.cfg.MemberTTL)
			if err != nil {
				fail("redis", err)
				return
			}
			active, err := session.NewMetaStore(s.d.Redis).Active(ctx, time.Now().Add(-s.cfg.IdleAfter))
			if err != nil {
				fail("redis", err)
				return
			}
			mu.Lock()
			st.LiveWorkers, st.ActiveSessions = live, active
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, p := range st.Partitions {
		st.QueueDepth += p.Pending
		st.InFlight += p.AckPending
	}
	st.ActiveWork = st.QueueDepth + uint64(st.InFlight)
	st.Processing = st.ActiveWork > 0
	return st
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, s.Stats(r.Context()))
}
