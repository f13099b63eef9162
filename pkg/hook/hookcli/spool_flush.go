// Replaying the spool to ingest: the one flusher (flock), batches over the
// batch endpoint, backoff after a failure.

package hookcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
)

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
