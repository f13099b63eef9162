package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/llm"
	"github.com/mnemo-dev/mnemo/services/query"
)

func init() {
	register("doctor", command{
		summary: "check the hook path end to end (hooks installed, Mnemo reachable and ready, an event accepted) and say what is wrong",
		run:     runDoctor,
	})
}

// doctorCheck is one line of the doctor's report.
type doctorCheck struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Warn marks a finding that does not break the hook path.
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
	// Fix says what to do when the check failed.
	Fix string `json:"fix,omitempty"`
}

// doctor runs the checks of `mnemo doctor`.
type doctor struct {
	cfg      hookcli.Config
	settings []string // Claude Code settings files to look for hooks in
	publish  bool
	checks   []doctorCheck
}

func (d *doctor) add(c doctorCheck) { d.checks = append(d.checks, c) }

func (d *doctor) failed() bool {
	for _, c := range d.checks {
		if !c.OK && !c.Warn {
			return true
		}
	}
	return false
}

// claudeSettingsFiles lists the settings files Claude Code merges hooks from
// for the working directory: the user's and the project's (shared and local).
func claudeSettingsFiles() []string {
	var files []string
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".claude", "settings.json"))
	}
	if cwd, err := os.Getwd(); err == nil {
		root := cwd
		if r, _, ok := hook.GitRoot(cwd); ok {
			root = r
		}
		files = append(files, filepath.Join(root, ".claude", "settings.json"), filepath.Join(root, ".claude", "settings.local.json"))
	}
	return files
}

// distinctFiles drops the paths that name a file already listed (the same
// path, or a link to the same file): from a non-git $HOME the project's
// settings are the user's, and must be read once.
func distinctFiles(paths []string) []string {
	var out []string
	var infos []fs.FileInfo
	seen := map[string]bool{}
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if seen[p] {
			continue
		}
		fi, err := os.Stat(p)
		if err == nil && slices.ContainsFunc(infos, func(o fs.FileInfo) bool { return os.SameFile(o, fi) }) {
			continue
		}
		seen[p] = true
		if err == nil {
			infos = append(infos, fi)
		}
		out = append(out, p)
	}
	return out
}

// checkHooks looks for Mnemo's hooks in the settings files: every event of
// claudeCodeHooks must run an existing mnemo executable, once.
func (d *doctor) checkHooks() {
	found := map[string][]string{} // event → commands
	var read []string
	for _, f := range distinctFiles(d.settings) {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			d.add(doctorCheck{Name: "settings", Detail: fmt.Sprintf("%s: %v", f, err), Fix: "make the file readable"})
			continue
		}
		cmds, err := mnemoHookCommands(b)
		if err != nil {
			d.add(doctorCheck{Name: "settings", Detail: fmt.Sprintf("%s is not valid settings JSON: %v", f, err),
				Fix: "fix the file (Claude Code ignores it as it is); the backup of the last install is " + f + ".mnemo.bak"})
			continue
		}
		read = append(read, f)
		for ev, c := range cmds {
			found[ev] = append(found[ev], c...)
		}
	}
	var missing, dup, broken []string
	for _, spec := range claudeCodeHooks {
		cmds := found[spec.Event]
		switch {
		case len(cmds) == 0:
			missing = append(missing, spec.Event)
		case len(cmds) > 1:
			dup = append(dup, spec.Event)
		}
		for _, c := range cmds {
			exe := shellWords(c)[0]
			if fi, err := os.Stat(exe); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
				broken = append(broken, fmt.Sprintf("%s runs %s, which is not an executable file", spec.Event, exe))
			}
		}
	}
	switch {
	case len(read) == 0:
		d.add(doctorCheck{Name: "hooks", Detail: "no Claude Code settings file found (looked at " + strings.Join(d.settings, ", ") + ")",
			Fix: "run `mnemo install claude-code`"})
	case len(missing) == len(claudeCodeHooks):
		d.add(doctorCheck{Name: "hooks", Detail: "Mnemo's hooks are not installed in " + strings.Join(read, ", "),
			Fix: "run `mnemo install claude-code`"})
	case len(missing) > 0:
		d.add(doctorCheck{Name: "hooks", Detail: "hooks missing for " + strings.Join(missing, ", "),
			Fix: "run `mnemo install claude-code` again"})
	case len(broken) > 0:
		d.add(doctorCheck{Name: "hooks", Detail: strings.Join(broken, "; "),
			Fix: "run `mnemo install claude-code` with the mnemo you mean to use"})
	default:
		d.add(doctorCheck{Name: "hooks", OK: true, Detail: fmt.Sprintf("%d hooks installed in %s", len(claudeCodeHooks), strings.Join(read, ", "))})
	}
	if len(dup) > 0 {
		d.add(doctorCheck{Name: "hooks", OK: false, Warn: true, Detail: "installed more than once (user and project settings?) for " + strings.Join(dup, ", "),
			Fix: "run `mnemo uninstall claude-code --scope project` (or user) so that only one copy runs; repeats of a prompt are dropped, other events cost twice"})
	}
}

// mnemoHookCommands returns, by event, the commands of a settings document
// that run Mnemo's hooks.
func mnemoHookCommands(b []byte) (map[string][]string, error) {
	var s struct {
		Hooks map[string][]hookEntry `json:"hooks"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	found := map[string][]string{}
	for ev, entries := range s.Hooks {
		for _, e := range entries {
			for _, h := range e.Hooks {
				if h.Type == "command" && isMnemoHookCommand(h.Command) {
					found[ev] = append(found[ev], h.Command)
				}
			}
		}
	}
	return found, nil
}

// checkClaudeMem warns when claude-mem records sessions beside Mnemo (its
// plugin or hooks on in a settings file: each session recorded twice), and
// points at `mnemo import claude-mem` when its database is there.
func (d *doctor) checkClaudeMem() {
	db := claudemem.DefaultPath()
	_, err := os.Stat(db)
	hasDB := err == nil
	var on []string
	for _, f := range distinctFiles(d.settings) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // checkHooks says why
		}
		if cm, err := findClaudeMem(b); err == nil && cm.any() {
			on = append(on, fmt.Sprintf("%s in %s", cm, f))
		}
	}
	importHint := "bring its memory into Mnemo with `mnemo import claude-mem` (" + db + "; a second run imports nothing new)"
	switch {
	case len(on) > 0:
		c := doctorCheck{Name: "claude-mem", Warn: true,
			Detail: "claude-mem is on (" + strings.Join(on, "; ") + "): it records every session Mnemo records, so each is recorded twice",
			Fix: "turn it off with `mnemo install claude-code --replace-claude-mem` (add --settings FILE for a file other than the user's; " +
				"uninstall turns it back on), or set its enabledPlugins entry to false and remove its hooks"}
		if hasDB {
			c.Fix += "; " + importHint
		}
		d.add(c)
	case hasDB:
		d.add(doctorCheck{Name: "claude-mem", OK: true, Detail: "claude-mem's hooks are off; " + importHint})
	}
}

// get does one GET against Mnemo (2 s at most) and returns the status and
// body head.
func (d *doctor) get(ctx context.Context, client *http.Client, path string) (int, string, error) {
	return d.do(ctx, client, http.MethodGet, path, nil, 2*time.Second)
}

// post does one POST of a JSON body against Mnemo (3 s at most) and returns
// the status and body head.
func (d *doctor) post(ctx context.Context, client *http.Client, path string, body []byte) (int, string, error) {
	return d.do(ctx, client, http.MethodPost, path, body, 3*time.Second)
}

// do sends one request with the token, a JSON body if any, and returns the
// status and the first 4 KiB of the answer, trimmed.
func (d *doctor) do(ctx context.Context, client *http.Client, method, path string, body []byte, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.cfg.URL+path, r)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req, d.cfg.Token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// checkServer checks that MNEMO_URL answers, is ready and accepts events.
func (d *doctor) checkServer(ctx context.Context) {
	h := mnemoHTTPClient(2 * time.Second)
	status, body, err := d.get(ctx, h, "/healthz")
	if err != nil {
		d.add(doctorCheck{Name: "reachable", Detail: fmt.Sprintf("Mnemo at %s is not reachable: %v", d.cfg.URL, err),
			Fix: "start Mnemo (`mnemo run`), or set MNEMO_URL to where it runs; until then hooks spool events in " + hookcli.OpenSpool(d.cfg.Home).Dir()})
		return
	}
	if status != http.StatusOK {
		d.add(doctorCheck{Name: "reachable", Detail: fmt.Sprintf("%s/healthz answered HTTP %d: %s", d.cfg.URL, status, body),
			Fix: "MNEMO_URL may point at something that is not Mnemo"})
		return
	}
	d.add(doctorCheck{Name: "reachable", OK: true, Detail: d.cfg.URL + " answers"})

	status, body, err = d.get(ctx, h, "/readyz")
	switch {
	case err != nil:
		d.add(doctorCheck{Name: "ready", Detail: fmt.Sprintf("/readyz: %v", err), Fix: "see Mnemo's log"})
	case status != http.StatusOK:
		d.add(doctorCheck{Name: "ready", Detail: fmt.Sprintf("/readyz answered HTTP %d: %s", status, body),
			Fix: "Mnemo runs but is not ready (NATS/JetStream, Redis or the store): see its log; hooks spool meanwhile"})
	default:
		d.add(doctorCheck{Name: "ready", OK: true, Detail: "/readyz ok"})
	}

	// The hook path: the raw hook endpoint maps a real Claude Code payload
	// with the same code as the hook CLI. A Notification is mapped, checked
	// and deliberately not recorded, so the check leaves no trace in memory.
	probe := fmt.Sprintf(`{"session_id":"mnemo-doctor","transcript_path":"","cwd":%q,"hook_event_name":"Notification","message":"mnemo doctor","notification_type":"doctor"}`, mustGetwd())
	status, body, err = d.post(ctx, h, "/v1/hooks/claude-code/Notification", []byte(probe))
	switch {
	case err != nil:
		d.add(doctorCheck{Name: "hook endpoint", Detail: fmt.Sprintf("POST /v1/hooks/claude-code/Notification: %v", err), Fix: "see Mnemo's log"})
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		d.add(doctorCheck{Name: "hook endpoint", Detail: fmt.Sprintf("HTTP %d: %s", status, body),
			Fix: "set MNEMO_TOKEN to Mnemo's token where Claude Code runs the hooks"})
	case status/100 != 2:
		d.add(doctorCheck{Name: "hook endpoint", Detail: fmt.Sprintf("HTTP %d: %s", status, body), Fix: "see Mnemo's log"})
	default:
		d.add(doctorCheck{Name: "hook endpoint", OK: true, Detail: "a Claude Code payload is accepted"})
	}
	if !d.publish {
		return
	}
	// --publish: one real event through JetStream.
	e := event.Envelope{EventID: event.NewID(), SessionID: "mnemo-doctor", Project: "mnemo-doctor", Agent: "mnemo-doctor",
		Kind: event.KindSessionEnd, At: time.Now().UTC(), Source: "doctor"}
	b, _ := json.Marshal(e)
	status, body, err = d.post(ctx, h, "/v1/events", b)
	switch {
	case err != nil:
		d.add(doctorCheck{Name: "test event", Detail: fmt.Sprintf("POST /v1/events: %v", err), Fix: "see Mnemo's log"})
	case status/100 != 2:
		d.add(doctorCheck{Name: "test event", Detail: fmt.Sprintf("POST /v1/events answered HTTP %d: %s", status, body),
			Fix: "a 503 means JetStream did not store it in time: see Mnemo's log"})
	default:
		d.add(doctorCheck{Name: "test event", OK: true, Detail: "event " + e.EventID + " stored (session mnemo-doctor)"})
	}
}

func mustGetwd() string {
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "/"
}

// checkSpool reports events waiting in the spool and events ingest refused.
func (d *doctor) checkSpool() {
	st, err := hookcli.OpenSpool(d.cfg.Home).Status()
	if err != nil {
		d.add(doctorCheck{Name: "spool", Detail: err.Error(), Fix: "check the permissions of " + hookcli.OpenSpool(d.cfg.Home).Dir()})
		return
	}
	c := doctorCheck{Name: "spool", OK: st.Count == 0, Warn: true, Detail: "empty"}
	if st.Count > 0 {
		c.Detail = fmt.Sprintf("%d event(s) waiting since %s", st.Count, st.Oldest.Local().Format(time.RFC3339))
		c.Fix = "they are sent by the next hook once Mnemo is reachable, or now with `mnemo spool flush`"
		if b, err := os.ReadFile(filepath.Join(st.Dir, hookcli.SpoolLogName)); err == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if last := lines[len(lines)-1]; last != "" {
				c.Detail += "; last flush: " + last
			}
		}
	}
	d.add(c)
	if st.Rejected > 0 {
		d.add(doctorCheck{Name: "rejected", Warn: true, Detail: fmt.Sprintf("%d event(s) refused by ingest", st.Rejected),
			Fix: "see " + filepath.Join(st.Dir, hookcli.SpoolRejected) + " for the reasons"})
	}
}

// checkExcluded says whether the current project is excluded.
func (d *doctor) checkExcluded() {
	if len(d.cfg.Exclude) == 0 {
		return
	}
	cwd := mustGetwd()
	project := hook.ProjectNamer(d.cfg.ProjectDir)(cwd)
	if g := hook.Excluded(d.cfg.Exclude, project, cwd); g != "" {
		d.add(doctorCheck{Name: "excluded", Warn: true, Detail: fmt.Sprintf("project %q (%s) is excluded by MNEMO_EXCLUDED_PROJECTS glob %q", project, cwd, g),
			Fix: "nothing of this project is recorded; change MNEMO_EXCLUDED_PROJECTS if that is not what you want"})
	}
}

// checkCompressor names the compressor, why, and its budget: the running
// `mnemo run`'s (run.json), else what this environment would choose. An
// offline compressor is a warning: memory without an LLM is extractive.
func (d *doctor) checkCompressor(ctx context.Context) {
	var info runInfo
	if b, err := os.ReadFile(filepath.Join(d.cfg.Home, "run.json")); err == nil && json.Unmarshal(b, &info) == nil && info.CompressorChoice != "" {
		d.add(doctorCheck{Name: "compressor", OK: !strings.HasPrefix(info.CompressorChoice, llm.ProviderOffline+","), Warn: true,
			Detail: fmt.Sprintf("mnemo run (pid %d) compresses with %s", info.PID, info.CompressorChoice),
			Fix:    "log in with `claude` or set MNEMO_LLM_PROVIDER (claude-code, anthropic, openai, gemini), then restart mnemo run"})
		return
	}
	ch, err := llm.Choose(ctx)
	if err != nil {
		d.add(doctorCheck{Name: "compressor", Detail: err.Error(), Fix: "fix the variable named"})
		return
	}
	d.add(doctorCheck{Name: "compressor", OK: ch.Provider != llm.ProviderOffline, Warn: true,
		Detail: "no mnemo run found; this environment compresses with " + ch.String(),
		Fix:    "log in with `claude` or set MNEMO_LLM_PROVIDER (claude-code, anthropic, openai, gemini)"})
}

// checkSemantic says whether the running Mnemo searches by meaning (a
// warning when not: full-text search still works).
func (d *doctor) checkSemantic(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.cfg.URL+"/v1/stats", nil)
	if err != nil {
		return
	}
	authorize(req, d.cfg.Token)
	resp, err := mnemoHTTPClient(3 * time.Second).Do(req)
	if err != nil {
		return // the server checks said why
	}
	defer resp.Body.Close()
	var st query.Stats
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st) != nil {
		return
	}
	c := doctorCheck{Name: "semantic search", OK: st.Semantic.On, Warn: true, Detail: semanticLine(st.Semantic)}
	if !st.Semantic.On {
		c.Fix = "set MNEMO_EMBED_PROVIDER (openai or gemini) and MNEMO_EMBED_MODEL where Mnemo runs, then restart it"
	}
	d.add(c)
}

// runDoctor is `mnemo doctor`. It exits 1 when a check failed.
func runDoctor(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var settings multiFlag
	fset.Var(&settings, "settings", "a Claude Code settings file to look for the hooks in (repeatable; default: the user's and the project's)")
	publish := fset.Bool("publish", false, "also publish one real event (session mnemo-doctor) through JetStream")
	asJSON := fset.Bool("json", false, "print the checks as JSON")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exit.Error{Code: 2}
	}
	d := &doctor{cfg: hookcli.LoadConfig(), settings: settings, publish: *publish}
	if len(d.settings) == 0 {
		d.settings = claudeSettingsFiles()
	}
	d.checkHooks()
	d.checkClaudeMem()
	d.checkServer(ctx)
	d.checkSpool()
	d.checkExcluded()
	d.checkCompressor(ctx)
	d.checkSemantic(ctx)
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(d.checks); err != nil {
			return err
		}
	} else {
		for _, c := range d.checks {
			mark := "ok  "
			switch {
			case !c.OK && c.Warn:
				mark = "warn"
			case !c.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(stdout, "[%s] %-13s %s\n", mark, c.Name, c.Detail)
			if !c.OK && c.Fix != "" {
				fmt.Fprintf(stdout, "       %-13s → %s\n", "", c.Fix)
			}
		}
	}
	if d.failed() {
		if !*asJSON {
			fmt.Fprintln(stdout, "the hook path is broken: fix the FAIL lines above (hooks never block Claude Code; events wait in the spool)")
		}
		return &exit.Error{Code: 1}
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "all good: Claude Code's hooks reach Mnemo")
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	if !slices.Contains(*m, v) {
		*m = append(*m, v)
	}
	return nil
}
