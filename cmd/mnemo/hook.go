package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/plainhttp"
)

// The hook and spool commands live in pkg/hook/hookcli, shared with the
// small mnemo-hook executable (pkg/hook/cmd/mnemo-hook) that `mnemo install`
// prefers: the full mnemo binary starts several milliseconds slower.
func init() {
	hookcli.FullExchange = netHTTPExchange
	register("hook", command{
		summary: "agent hook: `mnemo hook claude-code <event>` records the hook payload on stdin (always exits 0)",
		run:     hookcli.RunHook,
	})
	register("spool", command{
		summary: "the hook's local spool of events Mnemo could not take: `mnemo spool status|flush`",
		run:     hookcli.RunSpool,
	})
}

// defaultMnemoURL is where Mnemo listens unless MNEMO_URL says otherwise.
const defaultMnemoURL = hookcli.DefaultURL

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// netHTTPExchange is the hook's exchange with Mnemo in the full binary:
// net/http, so that an https MNEMO_URL and proxies work (mnemo-hook hands
// such hooks to mnemo).
func netHTTPExchange(ctx context.Context, r plainhttp.Request) (plainhttp.Answer, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return plainhttp.Answer{}, err
	}
	for _, h := range r.Header {
		req.Header.Set(h[0], h[1])
	}
	client := mnemoHTTPClient(0)
	resp, err := client.Do(req)
	if err != nil {
		return plainhttp.Answer{}, err
	}
	defer resp.Body.Close()
	limit := r.Limit
	if limit <= 0 {
		limit = 1 << 20
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = plainhttp.ErrTooLarge
	}
	return plainhttp.Answer{Status: resp.StatusCode, Body: b}, err
}

// mnemoHTTPClient is a client for a short-lived process: no pool to speak
// of, the dial bounded by timeout (0: by the request's context only),
// proxies from the environment.
func mnemoHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost:   2,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
	}}
}

// authorize sets the bearer token (MNEMO_TOKEN) on a request to Mnemo.
func authorize(req *http.Request, token string) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}
