package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With no provider set and a logged-in claude on PATH, `mnemo run` starts
// with the user's Claude as the compressor and says why and with what
// budget, and `mnemo doctor` names it; MNEMO_LLM_PROVIDER=offline opts out.
func TestRunAndDoctorNameTheCompressor(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1 $2\" = 'auth status' ] && echo '{\"loggedIn\": true, \"authMethod\": \"claude.ai\"}' && exit 0\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "claude"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "MNEMO_HOME=" + home, "MNEMO_URL=http://" + addr, "MNEMO_LLM_PROVIDER=",
		"MNEMO_LLM_DAILY_TOKENS=", "MNEMO_CLAUDE_PATH=", "ANTHROPIC_API_KEY=", "CLAUDE_CODE_OAUTH_TOKEN=", "MNEMO_LLM_MODEL="}

	// Nothing running: the doctor says what this environment would choose.
	out, _ := mnemoCmd(t, env, "doctor", "--settings", filepath.Join(home, "none.json"))
	if !strings.Contains(out, "[ok  ] compressor") || !strings.Contains(out, "no mnemo run found; this environment compresses with claude-code/haiku") ||
		!strings.Contains(out, "2000000 tokens per project per UTC day") {
		t.Fatalf("doctor without mnemo run:\n%s", out)
	}
	out, _ = mnemoCmd(t, append(env, "MNEMO_LLM_PROVIDER=offline"), "doctor", "--settings", filepath.Join(home, "none.json"))
	if !strings.Contains(out, "[warn] compressor") || !strings.Contains(out, "offline, because MNEMO_LLM_PROVIDER=offline") {
		t.Fatalf("doctor, offline:\n%s", out)
	}

	logPath := filepath.Join(t.TempDir(), "run.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := exec.Command(mnemoBin, "run", "--addr", addr)
	run.Env = append(os.Environ(), env...)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = run.Wait(); close(done) }()
	defer func() {
		_ = run.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = run.Process.Kill()
		}
	}()
	var info runInfo
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(home, "run.json"))
		if err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("no run.json after 90 s; log:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	logged, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logged), "compressor: claude-code/haiku, because no MNEMO_LLM_PROVIDER is set and "+filepath.Join(bin, "claude")+" has credentials") ||
		!strings.Contains(info.CompressorChoice, "budget: 2000000 tokens per project per UTC day (default of the automatic choice") {
		t.Fatalf("run.json compressor %q; log:\n%s", info.CompressorChoice, logged)
	}
	// The doctor reports the running instance's choice, whatever its own
	// environment says.
	out, _ = mnemoCmd(t, append(env, "MNEMO_LLM_PROVIDER=offline"), "doctor", "--settings", filepath.Join(home, "none.json"))
	if !strings.Contains(out, "[ok  ] compressor") || !strings.Contains(out, "compresses with claude-code/haiku") {
		t.Fatalf("doctor with mnemo run:\n%s", out)
	}
}
