package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
