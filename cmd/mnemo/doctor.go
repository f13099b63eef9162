package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func init() {
	register("doctor", command{
		summary: "check the hook path end to end (hooks installed, Mnemo reachable and ready, spool) and say what is wrong",
		run:     runDoctor,
	})
}

// check is one line of the doctor's report.
type check struct {
	ok   bool
	what string
	fix  string
}

// runDoctor checks what the hook needs, in the order the hook needs it, and
// exits 1 when something is wrong.
func runDoctor(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home, _ := os.UserHomeDir()
	settings := fs.String("settings", filepath.Join(home, ".claude", "settings.json"), "the Claude Code settings file holding the hooks")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	cfg := loadHookConfig()
	var checks []check
	add := func(ok bool, what, fix string) { checks = append(checks, check{ok, what, fix}) }

	// 1. Hooks installed.
	b, err := os.ReadFile(*settings)
	switch {
	case err != nil:
		add(false, "hooks: cannot read "+*settings+": "+err.Error(), "run `mnemo install claude-code` (or pass --settings)")
	default:
		var missing []string
		for _, h := range claudeCodeHooks {
			if !strings.Contains(string(b), "hook claude-code "+h.Event) {
				missing = append(missing, h.Event)
			}
		}
		if len(missing) > 0 {
			add(false, "hooks: missing in "+*settings+": "+strings.Join(missing, ", "), "run `mnemo install claude-code`")
		} else {
			add(true, "hooks: all installed in "+*settings, "")
		}
	}

	// 2. Mnemo reachable and ready, 3. the hook endpoint answers.
	client := &http.Client{Timeout: 3 * time.Second}
	get := func(path string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL+path, nil)
		if cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(body), nil
	}
	if code, _, err := get("/healthz"); err != nil || code != http.StatusOK {
		add(false, fmt.Sprintf("mnemo: %s is not reachable (%v, HTTP %d)", cfg.URL, err, code),
			"start it with `mnemo run`, or set MNEMO_URL to your deployment")
	} else {
		add(true, "mnemo: "+cfg.URL+" is up", "")
		if code, body, err := get("/readyz"); err != nil || code != http.StatusOK {
			var e struct{ Error string }
			_ = json.Unmarshal([]byte(body), &e)
			add(false, fmt.Sprintf("mnemo: not ready (HTTP %d): %s %v", code, e.Error, err), "check the mnemo logs: the broker or the store is not available")
		} else {
			add(true, "mnemo: ready (broker and store reachable)", "")
		}
		probe := `{"session_id":"mnemo-doctor","hook_event_name":"Notification","cwd":"/","message":"doctor"}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+"/v1/hooks/claude-code/Notification", strings.NewReader(probe))
		req.Header.Set("Content-Type", "application/json")
		if cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
		}
		resp, err := client.Do(req)
		switch {
		case err != nil:
			add(false, "hook endpoint: "+err.Error(), "check MNEMO_URL")
		case resp.StatusCode == http.StatusUnauthorized:
			add(false, "hook endpoint: 401, the token is missing or wrong", "set MNEMO_TOKEN to the server's token")
		case resp.StatusCode/100 != 2:
			add(false, fmt.Sprintf("hook endpoint: HTTP %d", resp.StatusCode), "check the mnemo logs")
		default:
			add(true, "hook endpoint: answers (test payload, not recorded)", "")
		}
		if resp != nil {
			resp.Body.Close()
		}
	}

	// 4. Spool.
	st, err := openSpool(cfg.Home).status()
	switch {
	case err != nil:
		add(false, "spool: "+err.Error(), "check that "+filepath.Join(cfg.Home, "spool")+" is writable")
	case st.Count > 0:
		add(false, fmt.Sprintf("spool: %d event(s) waiting since %s", st.Count, st.Oldest.Format(time.RFC3339)),
			"once Mnemo is up they are replayed by the next hook, or now with `mnemo spool flush`")
	default:
		add(true, "spool: empty ("+st.Dir+")", "")
	}

	failed := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s %s\n", mark, c.what)
		if !c.ok && c.fix != "" {
			fmt.Fprintf(stdout, "     → %s\n", c.fix)
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d problem(s) found", failed)}
	}
	fmt.Fprintln(stdout, "all good: Claude Code's hooks reach Mnemo")
	return nil
}
