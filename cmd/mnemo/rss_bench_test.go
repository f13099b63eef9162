package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rssMB reads a process's resident set size from /proc, in MiB.
func rssMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// BenchmarkRunRSS measures the resident memory of a real `mnemo run`
// process (embedded NATS, worker, SQLite; its redis-server child is not
// counted): idle after start, and the peak while 500 sessions are live.
func BenchmarkRunRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc to read RSS")
	}
	dir := b.TempDir()
	bin := mnemoBin
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "run", "--addr", addr)
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+filepath.Join(dir, "home"), "MNEMO_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("mnemo run not ready within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	idle, err := rssMB(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}

	var (
		mu   sync.Mutex
		peak = idle
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, err := rssMB(cmd.Process.Pid); err == nil {
					mu.Lock()
					peak = max(peak, v)
					mu.Unlock()
				}
			}
		}
	}()
	b.ResetTimer()
	res, err := runLoad(context.Background(), loadConfig{
		URL: url, Clients: 32, Sessions: 500, Events: 500 * 8, Duration: 2 * time.Minute, Timeout: 10 * time.Second,
	}, defaultLoadTemplate)
	time.Sleep(3 * time.Second) // the worker is still turning the load into memory
	close(stop)
	wg.Wait()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Accepted != int64(500*8) {
		b.Fatalf("load: %d of %d accepted (%+v)", res.Accepted, 500*8, res)
	}
	b.ReportMetric(idle, "idle-MB")
	b.ReportMetric(peak, "load-MB")
}
