package testkit

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Ports are never picked, released and bound later: servers bind port 0 and
// report what they bound (StartNATS, redisserver), and a child process is
// told to listen on 127.0.0.1:0 and asked where it did (Proc.WaitLog).

// Settled waits until count() reaches want (failing the test after
// timeout), then keeps watching until the count has not changed for quiet,
// measured from its last change, and returns the final count. A caller that
// compares it with want sees the duplicates that arrive after the expected
// count, which a wait stopping at the count would miss.
func Settled(t testing.TB, what string, want int, timeout, quiet time.Duration, count func() int) int {
	t.Helper()
	const poll = 50 * time.Millisecond
	deadline := time.Now().Add(timeout)
	n := count()
	for n < want {
		if time.Now().After(deadline) {
			t.Fatalf("testkit: %s: %d after %s, want %d", what, n, timeout, want)
		}
		time.Sleep(poll)
		n = count()
	}
	last := time.Now()
	// Something that keeps changing for a whole further timeout is reported
	// as it stands then.
	stop := last.Add(timeout)
	for time.Since(last) < quiet && time.Now().Before(stop) {
		time.Sleep(poll)
		if m := count(); m != n {
			n, last = m, time.Now()
		}
	}
	return n
}

// logAddr finds the address a daemon logged it listens on, in slog's JSON
// or text form.
var logAddr = regexp.MustCompile(`"?addr"?[=:]"?(?:http://)?(127\.0\.0\.1:[0-9]+)`)

// WaitLog waits until a line of the process's log contains marker and
// returns the first loopback address on that line (empty when there is
// none); it fails the test after timeout or when the process exits first.
func (p *Proc) WaitLog(t testing.TB, marker string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(p.Output(), "\n") {
			if strings.Contains(line, marker) {
				if m := logAddr.FindStringSubmatch(line); m != nil {
					return m[1]
				}
				return ""
			}
		}
		select {
		case <-p.done:
			t.Fatalf("testkit: %s exited before logging %q:\n%s", p.ID, marker, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testkit: %s did not log %q within %s", p.ID, marker, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFor polls cond until it holds, failing the test once timeout has
// passed; it returns how long cond took to hold.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}
