package api

// The figures each service answers its NATS micro-service STATS request with
// (pkg/bus.AddService, docs/ARCHITECTURE.md §4): written by the services,
// read by query's ops page (GET /v1/ops) through the broker.

// WorkerStats are SessionManager's figures for one agent worker.
type WorkerStats struct {
	Worker         string `json:"worker"`
	ActiveSessions int    `json:"active_sessions"`
	QueueDepth     int    `json:"queue_depth"`
	InFlight       int    `json:"in_flight"`
	ActiveWork     int    `json:"active_work"`
	Processing     bool   `json:"processing"`
	Partitions     int    `json:"partitions"`
	// Leased are the partitions this worker pulls, ascending.
	Leased    []int `json:"leased"`
	Processed int64 `json:"processed"`
	// LLMCalls and LLMSeconds are the compressor calls since the process
	// started and their total time: a reader takes two readings' difference
	// for the latency over a window.
	LLMCalls   int64   `json:"llm_calls"`
	LLMSeconds float64 `json:"llm_seconds"`
}

// IngestStats is what one ingest instance has done since it started.
type IngestStats struct {
	Instance    string `json:"instance"`
	Accepted    int64  `json:"accepted"`
	Duplicates  int64  `json:"duplicates"`
	Rejected    int64  `json:"rejected"`
	Unavailable int64  `json:"unavailable"`
	MetaDropped int64  `json:"meta_dropped"`
}

// ReaperStats are one reaper's figures; Leader is true for the one reaper
// that acts.
type ReaperStats struct {
	Reaper      string `json:"reaper"`
	Leader      bool   `json:"leader"`
	DeadWorkers int64  `json:"dead_workers"`
	Naked       int64  `json:"naked"`
	DeadLetters int64  `json:"dead_letters"`
	IdleStops   int64  `json:"idle_stops"`
	MetaRebuilt int64  `json:"meta_rebuilt"`
	Stuck       int64  `json:"stuck_partitions"`
}
