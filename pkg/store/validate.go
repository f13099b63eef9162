package store

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Bounds beyond the exported field limits. They exist so that no input can
// make a unit unbounded; they are generous on purpose, because a unit the
// store refuses is one the worker can never apply.
const (
	maxUnitEvents   = 10000    // events in one unit
	maxSourceIDs    = 10000    // source event IDs of one observation or summary
	maxUnitItems    = 10000    // prompts, observations, usage rows, dead letters in one unit
	maxPayloadLen   = 64 << 20 // dead letter payload (the original envelope)
	maxStateLen     = 64 << 20 // conversation state
	maxSearchOffset = 100000   // deepest search/list page
)

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// checkID validates an identifier: present, bounded, valid UTF-8 and free of
// NUL bytes (PostgreSQL text cannot hold them).
func checkID(field, id string) error {
	switch {
	case id == "":
		return invalid(field, "is empty")
	case len(id) > MaxIDLen:
		return invalid(field, "is %d bytes, more than %d", len(id), MaxIDLen)
	case !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0:
		return invalid(field, "is not valid UTF-8 text")
	}
	return nil
}

// clean makes content text storable in both stores: invalid UTF-8 becomes
// U+FFFD and NUL bytes are dropped. Content is sanitized rather than
// refused, since it comes from an LLM or a user and a refusal is permanent.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// text cleans s and checks its length in bytes.
func text(field string, s *string, limit int) error {
	if len(*s) > 2*limit {
		return invalid(field, "is %d bytes, more than %d", len(*s), limit)
	}
	*s = clean(*s)
	if len(*s) > limit {
		return invalid(field, "is %d bytes, more than %d", len(*s), limit)
	}
	return nil
}

// textField is a text to clean in place, named for errors, and the most
// bytes it may keep.
type textField struct {
	name  string
	v     *string
	limit int
}

// texts cleans every field with text; the first too long is the error.
func texts(fs []textField) error {
	for _, f := range fs {
		if err := text(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	return nil
}

// list cleans a list of short strings into a fresh non-nil slice.
func list(field string, in []string) ([]string, error) {
	if len(in) > MaxListLen {
		return nil, invalid(field, "has %d items, more than %d", len(in), MaxListLen)
	}
	out := make([]string, len(in))
	for i, s := range in {
		if err := text(fmt.Sprintf("%s[%d]", field, i), &s, MaxShortLen); err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func ids(field string, in []string, limit int) ([]string, error) {
	if len(in) > limit {
		return nil, invalid(field, "has %d items, more than %d", len(in), limit)
	}
	out := make([]string, len(in))
	for i, s := range in {
		if err := checkID(fmt.Sprintf("%s[%d]", field, i), s); err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// utc normalizes a time to what both stores keep: UTC, microseconds.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func utcOr(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return utc(t)
}

// sessionOf checks a row's session ID against the unit's: empty takes the
// unit's, anything else must match.
func sessionOf(field string, id *string, unit string) error {
	if *id == "" {
		*id = unit
		return nil
	}
	if *id != unit {
		return invalid(field, "session %q is not the unit's session %q", *id, unit)
	}
	return nil
}

// normalizeUnit validates u and returns a copy ready to write: session IDs
// filled in, times in UTC at microsecond precision, defaults applied, lists
// non-nil. It never modifies the caller's slices.
func normalizeUnit(u Unit, now time.Time) (Unit, error) {
	if err := checkID("session_id", u.SessionID); err != nil {
		return Unit{}, err
	}
	if u.Fence < 0 {
		return Unit{}, invalid("fence", "is %d; fences are never negative", u.Fence)
	}
	if len(u.Events) == 0 {
		return Unit{}, invalid("events", "a unit needs at least one event")
	}
	if len(u.Events) > maxUnitEvents {
		return Unit{}, invalid("events", "has %d events, more than %d", len(u.Events), maxUnitEvents)
	}
	n := u
	n.Events = make([]AppliedEvent, len(u.Events))
	seen := make(map[string]struct{}, len(u.Events))
	for i, e := range u.Events {
		f := fmt.Sprintf("events[%d]", i)
		if err := checkID(f+".event_id", e.EventID); err != nil {
			return Unit{}, err
		}
		if _, dup := seen[e.EventID]; dup {
			return Unit{}, invalid(f+".event_id", "%q appears twice in the unit", e.EventID)
		}
		seen[e.EventID] = struct{}{}
		if e.Seq == 0 {
			return Unit{}, invalid(f+".seq", "is 0; stream sequences start at 1")
		}
		if e.Seq > 1<<63-1 {
			return Unit{}, invalid(f+".seq", "is out of range")
		}
		if i > 0 && e.Seq <= u.Events[i-1].Seq {
			return Unit{}, invalid(f+".seq", "%d does not follow %d: events must be in ascending sequence", e.Seq, u.Events[i-1].Seq)
		}
		if err := text(f+".kind", &e.Kind, MaxShortLen); err != nil {
			return Unit{}, err
		}
		if err := text(f+".tool_use_id", &e.ToolUseID, MaxShortLen); err != nil {
			return Unit{}, err
		}
		e.AcceptedAt = utcOr(e.AcceptedAt, now)
		n.Events[i] = e
	}
	first := n.Events[0].AcceptedAt

	if u.Session != nil {
		s := *u.Session
		if err := texts([]textField{
			{"session.project", &s.Project, MaxShortLen}, {"session.agent", &s.Agent, MaxShortLen}, {"session.cwd", &s.Cwd, MaxShortLen},
		}); err != nil {
			return Unit{}, err
		}
		switch s.Status {
		case "", StatusActive, StatusCompleted, StatusAborted:
		default:
			return Unit{}, invalid("session.status", "%q is not active, completed or aborted", s.Status)
		}
		s.StartedAt = utc(s.StartedAt)
		s.LastEventAt = utc(s.LastEventAt)
		if s.EndedAt != nil {
			e := utc(*s.EndedAt)
			s.EndedAt = &e
		}
		n.Session = &s
	}

	if len(u.Prompts) > maxUnitItems || len(u.Observations) > maxUnitItems || len(u.Usage) > maxUnitItems || len(u.DeadLetters) > maxUnitItems {
		return Unit{}, invalid("unit", "has more than %d rows of one kind", maxUnitItems)
	}
	n.Prompts = make([]Prompt, len(u.Prompts))
	for i, p := range u.Prompts {
		f := fmt.Sprintf("prompts[%d]", i)
		if err := sessionOf(f+".session_id", &p.SessionID, u.SessionID); err != nil {
			return Unit{}, err
		}
		if p.Number < 0 {
			return Unit{}, invalid(f+".number", "is negative")
		}
		if err := text(f+".text", &p.Text, MaxTextLen); err != nil {
			return Unit{}, err
		}
		if err := text(f+".prompt_id", &p.PromptID, MaxShortLen); err != nil {
			return Unit{}, err
		}
		p.At = utcOr(p.At, first)
		n.Prompts[i] = p
	}

	n.Observations = make([]Observation, len(u.Observations))
	for i, o := range u.Observations {
		f := fmt.Sprintf("observations[%d]", i)
		if err := sessionOf(f+".session_id", &o.SessionID, u.SessionID); err != nil {
			return Unit{}, err
		}
		if err := normalizeObservation(f, &o, first, now); err != nil {
			return Unit{}, err
		}
		n.Observations[i] = o
	}

	if u.Summary != nil {
		s := *u.Summary
		if err := sessionOf("summary.session_id", &s.SessionID, u.SessionID); err != nil {
			return Unit{}, err
		}
		if err := normalizeSummary("summary", &s, first, now); err != nil {
			return Unit{}, err
		}
		n.Summary = &s
	}

	n.Usage = make([]LLMUsage, len(u.Usage))
	for i, x := range u.Usage {
		f := fmt.Sprintf("usage[%d]", i)
		if err := sessionOf(f+".session_id", &x.SessionID, u.SessionID); err != nil {
			return Unit{}, err
		}
		if err := texts([]textField{
			{f + ".project", &x.Project, MaxShortLen}, {f + ".provider", &x.Provider, MaxShortLen}, {f + ".model", &x.Model, MaxShortLen},
		}); err != nil {
			return Unit{}, err
		}
		if x.InputTokens < 0 || x.OutputTokens < 0 {
			return Unit{}, invalid(f, "token counts are negative")
		}
		if x.CostUSD < 0 || math.IsNaN(x.CostUSD) || math.IsInf(x.CostUSD, 0) {
			return Unit{}, invalid(f+".cost_usd", "is %v: want a finite amount of 0 or more", x.CostUSD)
		}
		x.At = utcOr(x.At, now)
		n.Usage[i] = x
	}

	n.DeadLetters = make([]DeadLetter, len(u.DeadLetters))
	for i, d := range u.DeadLetters {
		if d.SessionID == "" {
			d.SessionID = u.SessionID
		}
		if err := normalizeDeadLetter(fmt.Sprintf("dead_letters[%d]", i), &d, now); err != nil {
			return Unit{}, err
		}
		n.DeadLetters[i] = d
	}

	if u.Conversation != nil {
		c := *u.Conversation
		if err := sessionOf("conversation.session_id", &c.SessionID, u.SessionID); err != nil {
			return Unit{}, err
		}
		if err := text("conversation.provider", &c.Provider, MaxShortLen); err != nil {
			return Unit{}, err
		}
		if len(c.State) > maxStateLen {
			return Unit{}, invalid("conversation.state", "is %d bytes, more than %d", len(c.State), maxStateLen)
		}
		if c.State == nil {
			c.State = []byte{}
		}
		c.UpdatedAt = utcOr(c.UpdatedAt, now)
		n.Conversation = &c
	}
	return n, nil
}

// normalizeObservation validates o in place; accepted is the default accept
// time. The session ID is checked by the caller.
func normalizeObservation(f string, o *Observation, accepted, now time.Time) error {
	if o.SessionID != "" {
		if err := checkID(f+".session_id", o.SessionID); err != nil {
			return err
		}
	}
	if err := event.CheckObservationType(o.Type); err != nil {
		return invalid(f+".type", "%s", err)
	}
	if err := texts([]textField{
		{f + ".project", &o.Project, MaxShortLen}, {f + ".title", &o.Title, MaxShortLen},
		{f + ".subtitle", &o.Subtitle, MaxShortLen}, {f + ".narrative", &o.Narrative, MaxTextLen},
	}); err != nil {
		return err
	}
	var err error
	if o.Facts, err = list(f+".facts", o.Facts); err != nil {
		return err
	}
	if o.Concepts, err = list(f+".concepts", o.Concepts); err != nil {
		return err
	}
	if o.FilesRead, err = list(f+".files_read", o.FilesRead); err != nil {
		return err
	}
	if o.FilesModified, err = list(f+".files_modified", o.FilesModified); err != nil {
		return err
	}
	if o.SourceEventIDs, err = ids(f+".source_event_ids", o.SourceEventIDs, maxSourceIDs); err != nil {
		return err
	}
	if o.PromptNumber < 0 {
		return invalid(f+".prompt_number", "is negative")
	}
	if o.DiscoveryTokens < 0 {
		return invalid(f+".discovery_tokens", "is negative")
	}
	o.AcceptedAt = utcOr(o.AcceptedAt, accepted)
	o.CreatedAt = now
	o.ID = 0
	return nil
}

// normalizeSummary validates and cleans summary f's texts, prompt number and
// source events, and sets its times (accepted when it has none).
func normalizeSummary(f string, m *Summary, accepted, now time.Time) error {
	if err := texts([]textField{
		{f + ".project", &m.Project, MaxShortLen}, {f + ".request", &m.Request, MaxTextLen},
		{f + ".investigated", &m.Investigated, MaxTextLen}, {f + ".learned", &m.Learned, MaxTextLen},
		{f + ".completed", &m.Completed, MaxTextLen}, {f + ".next_steps", &m.NextSteps, MaxTextLen},
		{f + ".notes", &m.Notes, MaxTextLen}, {f + ".last_assistant_message", &m.LastAssistantMessage, MaxTextLen},
	}); err != nil {
		return err
	}
	if m.PromptNumber < 0 {
		return invalid(f+".prompt_number", "is negative")
	}
	src, err := ids(f+".source_event_ids", m.SourceEventIDs, maxSourceIDs)
	if err != nil {
		return err
	}
	m.SourceEventIDs = src
	m.AcceptedAt = utcOr(m.AcceptedAt, accepted)
	m.CreatedAt = now
	m.ID = 0
	return nil
}

// normalizeMemory validates a manual observation for AddMemory.
func normalizeMemory(o Observation, now time.Time) (Observation, error) {
	if strings.TrimSpace(o.Project) == "" {
		return Observation{}, invalid("project", "a memory needs a project")
	}
	if strings.TrimSpace(o.Title) == "" && strings.TrimSpace(o.Narrative) == "" {
		return Observation{}, invalid("title", "a memory needs a title or a narrative")
	}
	if o.Type == "" {
		o.Type = TypeDiscovery
	}
	if err := normalizeObservation("memory", &o, now, now); err != nil {
		return Observation{}, err
	}
	return o, nil
}

// normalizeDeadLetter validates d in place. The reason is cut to MaxTextLen
// rather than refused: a dead letter must always be recordable.
func normalizeDeadLetter(f string, d *DeadLetter, now time.Time) error {
	if err := checkID(f+".event_id", d.EventID); err != nil {
		return err
	}
	if d.SessionID != "" {
		if err := checkID(f+".session_id", d.SessionID); err != nil {
			return err
		}
	}
	if d.Seq > 1<<63-1 {
		return invalid(f+".seq", "is out of range")
	}
	if d.Deliveries < 0 {
		return invalid(f+".deliveries", "is negative")
	}
	d.Reason = clean(truncate(d.Reason, MaxTextLen))
	if d.ReplayedAs != "" {
		if err := checkID(f+".replayed_as", d.ReplayedAs); err != nil {
			return err
		}
	}
	if len(d.Payload) > maxPayloadLen {
		return invalid(f+".payload", "is %d bytes, more than %d", len(d.Payload), maxPayloadLen)
	}
	d.At = utcOr(d.At, now)
	d.ID = 0
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// validTypes checks a search's type filter.
func validTypes(types []string) error {
	for _, t := range types {
		if err := event.CheckObservationType(t); err != nil {
			return invalid("types", "%s", err)
		}
	}
	return nil
}
