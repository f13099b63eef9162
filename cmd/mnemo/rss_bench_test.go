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

// treeRSS is the resident set of a process and of its children (mnemo
// run's redis-server child), in MiB.
func treeRSS(pid int) (float64, error) {
	total, err := rssMB(pid)
	if err != nil {
		return 0, err
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(c); err == nil {
				if v, err := treeRSS(child); err == nil {
					total += v
				}
			}
		}
	}
	return total, nil
}

// appliedEvents reads mnemo_worker_events_applied_total from /metrics.
func appliedEvents(url string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "mnemo_worker_events_applied_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// BenchmarkRunRSS measures the resident memory of a real `mnemo run`
// process with its redis-server child (embedded NATS, worker, SQLite):
// idle after start, the peak while 500 sessions are live, and once the
// worker has applied every accepted event.
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
	cmd.Env = append(os.Environ(), "MNEMO_HOME="+filepath.Join(dir, "home"), "MNEMO_LOG_LEVEL=warn", "MNEMO_LLM_PROVIDER=offline")
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
	waitHTTP(b, url+"/readyz", 60*time.Second)
	time.Sleep(2 * time.Second)
	idle, err := treeRSS(cmd.Process.Pid)
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
				if v, err := treeRSS(cmd.Process.Pid); err == nil {
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
	if err == nil && res.Accepted == int64(500*8) {
		// The worker turns the load into memory after ingest accepted it:
		// sample until it has applied every accepted event.
		for deadline := time.Now().Add(3 * time.Minute); appliedEvents(url) < float64(res.Accepted); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("worker applied %v of %d events within 3 minutes", appliedEvents(url), res.Accepted)
			}
		}
	}
	close(stop)
	wg.Wait()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Accepted != int64(500*8) {
		b.Fatalf("load: %d of %d accepted (%+v)", res.Accepted, 500*8, res)
	}
	drained, err := treeRSS(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(idle, "idle-MB")
	b.ReportMetric(max(peak, drained), "load-MB")
	b.ReportMetric(drained, "drained-MB")
}
