package hookcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
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

// kick starts a background flusher unless one runs already or the last flush
// failed less than backoff ago. The hook does not wait for it.
func (s *Spool) kick(backoff time.Duration, logf func(string, ...any)) {
	if fi, err := os.Stat(filepath.Join(s.dir, spoolFailedName)); err == nil && time.Since(fi.ModTime()) < backoff {
		return
	}
	lock, ok, err := tryLockFile(filepath.Join(s.dir, spoolLockName))
	if err != nil || !ok {
		return // a flusher is running: it will pick our event up
	}
	unlockFile(lock)
	exe, err := os.Executable()
	if err != nil {
		logf("spool: no executable to flush with: %v", err)
		return
	}
	logFile, err := os.OpenFile(filepath.Join(s.dir, SpoolLogName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		logFile = nil
	}
	cmd := exec.Command(exe, "spool", "flush", "--background")
	cmd.Stdout, cmd.Stderr = logFile, logFile // never the agent's pipes
	detach(cmd)
	if err := cmd.Start(); err != nil {
		logf("spool: start flusher: %v", err)
	} else {
		_ = cmd.Process.Release()
	}
	if logFile != nil {
		logFile.Close()
	}
}

// flushConfig is what a flush needs to reach ingest.
type flushConfig struct {
	URL     string
	Token   string
	Timeout time.Duration // per batch request
}

// flushResult sums up one flush.
type flushResult struct {
	Sent, Duplicates, Rejected, Kept int
}

// errFlushBusy is returned when another flusher holds the lock.
var errFlushBusy = errors.New("another flusher is running")

// flush replays the spool through POST /v1/events:batch in order, holding
// the flusher lock. Delivered and duplicate events leave the spool; events
// ingest refuses (4xx) go to rejected.jsonl; the rest stay. wait says
// whether to wait for a running flusher (until ctx ends) or give up at once.
func (s *Spool) flush(ctx context.Context, c flushConfig, wait bool, logf func(string, ...any)) (flushResult, error) {
	var res flushResult
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return res, fmt.Errorf("spool: %w", err)
	}
	lockPath := filepath.Join(s.dir, spoolLockName)
	lock, ok, err := tryLockFile(lockPath)
	for err == nil && !ok && wait {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("spool: waiting for the running flusher: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		lock, ok, err = tryLockFile(lockPath)
	}
	if err != nil {
		return res, fmt.Errorf("spool: lock: %w", err)
	}
	if !ok {
		return res, errFlushBusy
	}
	defer unlockFile(lock)
	s.removeStaleTemps()

	exchange := exchangeFor(c.URL)
	kept := map[string]bool{} // kept this run: not retried until the next flush
	maxEvents := spoolBatchMax
	for {
		names, err := s.list()
		if err != nil {
			return res, err
		}
		var batch []string
		var bodies []json.RawMessage
		size := 0
		for _, n := range names {
			if kept[n] {
				continue
			}
			b, err := os.ReadFile(filepath.Join(s.dir, n))
			if errors.Is(err, fs.ErrNotExist) {
				continue // sent by a flusher that ran before us
			}
			if err != nil {
				return res, fmt.Errorf("spool: %w", err)
			}
			id := strings.TrimSuffix(n, ".json")
			if !json.Valid(b) {
				s.reject(id, nil, 0, "spool file is not valid JSON", "")
				_ = os.Remove(filepath.Join(s.dir, n))
				res.Rejected++
				continue
			}
			if len(batch) > 0 && (len(batch) == maxEvents || size+len(b) > spoolBatchBytes) {
				break
			}
			batch, bodies = append(batch, n), append(bodies, b)
			size += len(b)
		}
		if len(batch) == 0 {
			res.Kept = len(kept)
			if len(kept) == 0 {
				_ = os.Remove(filepath.Join(s.dir, spoolFailedName))
				return res, nil
			}
			s.markFailed()
			return res, fmt.Errorf("spool: %d event(s) kept after server errors", len(kept))
		}
		status, ans, err := postBatch(ctx, exchange, c, bodies)
		if err != nil || status == 429 || status >= 500 || (status >= 400 && !permanentStatus(status)) {
			s.markFailed()
			if err == nil {
				err = fmt.Errorf("HTTP %d", status)
			}
			res.Kept = len(names)
			return res, fmt.Errorf("spool: replay: %w", err)
		}
		if status >= 400 { // the whole request refused: find the culprit alone
			if len(batch) > 1 {
				maxEvents = max(len(batch)/2, 1)
				continue
			}
			id := strings.TrimSuffix(batch[0], ".json")
			s.reject(id, bodies[0], status, fmt.Sprintf("batch request refused with HTTP %d", status), "")
			_ = os.Remove(filepath.Join(s.dir, batch[0]))
			res.Rejected++
			continue
		}
		byID := map[string]api.BatchResult{}
		for i, r := range ans.Results {
			if r.EventID == "" && len(ans.Results) == len(batch) {
				r.EventID = strings.TrimSuffix(batch[i], ".json")
			}
			byID[r.EventID] = r
		}
		for i, n := range batch {
			id := strings.TrimSuffix(n, ".json")
			r, ok := byID[id]
			switch {
			case !ok:
				kept[n] = true
			case r.Error == "":
				_ = os.Remove(filepath.Join(s.dir, n))
				if r.Duplicate {
					res.Duplicates++
				} else {
					res.Sent++
				}
			case r.Status >= 400 && r.Status < 500 && r.Status != 429 && r.Status != 408:
				logf("spool: event %s rejected: %s %s (HTTP %d)", id, r.Field, r.Error, r.Status)
				s.reject(id, bodies[i], r.Status, r.Error, r.Field)
				_ = os.Remove(filepath.Join(s.dir, n))
				res.Rejected++
			default:
				kept[n] = true
			}
		}
		syncDir(s.dir)
	}
}

// postBatch sends one batch; a 2xx answer is decoded.
func postBatch(ctx context.Context, exchange Exchange, c flushConfig, bodies []json.RawMessage) (int, api.BatchAnswer, error) {
	var ans api.BatchAnswer
	body, err := json.Marshal(bodies)
	if err != nil {
		return 0, ans, fmt.Errorf("encode batch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	a, err := exchange(ctx, plainhttp.Request{Method: "POST", URL: c.URL + "/v1/events:batch",
		Header: headers(c.Token, "Content-Type", "application/json"), Body: body, Limit: 16 << 20})
	if err != nil {
		return 0, ans, fmt.Errorf("batch request: %w", err)
	}
	if a.Status/100 != 2 {
		return a.Status, ans, nil
	}
	if err := json.Unmarshal(a.Body, &ans); err != nil {
		return a.Status, ans, fmt.Errorf("batch answer: %w", err)
	}
	return a.Status, ans, nil
}

// markFailed stamps the last failed flush, so hooks back off for a while.
func (s *Spool) markFailed() {
	p := filepath.Join(s.dir, spoolFailedName)
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		if f, err := os.Create(p); err == nil {
			f.Close()
		}
	}
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

// spoolUsage is the spool command's help.
const spoolUsage = `Usage: spool status [--json] | spool flush [--timeout 10s]

The hook spools an event under $MNEMO_HOME/spool when Mnemo cannot take it;
the next hook replays the spool in the background, in order, once.
  status   how many events wait, how old the oldest is, whether a flusher runs
  flush    replay the spool now (events ingest rejects are set aside)
`

// RunSpool is `mnemo spool status|flush`.
func RunSpool(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo spool status [--json] | mnemo spool flush [--timeout 10s]")}
	}
	if IsHelp(args[0]) {
		fmt.Fprint(stdout, spoolUsage)
		return nil
	}
	sp := OpenSpool(config.Home())
	switch args[0] {
	case "status":
		fs := flag.NewFlagSet("spool status", flag.ContinueOnError)
		fs.SetOutput(stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exit.Error{Code: 2}
		}
		st, err := sp.Status()
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(st)
		}
		fmt.Fprintf(stdout, "spool %s: %d event(s), %d bytes", st.Dir, st.Count, st.Bytes)
		if !st.Oldest.IsZero() {
			fmt.Fprintf(stdout, ", oldest %s (%s ago)", st.Oldest.Local().Format(time.RFC3339), time.Since(st.Oldest).Round(time.Second))
		}
		fmt.Fprintln(stdout)
		if st.Flushing {
			fmt.Fprintln(stdout, "a flusher is running")
		}
		if !st.LastFailed.IsZero() {
			fmt.Fprintf(stdout, "last failed flush: %s\n", st.LastFailed.Local().Format(time.RFC3339))
		}
		if st.Rejected > 0 {
			fmt.Fprintf(stdout, "%d event(s) rejected by ingest: see %s\n", st.Rejected, filepath.Join(st.Dir, SpoolRejected))
		}
		return nil
	case "flush":
		fs := flag.NewFlagSet("spool flush", flag.ContinueOnError)
		fs.SetOutput(stderr)
		background := fs.Bool("background", false, "started by a hook: give up at once when a flusher runs, log with timestamps")
		timeout := fs.Duration("timeout", 10*time.Second, "bound of one batch request")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exit.Error{Code: 2}
		}
		hc := LoadConfig()
		if handed, herr := handOff(ctx, hc.URL, append([]string{"spool"}, args...), stdin, stdout, stderr); handed {
			return herr
		}
		c := flushConfig{URL: hc.URL, Token: hc.Token, Timeout: *timeout}
		logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
		if *background {
			sp.trimLog()
			logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, "%s pid %d: %s\n", time.Now().Format(time.RFC3339), os.Getpid(), fmt.Sprintf(format, a...))
			}
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
		}
		res, err := sp.flush(ctx, c, !*background, logf)
		// A hook that found the flusher lock held left its event for this
		// flusher; it may have landed after the last listing. Such a hook
		// added its event before it tried the lock, so one look after the
		// unlock sees it: go round again while events wait.
		for i := 0; i < 8 && err == nil && sp.pending(); i++ {
			var more flushResult
			more, err = sp.flush(ctx, c, false, logf)
			if errors.Is(err, errFlushBusy) {
				err = nil // the other flusher takes them
				break
			}
			res.Sent += more.Sent
			res.Duplicates += more.Duplicates
			res.Rejected += more.Rejected
			res.Kept = more.Kept
		}
		if errors.Is(err, errFlushBusy) {
			return nil
		}
		if *background {
			if err != nil || res.Sent+res.Duplicates+res.Rejected > 0 {
				logf("sent %d, duplicates %d, rejected %d, kept %d, error: %v", res.Sent, res.Duplicates, res.Rejected, res.Kept, err)
			}
			return nil
		}
		fmt.Fprintf(stdout, "sent %d, already there %d, rejected %d, kept %d\n", res.Sent, res.Duplicates, res.Rejected, res.Kept)
		return err
	}
	return &exit.Error{Code: 2, Err: fmt.Errorf("unknown spool command %q (want status or flush)", args[0])}
}

// trimLog starts .flush.log over when it grew too big.
func (s *Spool) trimLog() {
	p := filepath.Join(s.dir, SpoolLogName)
	if fi, err := os.Stat(p); err == nil && fi.Size() > spoolLogMax {
		_ = os.Truncate(p, 0)
	}
}
