package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func rowNamed(t *testing.T, rows []reportRow, prefix string) reportRow {
	t.Helper()
	for _, r := range rows {
		if strings.HasPrefix(r.Figure, prefix) {
			return r
		}
	}
	t.Fatalf("no row %q", prefix)
	return reportRow{}
}

// A correctness benchmark whose suite failed (an event lost, a hang) is a
// failed claim: "no", never "not measured"; one that lost an event is "no".
func TestReportFailedBenchmarkIsNo(t *testing.T) {
	res := benchResults{}
	markFailed(res, "services/reaper")
	row := rowNamed(t, computeRows(res, res, false), "recovery after kill -9")
	if row.Met == nil || *row.Met {
		t.Fatalf("recovery row of a failed suite: %+v, want met=false", row)
	}
	if md := renderReport(nil, nil, []reportRow{row}); !strings.Contains(md, "**no**") || strings.Contains(md, "not measured") {
		t.Fatalf("rendered:\n%s", md)
	}
	lost := benchResults{"BenchmarkRecoveryAfterKill": {"recovery-s": 2, "lost": 1, "duplicated": 0, "held": 60}}
	if row := rowNamed(t, computeRows(lost, lost, false), "recovery after kill -9"); row.Met == nil || *row.Met {
		t.Fatalf("recovery row with a lost event: %+v, want met=false", row)
	}
}

// With --from, rows that took figures from the earlier run are marked, and
// the report no longer says every figure is from this run.
func TestReportFromMarksEarlierRows(t *testing.T) {
	earlier := benchResults{
		"BenchmarkRecoveryAfterKill":  {"recovery-s": 3, "lost": 0, "duplicated": 0, "held": 60},
		"BenchmarkBatchedInputTokens": {"ratio": 0.5, "batched-tokens/obs": 300, "single-tokens/obs": 600},
	}
	fresh := benchResults{"BenchmarkBatchedInputTokens": {"ratio": 0.1, "batched-tokens/obs": 100, "single-tokens/obs": 1000}}
	all := benchResults{}
	for k, v := range earlier {
		all[k] = v
	}
	for k, v := range fresh {
		all[k] = v
	}
	rows := computeRows(all, fresh, true)
	if r := rowNamed(t, rows, "recovery after kill -9"); !r.Earlier || !strings.HasSuffix(r.Figure, "†") {
		t.Errorf("row from the earlier run not marked: %+v", r)
	}
	if r := rowNamed(t, rows, "LLM input tokens"); r.Earlier {
		t.Errorf("row measured in this run marked earlier: %+v", r)
	}
	md := renderReport(nil, nil, rows)
	if strings.Contains(md, "every figure comes from") || !strings.Contains(md, "Rows marked †") {
		t.Fatalf("report built with --from:\n%s", md)
	}
	if md := renderReport(nil, nil, computeRows(fresh, fresh, false)); !strings.Contains(md, "every figure comes from") {
		t.Fatalf("report of one run lost its line:\n%s", md)
	}
}

// The machine section names the versions of the Go modules the binary was
// built with, not strings written in the code.
func TestReportVersionsFromBuildInfo(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"github.com/nats-io/nats-server/v2", "github.com/redis/go-redis/v9"} {
		m := regexp.MustCompile(regexp.QuoteMeta(path) + ` (v\S+)`).FindStringSubmatch(string(gomod))
		if m == nil {
			t.Fatalf("%s not in go.mod", path)
		}
		if got := moduleVersion(path); got != m[1] {
			t.Errorf("moduleVersion(%s) = %q, want go.mod's %s", path, got, m[1])
		}
	}
}

// README's figures are the latest report's: the hook's p99 in README is the
// one bench/report.json holds for mnemo-hook with Mnemo up.
func TestREADMEFiguresAreTheReports(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "bench", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Raw benchResults `json:"raw"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	p99, ok := rep.Raw.get("BenchmarkHookProcess/small-up", "p99-ms")
	if !ok {
		t.Fatal("bench/report.json has no p99 of BenchmarkHookProcess/small-up")
	}
	claims := regexp.MustCompile("`mnemo-hook`[^\\n]*?p99 ([0-9.]+) ms").FindAllStringSubmatch(string(readme), -1)
	if len(claims) == 0 {
		t.Fatal("README states no p99 for mnemo-hook; state the report's")
	}
	for _, c := range claims {
		if want := fmt.Sprintf("%.1f", p99); c[1] != want {
			t.Errorf("README says the hook's p99 is %s ms; the report says %s ms", c[1], want)
		}
	}
	if strings.Contains(string(readme), "under 10 ms") {
		t.Error("README still claims a hook p99 under 10 ms")
	}
}

// Semantic search's rows (issue 31) read the hybrid and index benchmarks:
// a p99 above 30 ms or a recall below 0.95 is "no", the memory is tracked,
// and a run without them says "not measured".
func TestReportSemanticRows(t *testing.T) {
	res := benchResults{
		"BenchmarkHTTPHybridSearch":  {"p50-ms": 8, "p99-ms": 24},
		"BenchmarkHTTPSearch/sqlite": {"p50-ms": 2, "p99-ms": 9},
		"BenchmarkIndexSearch":       {"ns/op": 4.5e6, "recall@10": 0.97, "index-MB": 80.5},
	}
	rows := computeRows(res, res, false)
	hybrid := rowNamed(t, rows, "GET /v1/search?mode=hybrid")
	if hybrid.Met == nil || !*hybrid.Met || !strings.Contains(hybrid.Mnemo, "p99 24.00 ms") || !strings.Contains(hybrid.Baseline, "p99 9.00 ms") {
		t.Errorf("hybrid row: %+v", hybrid)
	}
	recall := rowNamed(t, rows, "semantic index recall@10")
	if recall.Met == nil || !*recall.Met || recall.Mnemo != "0.970" || !strings.Contains(recall.Note, "4.50 ms") {
		t.Errorf("recall row: %+v", recall)
	}
	if mem := rowNamed(t, rows, "semantic index memory"); mem.Met != nil || mem.Mnemo != "80.5 MB" {
		t.Errorf("memory row: %+v", mem)
	}

	res["BenchmarkHTTPHybridSearch"]["p99-ms"] = 254
	res["BenchmarkIndexSearch"]["recall@10"] = 0.94
	rows = computeRows(res, res, false)
	if r := rowNamed(t, rows, "GET /v1/search?mode=hybrid"); r.Met == nil || *r.Met {
		t.Errorf("hybrid row at 254 ms: %+v, want met=false", r)
	}
	if r := rowNamed(t, rows, "semantic index recall@10"); r.Met == nil || *r.Met {
		t.Errorf("recall row at 0.94: %+v, want met=false", r)
	}

	none := benchResults{}
	for _, name := range []string{"GET /v1/search?mode=hybrid", "semantic index recall@10", "semantic index memory"} {
		if r := rowNamed(t, computeRows(none, none, false), name); r.Met != nil || r.Note != "not measured" {
			t.Errorf("%s without its benchmark: %+v", name, r)
		}
	}
	var dirs []string
	for _, s := range benchSuites {
		if strings.Contains(s.Pattern, "BenchmarkHTTPHybridSearch") || strings.Contains(s.Pattern, "BenchmarkIndexSearch") {
			dirs = append(dirs, s.Dir)
		}
	}
	if !slices.Equal(dirs, []string{"services/query", "pkg/semantic"}) {
		t.Errorf("suites running the semantic benchmarks: %v", dirs)
	}
}
