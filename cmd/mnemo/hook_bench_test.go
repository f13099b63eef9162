package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// timeProcs runs the command b.N times and reports whole-process wall time;
// check, when set, is given each run's stdout, so that what was timed is
// what the figure claims.
func timeProcs(b *testing.B, payload []byte, env []string, check func(stdout []byte), name string, args ...string) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		if payload != nil {
			cmd.Stdin = newReader(payload)
		}
		var out bytes.Buffer
		cmd.Stdout = &out
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if check != nil {
			check(out.Bytes())
		}
	}
	b.StopTimer()
	testkit.ReportLatency(b, lat)
}

// hookUp times the hook against a running Mnemo and then checks that every
// run's event arrived and none was spooled.
func hookUp(b *testing.B, payload []byte, bin string) {
	m := startMnemo(b, "")
	home := b.TempDir()
	env := append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL="+m.url)
	timeProcs(b, payload, env, nil, bin, "hook", "claude-code", "PostToolUse")
	if got := len(m.stored(b)); got != b.N {
		b.Fatalf("%d events arrived from %d hook runs with Mnemo up", got, b.N)
	}
	if n := spooled(b, home); n != 0 {
		b.Fatalf("%d events spooled with Mnemo up", n)
	}
}

// hookDown times the hook with Mnemo down and then checks every run's
// event waits in the spool.
func hookDown(b *testing.B, payload []byte, bin string) {
	home := b.TempDir()
	env := append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL=http://127.0.0.1:1")
	timeProcs(b, payload, env, nil, bin, "hook", "claude-code", "PostToolUse")
	if n := spooled(b, home); n != b.N {
		b.Fatalf("%d events spooled from %d hook runs with Mnemo down", n, b.N)
	}
}

func spooled(b *testing.B, home string) int {
	names, err := filepath.Glob(filepath.Join(home, "spool", "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	return len(names)
}

// printsContext fails the benchmark when a SessionStart run printed no context.
func printsContext(b *testing.B) func([]byte) {
	return func(out []byte) {
		if !bytes.Contains(out, []byte(`"additionalContext"`)) {
			b.Fatalf("SessionStart printed %q, want its context", out)
		}
	}
}

// BenchmarkHookProcess is the whole-process wall time of `mnemo hook
// claude-code PostToolUse`, as Claude Code pays it at every tool call, with
// Mnemo up and down, beside floors exec'd the same way: `true`, an empty Go
// program and a Go program that links net/http.
func BenchmarkHookProcess(b *testing.B) {
	payload, err := os.ReadFile(fixtureDir(b) + "/PostToolUse-Bash.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("true", func(b *testing.B) {
		timeProcs(b, payload, os.Environ(), nil, "true")
	})
	// What any Go hook pays on this machine before doing anything: the
	// runtime's start, and the start of one that links an HTTP client (and
	// with it TLS), as a hook that can post to a remote ingest must.
	b.Run("go-empty", func(b *testing.B) {
		timeProcs(b, payload, os.Environ(), nil, goProgram(b, goEmpty))
	})
	b.Run("go-net-http", func(b *testing.B) {
		timeProcs(b, payload, os.Environ(), nil, goProgram(b, goNetHTTP))
	})
	b.Run("up", func(b *testing.B) { hookUp(b, payload, mnemoBin) })
	b.Run("down", func(b *testing.B) { hookDown(b, payload, mnemoBin) })
	// mnemo-hook: the small executable `mnemo install` puts in the hooks
	// when it sits next to mnemo (the same code, without the full binary's
	// package initialisation).
	small := smallHookBin(b)
	b.Run("small-up", func(b *testing.B) { hookUp(b, payload, small) })
	b.Run("small-down", func(b *testing.B) { hookDown(b, payload, small) })
}

// BenchmarkSessionStartHook is the SessionStart hook, as installed
// (mnemo-hook), with its context query against a store of 100k
// observations, and with Mnemo down as the baseline; full-up-100k is the
// same through the full mnemo binary.
func BenchmarkSessionStartHook(b *testing.B) {
	payload, _ := json.Marshal(map[string]any{"session_id": "bench-start", "hook_event_name": "SessionStart",
		"source": "startup", "cwd": "/home/dev/project-03", "transcript_path": "/tmp/t.jsonl"})
	small := smallHookBin(b)
	m := startMnemo(b, "")
	if err := storetest.NewCorpus(13, 20, 1000, 100).Seed(context.Background(), m.store); err != nil {
		b.Fatal(err)
	}
	up := append(os.Environ(), "MNEMO_HOME="+b.TempDir(), "MNEMO_URL="+m.url)
	b.Run("up-100k", func(b *testing.B) {
		timeProcs(b, payload, up, printsContext(b), small, "hook", "claude-code", "SessionStart")
	})
	b.Run("full-up-100k", func(b *testing.B) {
		timeProcs(b, payload, up, printsContext(b), mnemoBin, "hook", "claude-code", "SessionStart")
	})
	b.Run("down", func(b *testing.B) {
		env := append(os.Environ(), "MNEMO_HOME="+b.TempDir(), "MNEMO_URL=http://127.0.0.1:1")
		timeProcs(b, payload, env, func(out []byte) {
			if len(out) != 0 {
				b.Fatalf("SessionStart with Mnemo down printed %q", out)
			}
		}, small, "hook", "claude-code", "SessionStart")
	})
}

const (
	goEmpty = `package main

func main() {}
`
	goNetHTTP = `package main

import (
	"net/http"
	"os"
)

func main() {
	if len(os.Args) > 1 { // never: links the client without using it
		_, _ = http.Get(os.Args[1])
	}
}
`
)

// goProgram builds a one-file Go program outside the workspace and returns
// the executable's path.
func goProgram(b *testing.B, src string) string {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module floor\n\ngo 1.24\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build floor program: %v\n%s", err, out)
	}
	return bin
}

func newReader(b []byte) *bytesReader { return &bytesReader{b: b} }

// bytesReader is a fresh reader per process over a shared payload.
type bytesReader struct {
	b []byte
	i int
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}
