package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/claudemem/claudememtest"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func TestImportClaudeMemCLI(t *testing.T) {
	ctx := context.Background()
	src := claudememtest.Copy(t, "claude-mem-13.25.3.db")
	dsn := filepath.Join(t.TempDir(), "mnemo.db")
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runImport(ctx, append([]string{"claude-mem"}, args...), nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := run(src, "--store", dsn, "--dry-run")
	if err != nil || !strings.Contains(out, "would import from "+src+" (every project): 6 sessions, 6 prompts, 48 observations, 6 summaries") {
		t.Fatalf("dry run: %q, %v", out, err)
	}
	if out, err := run(src, "--store", dsn, "--project", "acme-api"); err != nil || !strings.Contains(out, "imported 0 sessions, 0 prompts, 0 observations, 0 summaries") {
		t.Fatalf("another project: %q, %v", out, err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := st.Counts(ctx, "", time.Time{}); c.Observations != 0 || c.Sessions != 0 {
		t.Fatalf("dry run or another project wrote %+v", c)
	}
	st.Close()
	out, err = run(src, "--store", dsn)
	if err != nil || !strings.Contains(out, "imported 6 sessions, 6 prompts, 48 observations, 6 summaries") || !strings.Contains(out, "0 rows were already present") {
		t.Fatalf("import: %q, %v", out, err)
	}
	out, err = run(src, "--store", dsn)
	if err != nil || !strings.Contains(out, "imported 0 sessions, 0 prompts, 0 observations, 0 summaries") || !strings.Contains(out, "66 rows were already present") {
		t.Fatalf("second import: %q, %v", out, err)
	}
	old := claudememtest.Copy(t, "claude-mem-13.25.3-no-summaries.db")
	claudememtest.DropNewerColumns(t, old)
	out, err = run(old, "--store", dsn)
	if err != nil || !strings.Contains(out, "older release; imported without: observations.content_hash") ||
		!strings.Contains(out, "imported 11 sessions, 24 prompts, 300 observations, 0 summaries") {
		t.Fatalf("older schema: %q, %v", out, err)
	}
	notes := filepath.Join(t.TempDir(), "notes.db")
	if err := exec.Command("sh", "-c", "echo not a database > "+notes).Run(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mnemoBin, "import", "claude-mem", notes, "--store", dsn)
	b, err := cmd.CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(b)), "\n") != 0 || !strings.Contains(string(b), "not a claude-mem database") {
		t.Fatalf("a file that is not claude-mem's: exit %v, %q; want one line and a failure", err, b)
	}
}

// TestImportClaudeMemKilledHalfWay kills the real binary (kill -9) part-way
// through a 20,000-observation import; the next run ends with exact counts.
func TestImportClaudeMemKilledHalfWay(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "big.db")
	claudememtest.Generate(t, src, "big", 40, 500)
	dsn := filepath.Join(t.TempDir(), "mnemo.db")
	cmd := exec.Command(mnemoBin, "import", "claude-mem", src, "--store", dsn)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	killed := false
	for sc.Scan() {
		// The first progress line comes after the first batch committed.
		if strings.HasPrefix(sc.Text(), "imported ") && !strings.HasPrefix(sc.Text(), "imported 0 ") {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the import ended before it could be killed")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := st.Counts(ctx, "", time.Time{})
	st.Close()
	if c.Observations >= 20000 {
		t.Fatalf("killed import already held every observation (%d)", c.Observations)
	}
	t.Logf("killed after %d observations", c.Observations)
	if out, err := exec.Command(mnemoBin, "import", "claude-mem", src, "--store", dsn).CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	st, err = store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, _ = st.Counts(ctx, "", time.Time{})
	if c.Observations != 20000 || c.Sessions != 40 || c.Summaries != 40 || c.Prompts != 40 {
		t.Fatalf("after the re-run: %+v", c)
	}
}

// TestImportedMemoryServed: what was imported is found by search and listed
// in the project's SessionStart context at once.
func TestImportedMemoryServed(t *testing.T) {
	ctx := context.Background()
	m := startMnemo(t, "")
	db, err := claudemem.Open(ctx, claudememtest.Copy(t, "claude-mem-13.25.3.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ImportInto(ctx, m.store, "", nil); err != nil {
		t.Fatal(err)
	}
	get := func(path string, q url.Values) string {
		t.Helper()
		resp, err := http.Get(m.url + path + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/v1/search", url.Values{"q": {"cmbenchorbit1x1"}}); !strings.Contains(body, "Bash ran cmbenchorbit1x1") {
		t.Fatalf("search did not find the imported observation: %s", body)
	}
	// An imported prompt, by a word only its text holds, under its
	// claude-mem session id and prompt number.
	var prompts struct {
		Type    string `json:"type"`
		Results []struct {
			Kind         string `json:"kind"`
			SessionID    string `json:"session_id"`
			PromptNumber int    `json:"prompt_number"`
		} `json:"results"`
	}
	body := get("/v1/search", url.Values{"type": {"prompts"}, "query": {"thruster3"}})
	if err := json.Unmarshal([]byte(body), &prompts); err != nil {
		t.Fatalf("type=prompts answer: %v: %s", err, body)
	}
	if len(prompts.Results) != 1 || prompts.Results[0].Kind != "prompt" || prompts.Results[0].PromptNumber != 1 ||
		prompts.Results[0].SessionID != "fc49cb0a-2f69-4c5e-8877-7319b5d0c5ef" || !strings.Contains(body, "orbit-thruster3 retry budget") {
		t.Fatalf("type=prompts did not find the imported prompt: %s", body)
	}
	if body := get("/v1/context", url.Values{"project": {"orbital-api"}}); !strings.Contains(body, "Bash ran cmbenchorbit") {
		t.Fatalf("context of the imported project lists none of its observations: %s", body)
	}
}
