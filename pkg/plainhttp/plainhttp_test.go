package plainhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
)

// A real net/http server on the other end: what the client must interoperate with.
func TestExchangesWithNetHTTPServer(t *testing.T) {
	big := strings.Repeat("memory ", 20000) // > the server's buffer: sent chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/events":
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" ||
				r.Header.Get("Content-Type") != "application/json" || string(body) != `{"a":1}` {
				http.Error(w, "bad request: "+r.Method+" "+string(body), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"seq":7}`))
		case "/v1/context":
			if r.URL.Query().Get("project") != "a b" {
				http.Error(w, "project "+r.URL.Query().Get("project"), http.StatusBadRequest)
				return
			}
			_, _ = io.WriteString(w, big)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	a, err := plainhttp.Do(ctx, plainhttp.Request{Method: "POST", URL: srv.URL + "/v1/events", Body: []byte(`{"a":1}`),
		Header: [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer tok"}}})
	if err != nil || a.Status != http.StatusAccepted || string(a.Body) != `{"seq":7}` {
		t.Fatalf("POST: %+v %q, %v", a.Status, a.Body, err)
	}
	a, err = plainhttp.Do(ctx, plainhttp.Request{Method: "GET", URL: srv.URL + "/v1/context?project=a+b", Limit: 4 << 20})
	if err != nil || a.Status != http.StatusOK || string(a.Body) != big {
		t.Fatalf("chunked GET: status %d, %d bytes (want %d), %v", a.Status, len(a.Body), len(big), err)
	}
	_, err = plainhttp.Do(ctx, plainhttp.Request{Method: "GET", URL: srv.URL + "/v1/context?project=a+b", Limit: 1000})
	if !errors.Is(err, plainhttp.ErrTooLarge) {
		t.Fatalf("answer over the limit: %v, want ErrTooLarge", err)
	}
	a, err = plainhttp.Do(ctx, plainhttp.Request{Method: "GET", URL: srv.URL + "/empty"})
	if err != nil || a.Status != http.StatusNoContent || len(a.Body) != 0 {
		t.Fatalf("204: %+v, %v", a, err)
	}
	a, err = plainhttp.Do(ctx, plainhttp.Request{Method: "GET", URL: srv.URL + "/nowhere"})
	if err != nil || a.Status != http.StatusOK {
		t.Fatalf("empty 200: %+v, %v", a, err)
	}
}

// Framing the client must decode by hand: Content-Length, chunks with
// extensions and trailers, a body ended by the connection, a 100 Continue.
func TestFramings(t *testing.T) {
	for name, answer := range map[string]string{
		"length":   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"chunked":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"eof":      "HTTP/1.0 200 OK\r\n\r\nhello",
		"continue": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
	} {
		t.Run(name, func(t *testing.T) {
			url := rawServer(t, answer)
			a, err := plainhttp.Do(context.Background(), plainhttp.Request{Method: "GET", URL: url})
			if err != nil || a.Status != 200 || string(a.Body) != "hello" {
				t.Fatalf("got %d %q, %v", a.Status, a.Body, err)
			}
		})
	}
	for name, answer := range map[string]string{
		"not http":   "SSH-2.0-OpenSSH\r\n\r\n",
		"short body": "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello",
		"bad chunk":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			url := rawServer(t, answer)
			if a, err := plainhttp.Do(context.Background(), plainhttp.Request{Method: "GET", URL: url}); err == nil {
				t.Fatalf("got %d %q, want an error", a.Status, a.Body)
			}
		})
	}
}

// A server that accepts and never answers: the deadline ends the exchange.
func TestDeadlineBoundsAStalledServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := plainhttp.Do(ctx, plainhttp.Request{Method: "POST", URL: "http://" + ln.Addr().String() + "/v1/events", Body: []byte("{}")})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stalled server: %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange outlived its deadline")
	}
}

func TestUsable(t *testing.T) {
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	for url, want := range map[string]bool{
		"http://127.0.0.1:37800":    true,
		"http://localhost:1":        true,
		"http://10.0.0.5:37800":     true,
		"http://mnemo.internal:80":  false, // a name: mnemo resolves it
		"https://mnemo.example.com": false,
		"unix:///tmp/x":             false,
		"::bad":                     false,
	} {
		if got := plainhttp.Usable(url); got != want {
			t.Errorf("Usable(%q) = %v, want %v", url, got, want)
		}
	}
	t.Setenv("HTTP_PROXY", "http://proxy:3128")
	if plainhttp.Usable("http://10.0.0.5") {
		t.Error("a proxied host is usable; only net/http knows proxies")
	}
	if !plainhttp.Usable("http://[::1]:37800") {
		t.Error("loopback is never proxied")
	}
}

// rawServer answers every connection with answer, after reading the request head.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			var got []byte
			for !bytes.Contains(got, []byte("\r\n\r\n")) {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			_, _ = c.Write([]byte(answer))
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// Nothing listening: the dial fails at once with the refusal, not at the
// deadline (the hook spools the event and returns).
func TestRefusedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = plainhttp.Do(ctx, plainhttp.Request{Method: "POST", URL: "http://" + addr + "/v1/events", Body: []byte("{}")})
	if err == nil || !strings.Contains(err.Error(), "refused") || ctx.Err() != nil {
		t.Fatalf("dial to a closed port: %v (ctx %v), want connection refused at once", err, ctx.Err())
	}
}
