package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// chromiumPath finds the browser the viewer's tests drive: $MNEMO_CHROMIUM,
// else Debian's chromium (scripts/deps/40-chromium.sh installs it). Missing,
// the test fails in CI and is skipped elsewhere, saying how to install it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	cands := []string{os.Getenv("MNEMO_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found: apt-get install chromium (scripts/deps/40-chromium.sh) or set MNEMO_CHROMIUM"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab that records every console error,
// uncaught exception and error entry of the browser log of its pages.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t testing.TB, timeout time.Duration) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	base, cancelTab := chromedp.NewContext(actx)
	// The first run starts the browser; it must not carry the timeout.
	if err := chromedp.Do(base); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(base, timeout)
	b := &browser{ctx: ctx}
	messages := chromedp.Console(base)
	done := make(chan struct{})
	go func() { // owned by the test: ends when the tab's context is cancelled
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancelTime(); cancelTab(); <-done; cancelAlloc() })
	return b
}

func (b *browser) do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval runs a script in the page and returns its value.
func eval[T any](t testing.TB, b *browser, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// js runs a script for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr+"; null")(ctx, tg)
		if errors.Is(err, chromedp.ErrJSNull) {
			return nil
		}
		return err
	})
}

// until polls a JS expression in the page until it is true.
func (b *browser) until(t testing.TB, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if eval[bool](t, b, what, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			body := eval[string](t, b, what, `location.href + "\n" + document.body.innerText.slice(0, 2000)`)
			t.Fatalf("%s: not within %s; the page shows:\n%s", what, timeout, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// artifactDir is where the browser tests leave screenshots:
// $MNEMO_TEST_ARTIFACTS, else a new temporary directory kept after the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MNEMO_TEST_ARTIFACTS")
	if dir == "" {
		d, err := os.MkdirTemp("", "mnemo-viewer-")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshots saves the page at 1280 and 390 px wide and puts the width back.
func (b *browser) screenshots(t *testing.T, dir, name string) {
	t.Helper()
	for _, w := range []int64{390, 1280} {
		b.do(t, "viewport", chromedp.EmulateViewport(w, 900), chromedp.Sleep(150*time.Millisecond))
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// postHook sends one Claude Code fixture payload to mnemo run's hook endpoint.
func postHook(t *testing.T, base, fixture string) (session string) {
	t.Helper()
	payload, head := readFixture(t, fixture)
	postJSON(t, base+"/v1/hooks/claude-code/"+head.Event, payload, http.StatusAccepted, http.StatusOK)
	return head.Session
}

// observationsOf waits until a session holds n observations and returns them.
func (r *localRun) observationsOf(t *testing.T, sid string, n int) []store.Observation {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := r.sessionDetail(t, sid)
		if len(d.Observations) >= n {
			return d.Observations
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s has %d observations after 60 s, want %d", sid, len(d.Observations), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The viewer on a real `mnemo run`, driven by headless Chromium: an
// observation appears in the feed without a reload, search finds it, its
// session opens, a context setting changes the preview, an observation is
// deleted after a confirmation; screenshots at 1280 and 390 px; no console
// error on the way.
func TestViewerInABrowser(t *testing.T) {
	r := startRun(t)
	sid := postHook(t, r.url, "SessionStart-startup")
	postHook(t, r.url, "UserPromptSubmit")
	postHook(t, r.url, "PostToolUse-Bash")
	first := r.observationsOf(t, sid, 1)[0]

	b := newBrowser(t, 3*time.Minute)
	arts := artifactDir(t)
	t.Logf("artifacts in %s", arts)
	b.do(t, "open the viewer", chromedp.Navigate(r.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`article.observation[data-id="%d"]`, first.ID))),
		js(`window.__notReloaded = true`))
	b.until(t, "the live stream connects", `document.querySelector("#live").classList.contains("on")`, 20*time.Second)

	// A new tool use: its observation appears in the open page.
	postHook(t, r.url, "PostToolUse-Write")
	obs := r.observationsOf(t, sid, 2)
	var second store.Observation
	for _, o := range obs {
		if o.ID != first.ID {
			second = o
		}
	}
	b.until(t, "the new observation appears without a reload",
		fmt.Sprintf(`!!document.querySelector('#feed article.observation[data-id="%d"]') && window.__notReloaded === true`, second.ID), 30*time.Second)
	b.do(t, "open the detail", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#feed article.observation[data-id="%d"] .title`, second.ID))))
	b.until(t, "the detail shows", fmt.Sprintf(`!document.querySelector('#feed article.observation[data-id="%d"] .detail').hidden`, second.ID), 5*time.Second)
	if txt := eval[string](t, b, "card text", fmt.Sprintf(`document.querySelector('#feed article.observation[data-id="%d"]').innerText`, second.ID)); strings.Contains(txt, "null") || strings.Contains(txt, "undefined") {
		t.Fatalf("the card shows a missing value as text:\n%s", txt)
	}
	b.screenshots(t, arts, "feed")
	// The other theme: the toggle flips the page's colours, and is kept.
	bg := `getComputedStyle(document.body).backgroundColor`
	light := eval[string](t, b, "background", bg)
	b.do(t, "toggle the theme", chromedp.Click(chromedp.CSS("#theme")))
	if dark := eval[string](t, b, "background", bg); dark == light {
		t.Fatalf("the theme toggle left the background %s", dark)
	}
	b.screenshots(t, arts, "feed-other-theme")
	b.do(t, "toggle back", chromedp.Click(chromedp.CSS("#theme")))

	// Search for a word of its title.
	word := ""
	for _, w := range strings.Fields(second.Title) {
		if len(strings.Trim(w, `.,:;"'()[]`)) >= 4 {
			word = strings.Trim(w, `.,:;"'()[]`)
			break
		}
	}
	if word == "" {
		t.Fatalf("no word to search in the title %q", second.Title)
	}
	b.do(t, "search", js(`location.hash = "#/search"`), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), word), chromedp.Click(chromedp.CSS("#search-go")))
	b.until(t, "search finds it: "+word, fmt.Sprintf(`!!document.querySelector('#results article.observation[data-id="%d"]')`, second.ID), 15*time.Second)

	// Its session: prompts and observations in order.
	b.do(t, "open the session", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results article.observation[data-id="%d"] .session-link`, second.ID))))
	b.until(t, "the session shows", fmt.Sprintf(`(document.querySelector("#session-title")||{}).textContent === %q && document.querySelectorAll("#session-items .card").length >= 3`,
		"Session "+sid), 15*time.Second)
	b.screenshots(t, arts, "session")

	// A context setting changes the preview.
	b.do(t, "open settings", js(`location.hash = "#/settings"`))
	b.until(t, "the preview lists both observations", `document.querySelector("#preview").dataset.observations === "2"`, 15*time.Second)
	before := eval[string](t, b, "read the preview", `document.querySelector("#preview").textContent`)
	b.do(t, "change a setting", js(`(() => { const i = document.querySelector("#set-MNEMO_CONTEXT_OBSERVATIONS");
		i.value = "1"; i.dispatchEvent(new Event("change")); })()`))
	b.until(t, "the preview follows the setting", `document.querySelector("#preview").dataset.observations === "1"`, 15*time.Second)
	after := eval[string](t, b, "read the preview again", `document.querySelector("#preview").textContent`)
	src := eval[string](t, b, "read the source", `document.querySelector("#src-MNEMO_CONTEXT_OBSERVATIONS").textContent`)
	if after == before || !strings.Contains(src, "settings file") {
		t.Fatalf("preview unchanged (%v) or source %q not the file", after == before, src)
	}
	b.screenshots(t, arts, "settings")
	b.do(t, "settings back", js(`(() => { const i = document.querySelector("#set-MNEMO_CONTEXT_OBSERVATIONS");
		i.value = "50"; i.dispatchEvent(new Event("change")); })()`))
	b.until(t, "the preview is back", `document.querySelector("#preview").dataset.observations === "2"`, 15*time.Second)

	// Delete with confirmation.
	card := fmt.Sprintf(`#feed article.observation[data-id="%d"]`, first.ID)
	b.do(t, "back to the feed", js(`location.hash = "#/"`), chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Click(chromedp.CSS(card+" button.delete")), chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		chromedp.Click(chromedp.CSS("#confirm-yes")))
	b.until(t, "the deleted card leaves the feed", fmt.Sprintf(`!document.querySelector(%q)`, card), 10*time.Second)
	var left struct {
		Observations []store.Observation `json:"observations"`
	}
	resp, err := http.Get(fmt.Sprintf("%s/v1/observations?ids=%d,%d", r.url, first.ID, second.ID))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&left)
	resp.Body.Close()
	if len(left.Observations) != 1 || left.Observations[0].ID != second.ID {
		t.Fatalf("after the delete the store holds %+v, want only #%d", left.Observations, second.ID)
	}

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// BenchmarkViewerFirstCard: from navigation to the first observation card
// rendered, as the browser measures it (performance.mark in the page), on a
// real `mnemo run` over a store of 100k observations. The baseline is the
// feed's three first-page requests from Go over the same loopback.
func BenchmarkViewerFirstCard(b *testing.B) {
	home := b.TempDir()
	dsn := filepath.Join(home, "mnemo.db")
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	if err := storetest.NewCorpus(11, 20, 1000, 100).Seed(ctx, st); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	p := testkit.StartCmd(b, "mnemo-run", mnemoBin, []string{"run", "--addr", "127.0.0.1:0"},
		"MNEMO_HOME="+home, "MNEMO_STORE="+dsn, "MNEMO_LLM_PROVIDER=offline", "MNEMO_REDIS_URL=", "MNEMO_TOKEN=", "MNEMO_LOG_LEVEL=info")
	addr := p.WaitLog(b, "mnemo is running", 90*time.Second)
	base := "http://" + addr
	br := newBrowser(b, 10*time.Minute)

	// firstCard navigates to the viewer and returns the page's own time
	// from navigation to its first observation card.
	firstCard := func() time.Duration {
		br.do(b, "navigate", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#feed article.observation")))
		var ms float64
		deadline := time.Now().Add(10 * time.Second)
		for {
			ms = eval[float64](b, br, "read the mark", `(performance.getEntriesByName("mnemo-first-card")[0] || {startTime: -1}).startTime`)
			if ms >= 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ms < 0 {
			b.Fatal("the page never marked its first card")
		}
		return time.Duration(ms * float64(time.Millisecond))
	}
	// A fresh browser's first two loads are reported apart: the first
	// compiles the page's scripts, the second has V8 cache that code.
	cold := max(firstCard(), firstCard())
	var page, api []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		page = append(page, firstCard())
		t0 := time.Now()
		for _, kind := range []string{"observations", "prompts", "summaries"} {
			resp, err := http.Get(base + "/v1/feed/" + kind + "?limit=20")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		api = append(api, time.Since(t0))
	}
	b.StopTimer()
	if errs := br.consoleErrors(); len(errs) > 0 {
		b.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	pct := func(d []time.Duration, q int) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, len(d)*q/100)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(page, 50), "p50-ms")
	b.ReportMetric(pct(page, 95), "p95-ms")
	b.ReportMetric(pct(api, 50), "feed-api-p50-ms")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
}

// With MNEMO_TOKEN set, the browser signs in once through the login form;
// the cookie then carries the feed, its infinite scroll back in time and the
// live stream (which EventSource can only authenticate by cookie).
func TestViewerLoginAndInfiniteScroll(t *testing.T) {
	const token = "viewer-test-token"
	r := startRun(t, "--token", token)
	const n = 45
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", r.url+"/v1/memories",
			strings.NewReader(fmt.Sprintf(`{"text":"memory number %d","project":"scroll"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("save memory %d: %d", i, resp.StatusCode)
		}
	}
	b := newBrowser(t, 2*time.Minute)
	b.do(t, "open the viewer", chromedp.Navigate(r.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if eval[bool](t, b, "no app before login", `!!document.querySelector("#feed")`) {
		t.Fatal("the viewer was served before signing in")
	}
	b.do(t, "sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login")))
	b.until(t, "the feed after signing in", `!!document.querySelector("#feed article.observation")`, 20*time.Second)
	if c := eval[string](t, b, "cookie", `document.cookie`); strings.Contains(c, "mnemo_session") {
		t.Fatalf("the session cookie is readable from JS: %q", c)
	}
	b.until(t, "the live stream connects with the cookie", `document.querySelector("#live").classList.contains("on")`, 20*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for eval[int](t, b, "count", `document.querySelectorAll("#feed article.observation").length`) < n {
		if time.Now().After(deadline) {
			t.Fatalf("infinite scroll stopped at %d cards of %d", eval[int](t, b, "count", `document.querySelectorAll("#feed article.observation").length`), n)
		}
		b.do(t, "scroll", js(`window.scrollTo(0, document.body.scrollHeight)`), chromedp.Sleep(200*time.Millisecond))
	}
	ordered := eval[bool](t, b, "order", `(() => { const ids = [...document.querySelectorAll("#feed article.observation")].map(c => Number(c.dataset.id));
		return new Set(ids).size === ids.length && ids.every((id, i) => i === 0 || ids[i-1] > id); })()`)
	if !ordered {
		t.Fatal("the feed repeats a card or is not newest first")
	}
	if txt := eval[string](t, b, "end", `document.querySelector("#feed-end").textContent`); !strings.Contains(txt, "all the memory") {
		t.Fatalf("feed end says %q", txt)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
