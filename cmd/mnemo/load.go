package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// loadConfig drives `mnemo bench load`.
type loadConfig struct {
	URL      string
	Token    string
	Clients  int
	Sessions int
	Rate     float64 // events/s over all clients; 0 = as fast as possible
	Duration time.Duration
	Events   int // stop after this many events (0 = until Duration)
	Template string
	Timeout  time.Duration
}

// loadResult is what a load run measured.
type loadResult struct {
	Sent       int64   `json:"sent"`
	Accepted   int64   `json:"accepted"`
	Duplicates int64   `json:"duplicates"`
	Rejected   int64   `json:"rejected"`
	Failed     int64   `json:"failed"`
	Seconds    float64 `json:"seconds"`
	EventsPerS float64 `json:"events_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
}

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c loadConfig
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", loadDefaultURL(), "Mnemo ingest URL")
	fs.StringVar(&c.Token, "token", os.Getenv("MNEMO_TOKEN"), "bearer token")
	fs.IntVar(&c.Clients, "clients", 64, "concurrent HTTP clients")
	fs.IntVar(&c.Sessions, "sessions", 100, "distinct sessions the events spread over")
	fs.Float64Var(&c.Rate, "rate", 0, "events per second over all clients (0 = unpaced)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to send (the run also stops after -events)")
	fs.IntVar(&c.Events, "events", 0, "stop after this many events (0 = until -duration)")
	fs.StringVar(&c.Template, "template", "", "envelope JSON template file; {{session}}, {{event_id}} and {{n}} are replaced (default: a Bash tool use)")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if c.Clients < 1 || c.Sessions < 1 || c.Duration <= 0 || c.Rate < 0 || c.Events < 0 {
		return errors.New("clients and sessions must be ≥ 1, duration positive, rate and events not negative")
	}
	tmpl := defaultLoadTemplate
	if c.Template != "" {
		b, err := os.ReadFile(c.Template)
		if err != nil {
			return fmt.Errorf("read template: %w", err)
		}
		tmpl = string(b)
	}
	res, err := runLoad(ctx, c, tmpl)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

const defaultLoadTemplate = `{"event_id":"{{event_id}}","session_id":"{{session}}","project":"load","agent":"claude-code",
"kind":"tool_use","at":"{{at}}","cwd":"/home/dev/load",
"tool":{"name":"Bash","input":{"command":"go test ./... # {{n}}","description":"Run tests"},
"response":{"stdout":"ok  \tgithub.com/acme/api\t0.412s","stderr":"","interrupted":false}}}`

// runLoad sends events from c.Clients clients, paced to c.Rate when set,
// bounded by c.Duration and c.Events, and measures each request.
func runLoad(ctx context.Context, c loadConfig, tmpl string) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	client := &http.Client{
		Timeout:   c.Timeout,
		Transport: &http.Transport{MaxIdleConns: c.Clients * 2, MaxIdleConnsPerHost: c.Clients * 2, IdleConnTimeout: time.Minute},
	}
	url := strings.TrimRight(c.URL, "/") + "/v1/events"
	var (
		n        atomic.Int64
		res      loadResult
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
		interval time.Duration
	)
	if c.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(c.Clients) / c.Rate)
	}
	start := time.Now()
	for w := 0; w < c.Clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			next := time.Now().Add(time.Duration(w) * interval / time.Duration(c.Clients))
			var local []time.Duration
			defer func() { mu.Lock(); lat = append(lat, local...); mu.Unlock() }()
			for ctx.Err() == nil {
				i := n.Add(1)
				if c.Events > 0 && i > int64(c.Events) {
					return
				}
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
					next = next.Add(interval)
				}
				body := fillTemplate(tmpl, fmt.Sprintf("load-%d", int(i)%c.Sessions), i)
				t0 := time.Now()
				status, dup, err := postEvent(ctx, client, url, c.Token, body)
				d := time.Since(t0)
				atomic.AddInt64(&res.Sent, 1)
				switch {
				case err != nil:
					if ctx.Err() != nil {
						atomic.AddInt64(&res.Sent, -1)
						return
					}
					atomic.AddInt64(&res.Failed, 1)
				case status == http.StatusAccepted:
					local = append(local, d)
					atomic.AddInt64(&res.Accepted, 1)
					if dup {
						atomic.AddInt64(&res.Duplicates, 1)
					}
				case status >= 400 && status < 500:
					atomic.AddInt64(&res.Rejected, 1)
				default:
					atomic.AddInt64(&res.Failed, 1)
				}
			}
		}(w)
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.EventsPerS = float64(res.Accepted) / res.Seconds
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.P50ms = durMs(lat[len(lat)/2])
		res.P99ms = durMs(lat[len(lat)*99/100])
		res.MaxMs = durMs(lat[len(lat)-1])
	}
	return res, nil
}

func durMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fillTemplate(tmpl, session string, n int64) []byte {
	r := strings.NewReplacer("{{session}}", session, "{{event_id}}", event.NewID(),
		"{{n}}", fmt.Sprint(n), "{{at}}", time.Now().UTC().Format(time.RFC3339Nano))
	return []byte(r.Replace(tmpl))
}

func postEvent(ctx context.Context, c *http.Client, url, token string, body []byte) (int, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req, token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var ack struct {
		Duplicate bool `json:"duplicate"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = json.Unmarshal(b, &ack)
	return resp.StatusCode, ack.Duplicate, nil
}

func loadDefaultURL() string {
	if v := os.Getenv("MNEMO_URL"); v != "" {
		return v
	}
	return "http://127.0.0.1:37800"
}
