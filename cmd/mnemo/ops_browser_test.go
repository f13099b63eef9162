package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// burst posts n tool uses of one session through ingest's batch endpoint,
// 500 at a time (its BatchMax).
func burst(t *testing.T, base, sid string, n int) {
	t.Helper()
	for sent := 0; sent < n; {
		var batch []*event.Envelope
		for ; sent < n && len(batch) < 500; sent++ {
			batch = append(batch, &event.Envelope{EventID: event.NewID(), SessionID: sid, Project: "burst", Agent: "claude-code",
				Kind: event.KindToolUse, At: time.Now().UTC(),
				Tool: &event.Tool{Name: "Bash", Input: json.RawMessage(fmt.Sprintf(`{"command":"make step-%d"}`, sent))}})
		}
		body, _ := json.Marshal(batch)
		postJSON(t, base+"/v1/events:batch", body, http.StatusOK)
	}
}

// The ops page on a real `mnemo run`, driven by headless Chromium: the live
// worker with its partitions and the reaper leader show; the queue depth
// rises under a burst and falls back to 0 while the charts fill; a dead
// letter is replayed with its button and its event ends applied;
// screenshots at 1280 and 390 px; no console error on the way.
func TestOpsInABrowser(t *testing.T) {
	r := startRun(t)
	st, dl := r.deadLetter(t, "ops-dlq")

	b := newBrowser(t, 4*time.Minute)
	arts := artifactDir(t)
	t.Logf("artifacts in %s", arts)
	b.do(t, "open /ops", chromedp.Navigate(r.url+"/ops"), chromedp.WaitVisible(chromedp.CSS("#queue-depth")))
	b.until(t, "the page polls /v1/ops", `document.querySelector("#updated").classList.contains("on")`, 20*time.Second)
	b.until(t, "the local worker with its partitions", `(() => { const w = document.querySelector('#workers tr[data-worker="local"] .leased');
		return w && /\d/.test(w.textContent); })()`, 30*time.Second)
	b.until(t, "the reaper leader", `document.querySelector("#reaper-leader").textContent !== "none" && document.querySelector("#reaper-leader").textContent !== "–"`, 30*time.Second)
	b.until(t, "the dead letter with its Replay button", fmt.Sprintf(`!!document.querySelector('#dead-letters button.replay[data-id="%d"]')`, dl), 20*time.Second)
	if txt := eval[string](t, b, "sources", `[...document.querySelectorAll(".source")].map(e => e.textContent).join("\n")`); !strings.Contains(txt, "$SRV.STATS") || !strings.Contains(txt, "JetStream consumer info") {
		t.Fatalf("the page does not say where its figures come from:\n%s", txt)
	}

	// A burst: the queue depth rises, then falls back to 0.
	burst(t, r.url, "ops-burst", 3000)
	b.until(t, "the queue depth rises under the burst", `Number(document.body.dataset.maxDepth) > 0`, 30*time.Second)
	if txt := eval[string](t, b, "dead letters figure", `document.querySelector("#dlq-size").textContent`); txt != "1" {
		t.Fatalf("the dead letters figure says %q, want 1", txt)
	}
	b.screenshots(t, arts, "ops-burst")
	b.until(t, "the queue depth falls back to 0", `document.querySelector("#queue-depth").dataset.value === "0"`, 150*time.Second)
	b.until(t, "the charts draw the last minutes", `Number(document.querySelector("#chart-depth").dataset.points) >= 3 &&
		document.querySelector("#chart-rate polyline.line-applied").getAttribute("points").length > 0`, 20*time.Second)
	t.Logf("highest queue depth the page saw: %s", eval[string](t, b, "max depth", `document.body.dataset.maxDepth`))

	// Replay the dead letter with its button: its event ends applied.
	b.do(t, "replay", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#dead-letters button.replay[data-id="%d"]`, dl))))
	b.until(t, "the row says replayed", fmt.Sprintf(`!!document.querySelector('#dead-letters tr[data-id="%d"] .replayed')`, dl), 20*time.Second)
	d, err := st.DeadLetter(context.Background(), dl)
	if err != nil || d.ReplayedAs == "" {
		t.Fatalf("dead letter after the button: %+v (%v)", d, err)
	}
	r.waitObservationOf(t, "ops-dlq", d.ReplayedAs)
	b.do(t, "back to the top", js(`window.scrollTo(0, 0)`))
	b.screenshots(t, arts, "ops")
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
