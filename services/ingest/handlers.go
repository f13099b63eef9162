package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/api"
	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// reject is a classified refusal: the HTTP status, the metric reason, the
// message and the field at fault.
type reject struct {
	status int
	reason string
	msg    string
	field  string
}

// classify maps an error of decoding, mapping, validation or publishing to
// its answer. Nothing falls through to a 500 without a reason.
func classify(err error) reject {
	var mbe *http.MaxBytesError
	var fe *event.FieldError
	switch {
	case errors.As(err, &mbe):
		return reject{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body is larger than the limit of %d bytes", mbe.Limit), "body"}
	case errors.Is(err, ErrUnavailable):
		return reject{http.StatusServiceUnavailable, "unavailable", err.Error(), ""}
	case errors.Is(err, hook.ErrUnknownEvent):
		return reject{http.StatusNotFound, "unknown_event", err.Error(), "event"}
	case errors.As(err, &fe):
		switch {
		case fe.Missing:
			return reject{http.StatusUnprocessableEntity, "missing_field", fe.Error(), fe.Field}
		case errors.Is(fe, event.ErrTooLarge):
			return reject{http.StatusRequestEntityTooLarge, "too_large", fe.Error(), fe.Field}
		case fe.Field == "kind":
			return reject{http.StatusBadRequest, "unknown_kind", fe.Error(), fe.Field}
		case fe.Field == "session_id":
			return reject{http.StatusBadRequest, "bad_session_id", fe.Error(), fe.Field}
		default:
			return reject{http.StatusBadRequest, "invalid", fe.Error(), fe.Field}
		}
	case errors.Is(err, event.ErrMalformed):
		return reject{http.StatusBadRequest, "malformed", err.Error(), "body"}
	default:
		return reject{http.StatusBadRequest, "invalid", err.Error(), ""}
	}
}

func (s *Server) refuse(w http.ResponseWriter, rj reject) {
	s.m.rejected.WithLabelValues(rj.reason).Inc()
	if rj.status == http.StatusServiceUnavailable {
		s.stats.Unavailable.Add(1)
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
	} else {
		s.stats.Rejected.Add(1)
	}
	httpapi.WriteError(w, rj.status, rj.msg, rj.field)
}

// readBody reads a JSON body bounded by limit; the reject is set on failure.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, *reject) {
	if !httpapi.JSONContent(r) {
		return nil, &reject{http.StatusUnsupportedMediaType, "content_type",
			fmt.Sprintf("Content-Type %q is not application/json", r.Header.Get("Content-Type")), "Content-Type"}
	}
	if r.ContentLength > int64(limit) {
		return nil, &reject{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("body is %d bytes, larger than the limit of %d bytes", r.ContentLength, limit), "body"}
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, int64(limit)), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			rj := classify(err)
			return nil, &rj
		}
		return nil, &reject{http.StatusBadRequest, "read", "reading the body: " + err.Error(), "body"}
	}
	return body, nil
}

// readAll reads a body into one buffer sized by its Content-Length when the
// client sent one (every hook does), instead of io.ReadAll's doublings: a
// third of ingest's allocations per event went there.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, size+1) // +1: see the end without a second buffer
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil // the body ended as announced (or sooner)
	case err != nil:
		return nil, err
	}
	// More than announced: net/http refuses that before us; read on anyway.
	rest, err := io.ReadAll(r)
	return append(buf, rest...), err
}

// available refuses early when a publish cannot succeed, so that no request
// waits out the deadline for a broker that is known to be away.
func (s *Server) available() error {
	if s.closing.Load() {
		return fmt.Errorf("%w: shutting down", ErrUnavailable)
	}
	if !s.d.NC.IsConnected() {
		return fmt.Errorf("%w: not connected to NATS", ErrUnavailable)
	}
	return nil
}

// handleEvent is POST /v1/events: one envelope.
func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	body, rj := s.readBody(w, r, s.cfg.Limits.Body)
	if rj != nil {
		s.refuse(w, *rj)
		return
	}
	e, known, err := event.DecodeKnown(body)
	if err != nil {
		s.refuse(w, classify(err))
		return
	}
	if !known {
		body = nil // an unknown field is not stored: encode the envelope again
	}
	s.accept(r.Context(), w, e, body)
}

// handleClaudeCode is POST /v1/hooks/claude-code/{event}: a raw Claude Code
// hook payload, mapped exactly as the hook CLI maps it.
func (s *Server) handleClaudeCode(w http.ResponseWriter, r *http.Request) {
	body, rj := s.readBody(w, r, s.cfg.Limits.Body)
	if rj != nil {
		s.refuse(w, *rj)
		return
	}
	e, err := hook.ClaudeCode(r.PathValue("event"), body, s.hookOptions())
	var skip *hook.SkipError
	if errors.As(err, &skip) {
		httpapi.WriteJSON(w, http.StatusOK, api.Skipped{Skipped: skip.Reason})
		return
	}
	if err != nil {
		s.refuse(w, classify(err))
		return
	}
	// hook.ClaudeCode stripped and validated the envelope it made, with
	// these limits: in this process it is not checked twice
	// (TestHookPayloadIsStrippedAndValidatedOnce counts event.Checks).
	s.publish(r.Context(), w, e, nil, true)
}

// prepare strips the tags again (a client other than our hook may have sent
// them) and validates. It reports whether stripping changed the envelope.
func (s *Server) prepare(e *event.Envelope) (changed bool, err error) {
	private := e.Private
	changed = e.Sanitize() || e.Private != private
	return changed, e.Validate(s.cfg.Limits)
}

// message is the stream message of a prepared envelope: its body as it came
// when that body holds only envelope fields and nothing was stripped from it,
// else the envelope encoded again.
func message(e *event.Envelope, body []byte, changed bool) (*nats.Msg, error) {
	if body != nil && !changed {
		return bus.EncodedEventMsg(e, body), nil
	}
	return bus.EventMsg(e)
}

// accept strips and validates an envelope a client sent, publishes it and
// answers 202 after the PubAck. body is the envelope's JSON as the client
// sent it, or nil when it must be encoded again.
func (s *Server) accept(ctx context.Context, w http.ResponseWriter, e *event.Envelope, body []byte) {
	changed, err := s.prepare(e)
	if err != nil {
		s.refuse(w, classify(err))
		return
	}
	s.publish(ctx, w, e, body, changed)
}

// publish publishes a prepared envelope and answers 202 after the PubAck.
func (s *Server) publish(ctx context.Context, w http.ResponseWriter, e *event.Envelope, body []byte, changed bool) {
	if err := s.available(); err != nil {
		s.refuse(w, classify(err))
		return
	}
	msg, err := message(e, body, changed)
	if err != nil {
		s.refuse(w, reject{http.StatusBadRequest, "invalid", err.Error(), ""})
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	start := time.Now()
	ack, err := s.d.JS.PublishMsg(ctx, msg)
	s.m.publish.Observe(time.Since(start).Seconds())
	if err != nil {
		s.log.Warn("publish failed", "session", e.SessionID, "subject", msg.Subject, "event", e.EventID, "err", err)
		s.refuse(w, classify(fmt.Errorf("%w: %v", ErrUnavailable, err)))
		return
	}
	s.accepted(e, ack)
	httpapi.WriteJSON(w, http.StatusAccepted, api.Accepted{EventID: e.EventID, Seq: ack.Sequence, Duplicate: ack.Duplicate})
}

// accepted counts a stored event and queues its session metadata update.
func (s *Server) accepted(e *event.Envelope, ack *jetstream.PubAck) {
	if ack.Duplicate {
		s.stats.Duplicates.Add(1)
		s.m.duplicates.Inc()
		return
	}
	s.stats.Accepted.Add(1)
	s.m.accepted.Inc()
	if s.meta != nil {
		s.meta.touch(e)
	}
}

// handleBatch is POST /v1/events:batch: up to BatchMax envelopes, published
// asynchronously within a bounded window and answered per event in order.
// A session's events are published in request order; once one of them is
// known not to be accepted, the later ones of the same session not yet sent
// are refused too (503), so that the client's retry keeps their order.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	body, rj := s.readBody(w, r, s.cfg.BatchBody)
	if rj != nil {
		s.refuse(w, *rj)
		return
	}
	raws, err := event.DecodeBatch(body)
	if err != nil {
		s.refuse(w, classify(err))
		return
	}
	switch {
	case len(raws) == 0:
		s.refuse(w, reject{http.StatusUnprocessableEntity, "missing_field", "events: the batch is empty", "events"})
		return
	case len(raws) > s.cfg.BatchMax:
		s.refuse(w, reject{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("events: %d events, limit is %d per batch", len(raws), s.cfg.BatchMax), "events"})
		return
	}
	if err := s.available(); err != nil {
		s.refuse(w, classify(err))
		return
	}
	ans := s.publishBatch(r.Context(), raws)
	httpapi.WriteJSON(w, http.StatusOK, ans)
}

type pending struct {
	i   int
	e   *event.Envelope
	fut jetstream.PubAckFuture
}

func (s *Server) publishBatch(ctx context.Context, raws []json.RawMessage) api.BatchAnswer {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	results := make([]api.BatchResult, len(raws))
	failed := map[string]bool{} // sessions with an event not accepted in this batch
	var window []pending
	fail := func(i int, sid string, rj reject) {
		if rj.status >= 500 && sid != "" {
			failed[sid] = true
		}
		results[i].Status, results[i].Error, results[i].Field = rj.status, rj.msg, rj.field
		s.m.rejected.WithLabelValues(rj.reason).Inc()
	}
	// settle waits for the oldest n futures of the window.
	settle := func(n int) {
		for _, p := range window[:n] {
			select {
			case ack := <-p.fut.Ok():
				results[p.i].Status, results[p.i].Seq, results[p.i].Duplicate = http.StatusAccepted, ack.Sequence, ack.Duplicate
				s.accepted(p.e, ack)
			case err := <-p.fut.Err():
				s.log.Warn("batch publish failed", "session", p.e.SessionID, "event", p.e.EventID, "err", err)
				fail(p.i, p.e.SessionID, classify(fmt.Errorf("%w: %v", ErrUnavailable, err)))
			case <-ctx.Done():
				fail(p.i, p.e.SessionID, classify(fmt.Errorf("%w: no ack within %s", ErrUnavailable, s.cfg.PublishTimeout)))
			}
		}
		window = window[n:]
	}
	for i, raw := range raws {
		if len(raw) > s.cfg.Limits.Body {
			fail(i, "", reject{http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("event is %d bytes, limit is %d", len(raw), s.cfg.Limits.Body), "body"})
			continue
		}
		e, known, err := event.DecodeKnown(raw)
		changed := false
		if err == nil {
			results[i].EventID = e.EventID
			changed, err = s.prepare(e)
		}
		if err != nil {
			fail(i, "", classify(err))
			continue
		}
		if failed[e.SessionID] {
			fail(i, e.SessionID, reject{http.StatusServiceUnavailable, "unavailable",
				"an earlier event of this session in the batch was not accepted", ""})
			continue
		}
		body := []byte(raw)
		if !known {
			body = nil
		}
		msg, err := message(e, body, changed)
		if err != nil {
			fail(i, "", reject{http.StatusBadRequest, "invalid", err.Error(), ""})
			continue
		}
		if len(window) == s.cfg.BatchWindow {
			settle(1)
			if failed[e.SessionID] {
				fail(i, e.SessionID, reject{http.StatusServiceUnavailable, "unavailable",
					"an earlier event of this session in the batch was not accepted", ""})
				continue
			}
		}
		fut, err := s.d.JS.PublishMsgAsync(msg)
		if err != nil {
			fail(i, e.SessionID, classify(fmt.Errorf("%w: %v", ErrUnavailable, err)))
			continue
		}
		window = append(window, pending{i: i, e: e, fut: fut})
	}
	settle(len(window))
	ans := api.BatchAnswer{Results: results}
	for _, r := range results {
		switch {
		case r.Status == http.StatusAccepted && r.Duplicate:
			ans.Duplicates++
		case r.Status == http.StatusAccepted:
			ans.Accepted++
		default:
			ans.Rejected++
		}
	}
	s.stats.Rejected.Add(int64(ans.Rejected))
	return ans
}
