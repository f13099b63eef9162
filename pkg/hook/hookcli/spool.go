// The spool's files: adding, listing, rejecting and reporting pending
// events in $MNEMO_HOME/spool. Replaying them is in spool_flush.go; the
// `spool` command line in spool_cmd.go.

package hookcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// The spool is a directory, $MNEMO_HOME/spool:
//
//	<event_id>.json     one pending event: the exact envelope JSON the hook
//	                    tried to POST (event ID included, so a replay dedupes)
//	.<event_id>.tmp     an event being written (renamed when complete)
//	.flush.lock         held (flock) by the one running flusher
//	.flush.failed       its mtime is the last failed flush (hooks back off)
//	.flush.log          the background flusher's output
//	rejected.jsonl      events ingest refused (4xx), one JSON line each, with the reason
//
// One file per event, written to a temporary name and renamed (not fsync'd:
// see add), makes concurrent hooks safe without a lock; ULID names sort by time, so replay
// keeps the order in which the hooks ran.
const (
	spoolTmpSuffix  = ".tmp"
	spoolLockName   = ".flush.lock"
	spoolFailedName = ".flush.failed"
	// SpoolLogName is the background flusher's log in the spool directory.
	SpoolLogName = ".flush.log"
	// SpoolRejected lists the events ingest refused, one JSON line each.
	SpoolRejected = "rejected.jsonl"

	// spoolBatchMax is the batch endpoint's limit of events per request.
	spoolBatchMax = 500
	// spoolBatchBytes bounds one batch request body (a bigger event goes alone).
	spoolBatchBytes = 4 << 20
	// spoolLogMax is the size at which .flush.log starts over.
	spoolLogMax = 1 << 20
)

// Spool is the hook's durable local queue.
type Spool struct{ dir string }

// OpenSpool returns the spool under Mnemo's home ($MNEMO_HOME/spool).
func OpenSpool(home string) *Spool { return &Spool{dir: filepath.Join(home, "spool")} }

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// isSpoolEvent reports whether a directory entry name is a pending event.
func isSpoolEvent(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")
}

// pending reports quickly whether any event waits in the spool.
func (s *Spool) pending() bool {
	d, err := os.Open(s.dir)
	if err != nil {
		return false
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(64)
		for _, n := range names {
			if isSpoolEvent(n) {
				return true
			}
		}
		if err != nil || len(names) == 0 {
			return false
		}
	}
}

// add stores one event: written whole under a temporary name, then renamed,
// so that a flusher never reads half an event. It is not fsync'd: the spool
// outlives Mnemo being down and the hook's own process, and the kernel writes
// it back within seconds; only a power loss in those seconds can cost the
// newest events (the flusher sets an empty or cut file aside in
// rejected.jsonl). An fsync would cost the hook 1-40 ms at every call while
// Mnemo is down, more than its whole budget (docs/ARCHITECTURE.md §1).
func (s *Spool) add(id string, body []byte) error {
	if !event.ValidEventID(id) {
		return fmt.Errorf("spool: invalid event ID %q", id)
	}
	tmp := filepath.Join(s.dir, "."+id+spoolTmpSuffix)
	err := os.WriteFile(tmp, body, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(s.dir, 0o700); err == nil {
			err = os.WriteFile(tmp, body, 0o600)
		}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, id+".json"))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// syncDir makes the flusher's removals in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// rejection is one line of rejected.jsonl.
type rejection struct {
	RejectedAt time.Time       `json:"rejected_at"`
	EventID    string          `json:"event_id"`
	Status     int             `json:"status,omitempty"`
	Error      string          `json:"error"`
	Field      string          `json:"field,omitempty"`
	Event      json.RawMessage `json:"event,omitempty"`
}

// reject records an event ingest refused for good, with the reason, in
// rejected.jsonl (one O_APPEND write per line, so concurrent writers do not
// interleave).
func (s *Spool) reject(id string, body []byte, status int, reason, field string) {
	r := rejection{RejectedAt: time.Now().UTC(), EventID: id, Status: status, Error: reason, Field: field}
	if json.Valid(body) {
		r.Event = body
	}
	line, err := json.Marshal(r)
	if err != nil {
		return
	}
	line = append(line, '\n')
	_ = os.MkdirAll(s.dir, 0o700)
	f, err := os.OpenFile(filepath.Join(s.dir, SpoolRejected), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	_, _ = f.Write(line)
	_ = f.Sync()
	f.Close()
}

// list returns the pending event files in replay order (by name: ULIDs sort
// by time).
func (s *Spool) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var names []string
	for _, de := range entries {
		if isSpoolEvent(de.Name()) && de.Type().IsRegular() {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// removeStaleTemps deletes half-written events of hooks that died mid-write.
func (s *Spool) removeStaleTemps() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		if !strings.HasSuffix(de.Name(), spoolTmpSuffix) {
			continue
		}
		if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			_ = os.Remove(filepath.Join(s.dir, de.Name()))
		}
	}
}

// SpoolStatus is what `mnemo spool status` and doctor report.
type SpoolStatus struct {
	Count      int       `json:"count"`
	Bytes      int64     `json:"bytes"`
	Oldest     time.Time `json:"oldest,omitzero"`
	Rejected   int       `json:"rejected"`
	Flushing   bool      `json:"flushing"`
	LastFailed time.Time `json:"last_failed,omitzero"`
	Dir        string    `json:"dir"`
}

// Status counts the waiting and rejected events and says whether a flusher runs.
func (s *Spool) Status() (SpoolStatus, error) {
	st := SpoolStatus{Dir: s.dir}
	names, err := s.list()
	if err != nil {
		return st, err
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(s.dir, n))
		if err != nil {
			continue
		}
		st.Count++
		st.Bytes += fi.Size()
		at := fi.ModTime()
		if t, ok := event.IDTime(strings.TrimSuffix(n, ".json")); ok {
			at = t
		}
		if st.Oldest.IsZero() || at.Before(st.Oldest) {
			st.Oldest = at
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, SpoolRejected)); err == nil {
		st.Rejected = bytes.Count(b, []byte("\n"))
	}
	if fi, err := os.Stat(filepath.Join(s.dir, spoolFailedName)); err == nil {
		st.LastFailed = fi.ModTime()
	}
	if _, err := os.Stat(s.dir); err == nil {
		if lock, ok, err := tryLockFile(filepath.Join(s.dir, spoolLockName)); err == nil {
			if ok {
				unlockFile(lock)
			} else {
				st.Flushing = true
			}
		}
	}
	return st, nil
}

// trimLog starts .flush.log over when it grew too big.
func (s *Spool) trimLog() {
	p := filepath.Join(s.dir, SpoolLogName)
	if fi, err := os.Stat(p); err == nil && fi.Size() > spoolLogMax {
		_ = os.Truncate(p, 0)
	}
}
