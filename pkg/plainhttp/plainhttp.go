// Package plainhttp is a minimal HTTP/1.1 client for one request per
// connection over plain TCP: what the hook needs to talk to a Mnemo on
// loopback or a private network, without linking net/http (and with it
// crypto/tls and x509), whose package initialisation the agent would pay at
// every tool call (docs/ARCHITECTURE.md §1). It speaks no TLS, no proxy and
// no DNS (on Linux it dials with the socket system calls, so the hook links
// no net package and no cgo resolver): Usable says when it can be used; the
// full mnemo binary does the rest.
package plainhttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrTooLarge is returned when an answer's body is over the caller's limit.
var ErrTooLarge = errors.New("plainhttp: answer body over the limit")

// maxHeaderBytes bounds the status line and headers of an answer.
const maxHeaderBytes = 64 << 10

// Request is one request: Method and URL (http only), optional Header lines
// and Body, and Limit, the most bytes of answer body read (0: 1 MiB).
type Request struct {
	Method string
	URL    string
	Header [][2]string
	Body   []byte
	Limit  int64
}

// Answer is an answer's status code and whole body.
type Answer struct {
	Status int
	Body   []byte
}

// Usable reports whether rawURL can be reached by this client: an http URL
// whose host is an IP address or localhost, and no proxy from the
// environment that would apply to it (a proxy never applies to loopback, as
// with net/http).
func Usable(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return false
	}
	ip, ok := address(u.Hostname())
	if !ok {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	return os.Getenv("HTTP_PROXY") == "" && os.Getenv("http_proxy") == ""
}

// address is host's IP address: an IP literal, or localhost's 127.0.0.1.
func address(host string) (netip.Addr, bool) {
	if host == "localhost" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	ip, err := netip.ParseAddr(host)
	return ip, err == nil
}

// Do sends r over a new connection (Connection: close) and reads the whole
// answer. ctx bounds everything: dial, write and read.
func Do(ctx context.Context, r Request) (Answer, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return Answer{}, fmt.Errorf("plainhttp: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return Answer{}, fmt.Errorf("plainhttp: %q is not an http URL", r.URL)
	}
	ip, ok := address(u.Hostname())
	if !ok {
		return Answer{}, fmt.Errorf("plainhttp: %q is not an IP address or localhost", u.Hostname())
	}
	port := 80
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return Answer{}, fmt.Errorf("plainhttp: bad port %q", p)
		}
		port = n
	}
	conn, err := dial(ctx, netip.AddrPortFrom(ip, uint16(port)))
	if err != nil {
		return Answer{}, fmt.Errorf("plainhttp: %w", ctxErr(ctx, err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled ctx (a signal, say) ends a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write(encode(r, u)); err != nil {
		return Answer{}, fmt.Errorf("plainhttp: write: %w", ctxErr(ctx, err))
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 1 << 20
	}
	a, err := read(bufio.NewReader(conn), r.Method, limit)
	if err != nil {
		return Answer{}, fmt.Errorf("plainhttp: %w", ctxErr(ctx, err))
	}
	return a, nil
}

// ctxErr prefers the context's error to the I/O deadline error it caused
// (the connection's deadline may fire a moment before the context's own).
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil {
		return fmt.Errorf("%w (%v)", ce, err)
	}
	var ne interface{ Timeout() bool }
	if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

// encode writes the request head and body into one buffer (one write).
func encode(r Request, u *url.URL) []byte {
	var b bytes.Buffer
	b.Grow(256 + len(r.Body))
	method := r.Method
	if method == "" {
		method = "GET"
	}
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(u.Host)
	b.WriteString("\r\nUser-Agent: mnemo-hook\r\nConnection: close\r\n")
	for _, h := range r.Header {
		b.WriteString(h[0])
		b.WriteString(": ")
		b.WriteString(h[1])
		b.WriteString("\r\n")
	}
	if r.Body != nil || method == "POST" || method == "PUT" {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(r.Body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes()
}

// read parses one answer: status line, headers, then a body framed by
// Content-Length, chunked encoding or the end of the connection. Interim
// 1xx answers are skipped.
func read(br *bufio.Reader, method string, limit int64) (Answer, error) {
	for {
		status, hdr, err := readHead(br)
		if err != nil {
			return Answer{}, err
		}
		if status >= 100 && status < 200 {
			continue
		}
		a := Answer{Status: status}
		if method == "HEAD" || status == 204 || status == 304 {
			return a, nil
		}
		switch {
		case strings.EqualFold(hdr["transfer-encoding"], "chunked"):
			a.Body, err = readChunked(br, limit)
		case hdr["content-length"] != "":
			n, perr := strconv.ParseInt(hdr["content-length"], 10, 64)
			if perr != nil || n < 0 {
				return a, fmt.Errorf("bad Content-Length %q", hdr["content-length"])
			}
			if n > limit {
				return a, ErrTooLarge
			}
			a.Body = make([]byte, n)
			_, err = io.ReadFull(br, a.Body)
		default:
			a.Body, err = io.ReadAll(io.LimitReader(br, limit+1))
			if err == nil && int64(len(a.Body)) > limit {
				err = ErrTooLarge
			}
		}
		return a, err
	}
}

// readHead reads the status line and the headers (names lower-cased; a
// repeated header keeps its last value, enough for the framing headers).
func readHead(br *bufio.Reader) (int, map[string]string, error) {
	budget := maxHeaderBytes
	line, err := readLine(br, &budget)
	if err != nil {
		return 0, nil, fmt.Errorf("status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return 0, nil, fmt.Errorf("not an HTTP/1.x answer: %q", line)
	}
	hdr := map[string]string{}
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return 0, nil, fmt.Errorf("headers: %w", err)
		}
		if line == "" {
			return status, hdr, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, nil, fmt.Errorf("bad header line %q", line)
		}
		hdr[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
}

// readLine reads one CRLF- (or LF-) terminated line within *budget bytes.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		*budget -= len(part) + 2
		if *budget < 0 {
			return "", errors.New("answer head over 64 KiB")
		}
		line = append(line, part...)
		if !isPrefix {
			return string(line), nil
		}
	}
}

// readChunked decodes a chunked body of at most limit bytes, trailers
// skipped.
func readChunked(br *bufio.Reader, limit int64) ([]byte, error) {
	var body []byte
	budget := maxHeaderBytes
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return nil, fmt.Errorf("chunk size: %w", err)
		}
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for { // trailers, up to the blank line
				t, err := readLine(br, &budget)
				if err != nil {
					return nil, fmt.Errorf("trailer: %w", err)
				}
				if t == "" {
					return body, nil
				}
			}
		}
		if int64(len(body))+size > limit {
			return nil, ErrTooLarge
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return nil, fmt.Errorf("chunk: %w", err)
		}
		if crlf, err := readLine(br, &budget); err != nil || crlf != "" {
			return nil, fmt.Errorf("chunk not followed by CRLF")
		}
	}
}
