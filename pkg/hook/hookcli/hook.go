// Package hookcli is the hook command line shared by the mnemo binary and
// the small mnemo-hook binary: `hook claude-code <event>` (map the payload on
// stdin with pkg/hook, POST it to Mnemo with a short deadline, spool it when
// Mnemo cannot take it, print what Claude Code injects), the local spool and
// its replay (`spool status|flush`). It speaks only HTTP to Mnemo.
package hookcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
	"github.com/mnemo-dev/mnemo/pkg/settings"
)

// Config is the hook CLI's configuration, from the environment only: the
// agent runs the hook with fixed arguments.
type Config struct {
	URL   string // MNEMO_URL
	Token string // MNEMO_TOKEN
	Home  string // MNEMO_HOME
	// Timeout bounds connect+answer of the event POST and the file-read
	// gate's query (MNEMO_HOOK_TIMEOUT).
	Timeout time.Duration
	// ContextTimeout bounds SessionStart's context query
	// (MNEMO_HOOK_CONTEXT_TIMEOUT): once per session, and worth waiting for.
	ContextTimeout time.Duration
	// FlushBackoff is how long after a failed spool flush no new flusher is
	// started (MNEMO_HOOK_FLUSH_BACKOFF).
	FlushBackoff time.Duration
	Exclude      []string // MNEMO_EXCLUDED_PROJECTS
	SkipTools    []string // MNEMO_SKIP_TOOLS; unset → hook.DefaultSkipTools
	Debug        bool     // MNEMO_HOOK_DEBUG
	// Inject adds the memories most related to each prompt at
	// UserPromptSubmit (MNEMO_SEMANTIC_INJECT, off by default), at most
	// InjectLimit of them (MNEMO_SEMANTIC_INJECT_LIMIT, 5); inject.go.
	Inject      bool
	InjectLimit int
	ProjectDir  string // CLAUDE_PROJECT_DIR
}

// Defaults of the hook CLI.
const (
	// DefaultURL is where Mnemo listens unless MNEMO_URL says otherwise.
	DefaultURL            = "http://127.0.0.1:37800"
	defaultHookTimeout    = 300 * time.Millisecond
	defaultContextTimeout = 1500 * time.Millisecond
	defaultFlushBackoff   = time.Second
	// maxHookPayload bounds what the hook reads from stdin. Claude Code's
	// payloads are far smaller; the envelope is cut to 1 MiB anyway.
	maxHookPayload = 64 << 20
	// fileGateMinBytes: smaller files are cheaper to read than a timeline.
	fileGateMinBytes = 1500
	// fileGateFetch and fileGateShow bound the file-read gate's timeline.
	fileGateFetch = 40
	fileGateShow  = 15
)

// LoadConfig reads the configuration from MNEMO_* variables, then the
// settings file in MNEMO_HOME (a variable wins), and Claude Code's
// CLAUDE_PROJECT_DIR.
func LoadConfig() Config {
	home := config.Home()
	s := settings.Load(home)
	get := func(key string) string { v, _ := s.Get(key); return v }
	c := Config{
		URL:            strings.TrimRight(get("MNEMO_URL"), "/"),
		Token:          get("MNEMO_TOKEN"),
		Home:           home,
		Timeout:        parseDuration(get("MNEMO_HOOK_TIMEOUT"), defaultHookTimeout),
		ContextTimeout: parseDuration(get("MNEMO_HOOK_CONTEXT_TIMEOUT"), defaultContextTimeout),
		FlushBackoff:   envDuration("MNEMO_HOOK_FLUSH_BACKOFF", defaultFlushBackoff),
		Exclude:        hook.ParseExcluded(get(settings.ExcludedProjects)),
		Debug:          os.Getenv("MNEMO_HOOK_DEBUG") != "",
		ProjectDir:     os.Getenv("CLAUDE_PROJECT_DIR"),
		Inject:         parseBool(get("MNEMO_SEMANTIC_INJECT")),
		InjectLimit:    parseLimit(get("MNEMO_SEMANTIC_INJECT_LIMIT"), defaultInjectLimit, maxInjectLimit),
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	c.SkipTools = hook.ParseExcluded(get("MNEMO_SKIP_TOOLS"))
	if c.SkipTools == nil {
		c.SkipTools = []string{}
	}
	return c
}

// envDuration reads a duration ("300ms") or a number of milliseconds.
func envDuration(name string, def time.Duration) time.Duration {
	return parseDuration(os.Getenv(name), def)
}

// parseDuration reads a duration ("300ms") or a number of milliseconds.
func parseDuration(v string, def time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if ms, err := strconv.Atoi(v); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return def
}

// RunHook is `mnemo hook <agent> <event>`. It never fails the agent: every
// path returns nil (exit 0), panics included, and stdout carries nothing but
// the JSON Claude Code expects. Diagnostics go to stderr with MNEMO_HOOK_DEBUG.
func RunHook(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	cfg := LoadConfig()
	h := &hookRun{cfg: cfg, stderr: stderr}
	defer func() {
		if r := recover(); r != nil {
			h.debugf("panic: %v\n%s", r, debug.Stack())
		}
		err = nil
	}()
	if wantsHelp(args) {
		// Help is asked by a person, never by the agent: print it and read no
		// payload.
		fmt.Fprint(stdout, HookUsage)
		return nil
	}
	if os.Getenv(event.ObserverEnv) != "" {
		// Mnemo's own compressor runs the agent CLI: its session is not memory.
		h.debugf("%s is set (Mnemo's observer): not recorded", event.ObserverEnv)
		return nil
	}
	if len(args) != 2 || args[0] != "claude-code" {
		h.debugf("usage: mnemo hook claude-code <event> (got %q)", args)
		return nil
	}
	if handed, herr := handOff(ctx, cfg.URL, append([]string{"hook"}, args...), stdin, stdout, stderr); handed {
		if herr != nil {
			h.debugf("%v", herr)
		}
		return nil
	}
	payload, rerr := io.ReadAll(io.LimitReader(stdin, maxHookPayload+1))
	if rerr != nil {
		h.debugf("read stdin: %v", rerr)
		return nil
	}
	if len(payload) > maxHookPayload {
		h.debugf("payload over %d bytes: not recorded", maxHookPayload)
		return nil
	}
	out := h.claudeCode(ctx, args[1], payload)
	if len(out) > 0 {
		_, _ = stdout.Write(out)
	}
	return nil
}

// HookUsage is the hook command's help.
var HookUsage = `Usage: hook claude-code <event>

Claude Code runs this at every hook with the event's JSON payload on stdin.
It maps the payload, sends it to Mnemo with a short deadline, spools it under
$MNEMO_HOME/spool when Mnemo cannot take it, and prints only what Claude Code
injects (SessionStart context, the file-read gate, related memories). It always exits 0.

Events recorded: SessionStart, UserPromptSubmit, PostToolUse,
PostToolUseFailure, Stop, StopFailure, SessionEnd (PreToolUse: file-read gate).

Environment:
  MNEMO_URL                   Mnemo's address (default ` + DefaultURL + `)
  MNEMO_TOKEN                 bearer token
  MNEMO_HOME                  data directory: spool and hook state (default ~/.mnemo)
  MNEMO_HOOK_TIMEOUT          deadline of the event POST (default 300ms)
  MNEMO_HOOK_CONTEXT_TIMEOUT  deadline of SessionStart's context (default 1.5s)
  MNEMO_EXCLUDED_PROJECTS     comma-separated globs of projects not recorded
  MNEMO_SKIP_TOOLS            comma-separated tools not recorded
  MNEMO_SEMANTIC_INJECT       true: add memories related to each prompt (100ms deadline)
  MNEMO_SEMANTIC_INJECT_LIMIT how many (default 5, at most 20)
  MNEMO_HOOK_DEBUG            set to print diagnostics on stderr
`

// hookRun is one hook invocation.
type hookRun struct {
	cfg    Config
	stderr io.Writer
	mu     sync.Mutex // serialises debugf's writes to stderr
}

func (h *hookRun) debugf(format string, args ...any) {
	if h.cfg.Debug {
		h.mu.Lock() // SessionStart's two exchanges run at once
		defer h.mu.Unlock()
		fmt.Fprintf(h.stderr, "mnemo hook: "+format+"\n", args...)
	}
}

func (h *hookRun) options() hook.Options {
	return hook.Options{
		Project:   hook.ProjectNamer(h.cfg.ProjectDir),
		SkipTools: h.cfg.SkipTools,
		Exclude:   h.cfg.Exclude,
		State:     hook.NewState(filepath.Join(h.cfg.Home, "hook-state")),
	}
}

// claudeCode handles one Claude Code event and returns what goes to stdout.
func (h *hookRun) claudeCode(ctx context.Context, eventName string, payload []byte) []byte {
	if eventName == "PreToolUse" {
		return h.fileGate(ctx, payload)
	}
	opts := h.options()
	env, err := hook.ClaudeCode(eventName, payload, opts)
	if err != nil {
		if errors.Is(err, hook.ErrSkip) {
			h.debugf("%s: %v", eventName, err)
		} else {
			h.debugf("%s: not recorded: %v", eventName, err)
		}
		return nil
	}
	body, err := json.Marshal(env)
	if err != nil {
		h.debugf("encode: %v", err)
		return nil
	}
	if env.Kind == event.KindSessionStart && env.Source != "resume" {
		// On resume Claude Code sends the earlier context again from the
		// transcript; a second copy would only cost tokens.
		return h.deliverWithContext(ctx, env.EventID, body, env.Project)
	}
	h.deliver(ctx, env.EventID, body)
	if env.Kind == event.KindUserPrompt && h.cfg.Inject {
		return h.relatedMemories(ctx, env.Project, env.Prompt)
	}
	return nil
}

// deliverWithContext delivers a SessionStart event and fetches the
// project's context at the same time: the context is built from earlier
// sessions' memory, never from this event, so the agent waits for the slower
// of the two exchanges rather than for their sum. The fetch's goroutine is
// owned here: it is waited for before returning, and a panic in it is
// reported like one in the hook and yields no context.
func (h *hookRun) deliverWithContext(ctx context.Context, id string, body []byte, project string) []byte {
	var out []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				out = nil
				h.debugf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		out = h.sessionContext(ctx, project)
	}()
	h.deliver(ctx, id, body)
	<-done
	return out
}

// deliver POSTs the event, or spools it when Mnemo cannot take it now. While
// the spool holds events, new ones join the spool instead (the flusher sends
// them in order) and a background flusher is started.
func (h *hookRun) deliver(ctx context.Context, id string, body []byte) {
	sp := OpenSpool(h.cfg.Home)
	if sp.pending() {
		if err := sp.add(id, body); err != nil {
			h.debugf("spool: %v; sending directly", err)
		} else {
			h.debugf("spooled %s behind earlier events", id)
			sp.kick(h.cfg.FlushBackoff, h.debugf)
			return
		}
	}
	status, err := h.post(ctx, "/v1/events", body)
	switch {
	case err == nil && status/100 == 2:
		return
	case err == nil && permanentStatus(status):
		h.debugf("event %s rejected with HTTP %d", id, status)
		sp.reject(id, body, status, fmt.Sprintf("HTTP %d", status), "")
		return
	}
	if err != nil {
		h.debugf("post: %v", err)
	} else {
		h.debugf("post: HTTP %d", status)
	}
	if err := sp.add(id, body); err != nil {
		h.debugf("spool: %v: event %s lost", err, id)
	}
}

// permanentStatus reports whether an answer says the event itself is wrong,
// so that sending it again cannot help. Auth, routing, rate and server
// problems are not the event's fault: such events are kept.
func permanentStatus(status int) bool {
	switch status {
	case 400, 413, 422: // Bad Request, Content Too Large, Unprocessable Content
		return true
	}
	return false
}

func (h *hookRun) post(ctx context.Context, path string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	a, err := exchangeFor(h.cfg.URL)(ctx, plainhttp.Request{Method: "POST", URL: h.cfg.URL + path, Body: body,
		Header: headers(h.cfg.Token, "Content-Type", "application/json"), Limit: 64 << 10})
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", path, err)
	}
	return a.Status, nil
}

// headers returns the given header pairs and the bearer token
// (MNEMO_TOKEN), when one is set: every request the hook and its spool send.
func headers(token string, kv ...string) [][2]string {
	var h [][2]string
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, [2]string{kv[i], kv[i+1]})
	}
	if token != "" {
		h = append(h, [2]string{"Authorization", "Bearer " + token})
	}
	return h
}

// getJSON GETs path and decodes a 200 answer into v.
func (h *hookRun) getJSON(ctx context.Context, timeout time.Duration, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := exchangeFor(h.cfg.URL)(ctx, plainhttp.Request{Method: "GET", URL: h.cfg.URL + path,
		Header: headers(h.cfg.Token, "Accept", "application/json"), Limit: 4 << 20})
	if err != nil {
		return fmt.Errorf("get %s: %w", path, err)
	}
	if a.Status != 200 {
		return fmt.Errorf("get %s: HTTP %d", path, a.Status)
	}
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("get %s: %w", path, err)
	}
	return nil
}

// hookOutput is the one JSON object a hook may print on stdout.
type hookOutput struct {
	HookSpecificOutput hookSpecific `json:"hookSpecificOutput"`
}

// hookSpecific carries additionalContext only: Mnemo never decides
// permissions (no permissionDecision), it only informs the model.
type hookSpecific struct {
	HookEventName     string `json:"hookEventName"`
	AdditionalContext string `json:"additionalContext"`
}

// contextAnswer is GET /v1/context's answer.
type contextAnswer struct {
	Context      string `json:"context"`
	Observations int    `json:"observations"`
	Tokens       int    `json:"tokens"`
}

// sessionContext fetches the project's context for SessionStart and returns
// the hook output, or nothing when there is none or Mnemo is down.
func (h *hookRun) sessionContext(ctx context.Context, project string) []byte {
	var ans contextAnswer
	q := url.Values{"project": {project}}
	if tz := LocalZone(); tz != "" {
		q.Set("tz", tz) // so that the context's times are the user's
	}
	if err := h.getJSON(ctx, h.cfg.ContextTimeout, "/v1/context?"+q.Encode(), &ans); err != nil {
		h.debugf("context: %v", err)
		return nil
	}
	return contextOutput("SessionStart", ans.Context)
}

// contextOutput wraps text in Mnemo's context tag (so that Mnemo never
// re-ingests what it injected) inside the hook's JSON output line.
func contextOutput(eventName, text string) []byte {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	open, closing := "<"+event.ContextTag+">", "</"+event.ContextTag+">"
	if !strings.HasPrefix(text, open) {
		text = open + "\n" + text + "\n" + closing
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hookOutput{HookSpecificOutput: hookSpecific{HookEventName: eventName, AdditionalContext: text}}); err != nil {
		return nil
	}
	return buf.Bytes()
}

// gateObservation is one entry of GET /v1/observations' answer.
type gateObservation struct {
	ID         json.RawMessage `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Subtitle   string          `json:"subtitle"`
	SessionID  string          `json:"session_id"`
	AcceptedAt time.Time       `json:"accepted_at"`
}

// fileGate is PreToolUse on Read (claude-mem's file-read gate): when the
// file is big enough and Mnemo has observations of it newer than its last
// change, it adds a short per-file timeline to the model's context, so that
// the agent may skip reading what memory already knows. It never grants or
// denies permission.
func (h *hookRun) fileGate(ctx context.Context, payload []byte) []byte {
	p, err := hook.ParseClaudeCode(payload)
	if err != nil {
		h.debugf("PreToolUse: %v", err)
		return nil
	}
	if p.ToolName != "Read" {
		return nil
	}
	var in struct {
		FilePath string `json:"file_path"`
	}
	if err := json.Unmarshal(p.ToolInput, &in); err != nil || in.FilePath == "" {
		return nil
	}
	file := in.FilePath
	if !filepath.IsAbs(file) {
		file = filepath.Join(p.Cwd, file)
	}
	file = filepath.Clean(file)
	fi, err := os.Stat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < fileGateMinBytes {
		return nil
	}
	opts := h.options()
	project := opts.Project(p.Cwd)
	if hook.Excluded(opts.Exclude, project, p.Cwd) != "" {
		return nil
	}
	var ans struct {
		Observations []gateObservation `json:"observations"`
	}
	q := url.Values{"file": {file}, "project": {project}, "limit": {strconv.Itoa(fileGateFetch)}}
	if err := h.getJSON(ctx, h.cfg.Timeout, "/v1/observations?"+q.Encode(), &ans); err != nil {
		h.debugf("file gate: %v", err)
		return nil
	}
	return contextOutput("PreToolUse", fileTimeline(file, p.Cwd, fi.ModTime(), ans.Observations))
}

// fileTimeline formats the observations of file made after mtime: newest
// first, one per session, at most fileGateShow.
func fileTimeline(file, cwd string, mtime time.Time, obs []gateObservation) string {
	var lines []string
	seen := map[string]bool{}
	fresh := 0
	for _, o := range obs {
		if !o.AcceptedAt.After(mtime) {
			continue
		}
		fresh++
		if o.SessionID != "" {
			if seen[o.SessionID] {
				continue
			}
			seen[o.SessionID] = true
		}
		if len(lines) == fileGateShow {
			continue
		}
		id := strings.Trim(string(o.ID), `"`)
		line := fmt.Sprintf("- #%s %s [%s] %s", id, o.AcceptedAt.Local().Format("2006-01-02 15:04"), o.Type, oneLine(o.Title))
		if o.Subtitle != "" {
			line += " — " + oneLine(o.Subtitle)
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return ""
	}
	name := file
	if rel, err := filepath.Rel(cwd, file); err == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	}
	return fmt.Sprintf("Mnemo remembers %s (%d observation(s) made after its last change at %s):\n%s\n"+
		"If this answers your question you may not need to read the whole file; fetch details with the mnemo MCP tools (get_observations by id).",
		name, fresh, mtime.Local().Format("2006-01-02 15:04"), strings.Join(lines, "\n"))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
