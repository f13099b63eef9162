package main

import (
	"bytes"
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mnemo-hook links no TLS (pkg/plainhttp); with an https MNEMO_URL it hands
// the hook to the mnemo binary beside it, which delivers the event; without
// one, the event is spooled, never lost.
func TestSmallHookHandsHTTPSToMnemo(t *testing.T) {
	m := startMnemo(t, "")
	target, err := url.Parse(m.url)
	if err != nil {
		t.Fatal(err)
	}
	tlsFront := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer tlsFront.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsFront.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join(fixtureDir(t), "PostToolUse-Bash.json"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(bin, home string, extraEnv ...string) {
		t.Helper()
		cmd := exec.Command(bin, "hook", "claude-code", "PostToolUse")
		cmd.Env = append(os.Environ(), "MNEMO_HOME="+home, "MNEMO_URL="+tlsFront.URL, "SSL_CERT_FILE="+caFile, "MNEMO_HOOK_TIMEOUT=5s")
		cmd.Env = append(cmd.Env, extraEnv...)
		cmd.Stdin = bytes.NewReader(payload)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, out)
		}
	}

	// Beside mnemo (as `go tool task build` and install put them).
	home := t.TempDir()
	run(smallHookBin(t), home)
	if got := len(m.stored(t)); got != 1 {
		t.Fatalf("%d events stored after an https hook through mnemo-hook, want 1", got)
	}
	if n := len(spooledFiles(t, home)); n != 0 {
		t.Fatalf("%d events spooled though the https ingest was up", n)
	}

	// Alone, with no mnemo on PATH: the event waits in the spool.
	alone := filepath.Join(t.TempDir(), "mnemo-hook")
	b, err := os.ReadFile(smallHookBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	home2 := t.TempDir()
	run(alone, home2, "PATH="+filepath.Dir(alone))
	if n := len(spooledFiles(t, home2)); n != 1 {
		t.Fatalf("%d events spooled by a lone mnemo-hook facing https, want 1", n)
	}
	if got := len(m.stored(t)); got != 1 {
		t.Fatalf("%d events stored, want still 1", got)
	}
}

func spooledFiles(t *testing.T, home string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(home, "spool", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}
