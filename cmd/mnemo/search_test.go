package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

// runCLI runs the real binary with args and env; it returns stdout, stderr
// and the exit code.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mnemoBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mnemo %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestSearchCLI runs `mnemo search` against a served store: a query with
// the API's filters as flags (before and after the words) gives a table,
// --type prompts searches prompts, --json the API's answer, and a bad value
// Mnemo's reason with exit status 1.
func TestSearchCLI(t *testing.T) {
	m := startMnemo(t, "")
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var ids []int64
	for i, o := range []store.Observation{
		{Type: store.TypeDiscovery, Title: "Partner API rate limits webhooks", Narrative: "429s"},
		{Type: store.TypeDecision, Title: "Webhook retries use exponential backoff", Narrative: "spare the partner"},
		{Type: store.TypeBugfix, Title: "Webhook retry counter reset", Narrative: "reset on every attempt", FilesModified: []string{"/src/acme/retry.go"}},
	} {
		e := store.AppliedEvent{EventID: fmt.Sprintf("e%d", i+1), Seq: uint64(i + 1), Kind: "tool_use", AcceptedAt: at.Add(time.Duration(i+1) * time.Minute)}
		o.SessionID, o.Project, o.AcceptedAt, o.SourceEventIDs = "s1", "acme", e.AcceptedAt, []string{e.EventID}
		u := store.Unit{SessionID: "s1", Fence: 1, Events: []store.AppliedEvent{e}, Session: &store.SessionUpdate{Project: "acme", Agent: "claude-code"},
			Observations: []store.Observation{o}}
		if i == 0 {
			u.Prompts = []store.Prompt{{SessionID: "s1", Number: 1, Text: "Make the webhook retries gentler", At: e.AcceptedAt}}
		}
		res, err := m.store.Apply(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ObservationIDs[0])
	}
	env := []string{"MNEMO_URL=" + m.url, "MNEMO_HOME=" + t.TempDir(), "TZ=UTC"}

	out, stderr, code := runCLI(t, env, "search", "--obs-type", "decision,bugfix", "webhook", "--date-start", "2026-11-20", "--order-by", "date_asc", "--project", "acme")
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	row := regexp.MustCompile(`^(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d)\s+(\S+)\s+(\S+)\s+(.+)$`)
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "REF") || lines[3] != "" || lines[4] != "2 observations by date_asc." {
		t.Fatalf("search table:\n%s", out)
	}
	for i, want := range [][]string{
		{fmt.Sprintf("#%d", ids[1]), "2026-11-20 09:02", "decision", "acme", "Webhook retries use exponential backoff"},
		{fmt.Sprintf("#%d", ids[2]), "2026-11-20 09:03", "bugfix", "acme", "Webhook retry counter reset"},
	} {
		got := row.FindStringSubmatch(lines[1+i])
		if got == nil || strings.Join(got[1:], "|") != strings.Join(want, "|") {
			t.Fatalf("row %d: %q, want %v", i, lines[1+i], want)
		}
	}
	if !strings.HasPrefix(lines[2][strings.Index(lines[1], "2026"):], "2026") {
		t.Fatalf("columns not aligned:\n%s", out)
	}
	out, _, code = runCLI(t, env, "search", "--type", "prompts", "gentler")
	if code != 0 || !strings.Contains(out, "Ps1/1") || !strings.Contains(out, "Make the webhook retries gentler") || !strings.Contains(out, "1 prompts by relevance.") {
		t.Fatalf("prompt search: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, env, "search", "--limit", "2", "--json")
	var ans query.SearchAnswer
	if code != 0 || json.Unmarshal([]byte(out), &ans) != nil || len(ans.Results) != 2 || ans.Results[0].ID != ids[2] || ans.OrderBy != "date_desc" {
		t.Fatalf("--json: %d %s", code, out)
	}
	out, _, _ = runCLI(t, env, "search", "--limit", "2", "--offset", "2")
	if !strings.Contains(out, fmt.Sprintf("#%d", ids[0])) || strings.Contains(out, "--offset") {
		t.Fatalf("second page:\n%s", out)
	}
	if out, _, _ = runCLI(t, env, "search", "--limit", "2"); !strings.Contains(out, "--offset 2 for more") {
		t.Fatalf("full page says nothing of more:\n%s", out)
	}
	if out, _, _ = runCLI(t, env, "search", "--file", "/src/acme/retry.go"); !strings.Contains(out, fmt.Sprintf("#%d", ids[2])) || strings.Count(out, "\n#") != 1 {
		t.Fatalf("--file:\n%s", out)
	}
	if out, _, _ = runCLI(t, env, "search", "zzzqqq"); out != "No observations found.\n" {
		t.Fatalf("no match: %q", out)
	}
	_, stderr, code = runCLI(t, env, "search", "--order-by", "newest", "webhook")
	if code != 1 || !strings.Contains(stderr, "orderBy") || !strings.Contains(stderr, "400") {
		t.Fatalf("bad order: %d %s", code, stderr)
	}
	if _, stderr, code = runCLI(t, env, "search", "--limit", "x"); code != 2 || !strings.Contains(stderr, "limit") {
		t.Fatalf("bad flag: %d %s", code, stderr)
	}
}

// TestStatusCLI runs a real `mnemo run` and asks `mnemo status` about it:
// running, where, which compressor, the memory figures; then stops it and
// asks again: not running, exit status 3.
func TestStatusCLI(t *testing.T) {
	r := startRun(t) // ready, and run.json written before it said so
	home, addr, pid := r.home, strings.TrimPrefix(r.url, "http://"), r.proc.Cmd.Process.Pid
	deadline := time.Now().Add(90 * time.Second)
	// The worker up with its consumers, so the figures are complete.
	for {
		var st query.Stats
		resp, err := http.Get("http://" + addr + "/v1/stats")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		if err == nil && len(st.LiveWorkers) > 0 && len(st.Errors) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not up within 90 s: %v %+v", err, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Some memory to count.
	postJSON(t, "http://"+addr+"/v1/memories", []byte(`{"text":"Releases are cut on Tuesdays.","project":"acme"}`), http.StatusCreated)

	statusEnv := []string{"MNEMO_HOME=" + home, "MNEMO_URL="}
	out, stderr, code := runCLI(t, statusEnv, "status")
	if code != 0 {
		t.Fatalf("status while running: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		`^Mnemo is running at http://` + regexp.QuoteMeta(addr) + `$`,
		`^  process +mnemo run, pid ` + fmt.Sprint(pid) + `, home ` + regexp.QuoteMeta(home) + `$`,
		`^  compressor +offline$`,
		`^  store +` + regexp.QuoteMeta(filepath.Join(home, "mnemo.db")) + `, [0-9.]+ [KM]iB$`,
		`^  memory +1 observations, 0 sessions, 0 prompts, 0 summaries$`,
		`^  workers +1 live local$`,
		`^  version +\S+$`,
		`^  up +\S+ \(since `,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(out) {
			t.Errorf("status lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "could not read") {
		t.Errorf("status could not read a source:\n%s", out)
	}
	out, _, code = runCLI(t, statusEnv, "status", "--json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Running || rep.Stats == nil || rep.Stats.Observations != 1 ||
		rep.Stats.StoreBytes <= 0 || rep.Compressor != "offline" || rep.PID != pid {
		t.Fatalf("status --json: %d %s", code, out)
	}

	r.proc.Signal(syscall.SIGINT)
	out, _, code = runCLI(t, statusEnv, "status")
	if code != statusExitDown || !strings.Contains(out, "Mnemo is not running at http://") {
		t.Fatalf("status after stop: exit %d\n%s", code, out)
	}
	// An explicit address nobody answers on.
	out, _, code = runCLI(t, []string{"MNEMO_HOME=" + t.TempDir()}, "status", "--url", "http://"+addr)
	if code != statusExitDown || !strings.Contains(out, "not running at http://"+addr) {
		t.Fatalf("status of a dead address: exit %d\n%s", code, out)
	}
}
