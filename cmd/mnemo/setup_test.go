package main

// The set-up the command's tests share: running an executable, waiting for
// a server, reading the Claude Code fixtures, and the real backends a CLI
// command runs against.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/hook"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/nats-io/nats.go/jetstream"
)

// runIn runs an executable with args in dir under env, and returns its
// output and exit status.
func runIn(t *testing.T, dir, exe string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// waitHTTP waits until GET url answers 200, failing t after timeout.
func waitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	waitUp(t, nil, url, timeout)
}

// postJSON posts body to url and fails the test unless the answer's status
// is one of want.
func postJSON(t testing.TB, url string, body []byte, want ...int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !slices.Contains(want, resp.StatusCode) {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s, want %v", url, resp.StatusCode, b, want)
	}
}

// fixtureHead is what the tests read of a Claude Code hook payload.
type fixtureHead struct {
	Session string `json:"session_id"`
	Event   string `json:"hook_event_name"`
	Cwd     string `json:"cwd"`
}

// readFixture reads the Claude Code fixture payload name (without .json)
// and its head.
func readFixture(t testing.TB, name string) ([]byte, fixtureHead) {
	t.Helper()
	payload, err := os.ReadFile(filepath.Join(fixtureDir(t), name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var head fixtureHead
	if err := json.Unmarshal(payload, &head); err != nil {
		t.Fatal(err)
	}
	return payload, head
}

// sessionStartFixture is the SessionStart fixture and the project the hook
// names from its directory.
func sessionStartFixture(t testing.TB) (payload []byte, project string) {
	t.Helper()
	payload, head := readFixture(t, "SessionStart-startup")
	return payload, hook.ProjectNamer("")(head.Cwd)
}

// cliBackends is what a CLI command's test runs it against: MNEMO_HOME a
// fresh directory with no store or NATS URL from the environment, a real
// NATS server with the event streams, and a SQLite store file in home.
type cliBackends struct {
	home   string
	nats   *testkit.NATS
	js     jetstream.JetStream
	layout bus.Layout
	dsn    string
	store  store.Store
}

func startCLIBackends(t *testing.T) cliBackends {
	t.Helper()
	b := cliBackends{home: t.TempDir(), layout: testkit.TestLayout()}
	t.Setenv("MNEMO_HOME", b.home)
	t.Setenv("MNEMO_STORE", "")
	t.Setenv("MNEMO_NATS_URL", "")
	b.nats = testkit.StartNATS(t)
	_, b.js = b.nats.Connect(t)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, b.js, b.layout); err != nil {
		t.Fatal(err)
	}
	b.dsn = filepath.Join(b.home, "mnemo.db")
	b.store = storetest.Open(t, b.dsn)
	return b
}
