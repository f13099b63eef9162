package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
	"github.com/mnemo-dev/mnemo/services/query"
)

// The ops page of a two-worker cluster (two mnemo-worker processes over a
// real embedded NATS, redis-server and store, query in this process), in
// Chromium: both workers show with their partitions, and the one killed
// with -9 leaves the page while the other takes every partition.
func TestOpsPageTwoWorkers(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc, js := ns.Connect(t)
	layout := testkit.TestLayout()
	testkit.Ensure(t, js, layout)
	rds := testkit.StartRedis(t)
	dsn := filepath.Join(t.TempDir(), "mnemo.db")
	st := storetest.Open(t, dsn)
	q, err := query.New(t.Context(), query.Config{}, query.Deps{Store: st, NC: nc, JS: js, Layout: layout, Redis: rds.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(q.Handler())
	defer func() { srv.Close(); q.Close() }()

	workerBin := buildWorker(t)
	spawn := func(id string) *testkit.Proc {
		return testkit.StartProc(t, id, workerBin, "MNEMO_NATS_URL="+ns.URL(), "MNEMO_REDIS_URL="+rds.URL(), "MNEMO_STORE="+dsn,
			"MNEMO_WORKER_ID="+id, fmt.Sprintf("MNEMO_PARTITIONS=%d", layout.Partitions), "MNEMO_BACKOFF=none",
			"MNEMO_ACK_WAIT="+layout.AckWait.String(), "MNEMO_MEMBER_TTL=2s", "MNEMO_REBALANCE=300ms", "MNEMO_LOG_LEVEL=warn")
	}
	w1 := spawn("w1")
	spawn("w2")

	b := newBrowser(t, 3*time.Minute)
	// leased is the partitions count a worker's row shows ("" when absent).
	const leased = `(id) => { const c = document.querySelector('#workers tr[data-worker="' + id + '"] .leased'); return c ? c.title : ""; }`
	b.do(t, "open /ops", chromedp.Navigate(srv.URL+"/ops"), chromedp.WaitVisible(chromedp.CSS("#workers")))
	b.until(t, "both workers with half the partitions each", fmt.Sprintf(`(() => { const l = %s;
		return l("w1") === "%d partitions" && l("w2") === "%d partitions"; })()`, leased, layout.Partitions/2, layout.Partitions/2), 60*time.Second)
	b.until(t, "every partition leased", `[...document.querySelectorAll("#partitions td.holder")].every(td => td.textContent === "w1" || td.textContent === "w2")`, 10*time.Second)

	w1.Signal(syscall.SIGKILL)
	b.until(t, "the killed w1 leaves the page", `!document.querySelector('#workers tr[data-worker="w1"]')`, 10*time.Second)
	b.until(t, "w2 takes every partition", fmt.Sprintf(`(%s)("w2") === "%d partitions"`, leased, layout.Partitions), 60*time.Second)
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
