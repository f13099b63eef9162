package api

// The answers of ingest's event endpoints (docs/ARCHITECTURE.md §1), shared by
// ingest, which writes them, and the hook's spool and the tests, which read them.

// Accepted is the answer to an event JetStream stored (202).
type Accepted struct {
	EventID   string `json:"event_id"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// Skipped is the answer to a hook payload that is deliberately not recorded
// (200): a bookkeeping tool, an excluded project, an event without memory value.
type Skipped struct {
	Skipped string `json:"skipped"`
}

// BatchResult is one event's outcome in a batch answer: Status is the HTTP
// status a single POST of that event would have had.
type BatchResult struct {
	EventID   string `json:"event_id,omitempty"`
	Status    int    `json:"status"`
	Seq       uint64 `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
	Field     string `json:"field,omitempty"`
}

// BatchAnswer is the answer to POST /v1/events:batch (200), in request order.
type BatchAnswer struct {
	Results    []BatchResult `json:"results"`
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Rejected   int           `json:"rejected"`
}
