package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// benchResults maps benchmark name (without the -N suffix) → unit → value.
type benchResults map[string]map[string]float64

// get returns a metric, and whether the benchmark reported it.
func (r benchResults) get(bench, unit string) (float64, bool) {
	m, ok := r[bench]
	if !ok {
		return 0, false
	}
	v, ok := m[unit]
	return v, ok
}

// failedKey holds the suites whose `go test` failed in the results, so that
// a correctness row whose benchmark failed says "no", not "not measured".
const failedKey = "!failed"

func markFailed(r benchResults, dir string) {
	if r[failedKey] == nil {
		r[failedKey] = map[string]float64{}
	}
	r[failedKey][dir] = 1
}

// failed reports whether the suite of dir failed in this run.
func (r benchResults) failed(dir string) bool {
	_, ok := r.get(failedKey, dir)
	return ok
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench` output.
func parseBench(r io.Reader, into benchResults) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		if into[m[1]] == nil {
			into[m[1]] = map[string]float64{}
		}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			into[m[1]][fields[i+1]] = v
		}
	}
}

// suite is one `go test -bench` invocation.
type suite struct {
	Dir     string // module-relative package directory
	Pattern string
	// Benchtime is -benchtime: "20000x" where b.N counts events, "1x" where
	// one iteration is one whole bounded scenario.
	Benchtime string
	Env       []string
}

// reportRow is one figure of the report.
type reportRow struct {
	Figure   string `json:"figure"`
	Mnemo    string `json:"mnemo"`
	Baseline string `json:"baseline"`
	Target   string `json:"target"`
	Met      *bool  `json:"met"` // nil: not measured in this run, or no target
	Note     string `json:"note,omitempty"`
	// Earlier: the row took figures from an earlier run (--from).
	Earlier bool `json:"earlier,omitempty"`
}

// figure computes a report row from the results.
type figure func(benchResults) reportRow

func metOf(ok bool) *bool { return &ok }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "bench", "directory for REPORT.md and report.json")
	only := fs.String("only", "", "run only suites whose directory contains this")
	from := fs.String("from", "", "start from an earlier run's report.json: render it again, or with --only re-run just those suites")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	res := benchResults{}
	fresh := benchResults{} // what this run measured
	var runs []string
	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var prev struct {
			Runs []string     `json:"runs"`
			Raw  benchResults `json:"raw"`
		}
		if err := json.Unmarshal(b, &prev); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
		res, runs = prev.Raw, prev.Runs
	}
	for _, s := range benchSuites {
		if *from != "" && *only == "" {
			break // render only
		}
		if *only != "" && !strings.Contains(s.Dir, *only) {
			continue
		}
		start := time.Now()
		fmt.Fprintf(stderr, "bench: %s %s\n", s.Dir, s.Pattern)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", s.Pattern, "-benchtime", cmp.Or(s.Benchtime, "1x"), "-timeout", "15m", ".")
		cmd.Dir = filepath.Join(root, s.Dir)
		cmd.Env = append(os.Environ(), s.Env...)
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, stderr)
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			runs = append(runs, fmt.Sprintf("%s: FAILED (%v)", s.Dir, err))
			markFailed(res, s.Dir)
			markFailed(fresh, s.Dir)
		} else {
			runs = append(runs, fmt.Sprintf("%s: %s", s.Dir, time.Since(start).Round(time.Second)))
		}
		parseBench(bytes.NewReader(buf.Bytes()), res)
		parseBench(&buf, fresh)
	}
	rows := computeRows(res, fresh, *from != "")
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	machine := machineInfo(ctx)
	doc := map[string]any{"generated": time.Now().UTC(), "machine": machine, "runs": runs, "rows": rows, "raw": res}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "report.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "REPORT.md"), []byte(renderReport(machine, runs, rows)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(*out, "REPORT.md"), filepath.Join(*out, "report.json"))
	return nil
}

// computeRows computes every figure. With earlier results (--from), a row
// that differs when computed from this run's results alone took figures
// from the earlier run, and is marked so.
func computeRows(res, fresh benchResults, withEarlier bool) []reportRow {
	var rows []reportRow
	for _, f := range figures {
		row := f(res)
		if withEarlier && row.Mnemo != "" {
			if now := f(fresh); now.Mnemo != row.Mnemo || now.Baseline != row.Baseline {
				row.Earlier = true
				row.Figure += " †"
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func renderReport(machine map[string]string, runs []string, rows []reportRow) string {
	var b strings.Builder
	b.WriteString("# Mnemo benchmark report\n\n")
	earlier := false
	for _, r := range rows {
		earlier = earlier || r.Earlier
	}
	if earlier {
		b.WriteString("Made by `go tool task bench` (`mnemo bench report`) on this machine. Rows marked † took figures from an earlier run (`--from`); the others come from this run. A baseline is measured in the same run as its figure where the row says so; a constant baseline is marked as such.\n\n## Machine\n\n")
	} else {
		b.WriteString("Made by `go tool task bench` (`mnemo bench report`): every figure comes from a benchmark run in this report's run, on this machine. A baseline is measured in the same run as its figure where the row says so, so ratios hold on a noisy machine; a constant baseline is marked as such.\n\n## Machine\n\n")
	}
	keys := make([]string, 0, len(machine))
	for k := range machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, machine[k])
	}
	b.WriteString("\n## Figures\n\n| figure | Mnemo | baseline | target | met |\n|---|---|---|---|---|\n")
	met, total := 0, 0
	for _, r := range rows {
		verdict := "not measured"
		if r.Met == nil && r.Mnemo != "" {
			verdict = "no target"
		}
		if r.Met != nil {
			total++
			if *r.Met {
				verdict = "yes"
				met++
			} else {
				verdict = "**no**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Figure, r.Mnemo, r.Baseline, r.Target, verdict)
	}
	fmt.Fprintf(&b, "\n%d of %d measured targets met.\n\n", met, total)
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(&b, "- %s: %s\n", r.Figure, r.Note)
		}
	}
	b.WriteString("\n## Method\n\nEach suite is `go test -run '^$' -bench <pattern> -benchtime <N>x` in its package, N fixed per suite: every benchmark is one bounded run (fixed event counts, loopback only) that reports its figures with `b.ReportMetric`. The ingest benchmarks' clients are keep-alive HTTP/1.1 connections that write each request whole and read the answer with net/http's own parser, as wrk does, so that no client library's goroutines compete with the server under test for this machine's cores. Suites run:\n\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	return b.String()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("bench report runs from inside the Mnemo repository (no go.work found above the current directory)")
		}
	}
}

func machineInfo(ctx context.Context) map[string]string {
	m := map[string]string{
		"go":        runtime.Version(),
		"os":        runtime.GOOS + "/" + runtime.GOARCH,
		"cores":     strconv.Itoa(runtime.NumCPU()),
		"cpu probe": cpuProbe(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m["cpu"] = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first := strings.SplitN(string(b), "\n", 2)[0]
		m["memory"] = strings.TrimSpace(strings.TrimPrefix(first, "MemTotal:"))
	}
	for name, args := range map[string][]string{"redis-server": {"--version"}, "postgres": {"-V"}} {
		if out, err := exec.CommandContext(ctx, name, args...).Output(); err == nil {
			m[name] = strings.TrimSpace(string(out))
		}
	}
	if out, err := exec.CommandContext(ctx, "psql", "-V").Output(); err == nil {
		m["psql"] = strings.TrimSpace(string(out))
	}
	for _, mod := range []struct{ path, name string }{
		{"github.com/nats-io/nats-server/v2", "nats-server"},
		{"github.com/nats-io/nats.go", "nats.go"},
		{"github.com/redis/go-redis/v9", "go-redis"},
		{"modernc.org/sqlite", "modernc.org/sqlite"},
		{"github.com/jackc/pgx/v5", "pgx"},
	} {
		if v := moduleVersion(mod.path); v != "" {
			m[mod.name] = v + " (Go module, from the build)"
		}
	}
	return m
}

// moduleVersion is the version of a module this binary was built with, from
// its build information ("" when it is not linked in).
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				d = d.Replace
			}
			return d.Version
		}
	}
	return ""
}

// cpuProbe times two fixed single-core workloads: SHA-256 of 32 MiB (the
// core alone) and a random walk over 128 MiB (memory and caches, which
// other tenants of a shared machine contend for), each best of three.
// Shared machines differ in speed from day to day; before comparing figures
// across reports, compare their probes.
func cpuProbe() string {
	buf := make([]byte, 32<<20)
	sha := time.Duration(1<<63 - 1)
	for range 3 {
		t0 := time.Now()
		sha256.Sum256(buf)
		sha = min(sha, time.Since(t0))
	}
	// A single cycle through 32M slots (Sattolo's shuffle), so that every
	// step is a dependent load from an unpredictable place.
	next := make([]uint32, 32<<20)
	for i := range next {
		next[i] = uint32(i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := len(next) - 1; i > 0; i-- {
		j := r.IntN(i)
		next[i], next[j] = next[j], next[i]
	}
	const steps = 4 << 20
	walk := time.Duration(1<<63 - 1)
	p := uint32(0)
	for range 3 {
		t0 := time.Now()
		for range steps {
			p = next[p]
		}
		walk = min(walk, time.Since(t0))
	}
	probeSink = p
	return fmt.Sprintf("SHA-256 of 32 MiB on one core in %.1f ms; a random walk over 128 MiB at %.0f ns a step (each best of 3)",
		float64(sha.Microseconds())/1000, float64(walk.Nanoseconds())/steps)
}

// probeSink keeps the walk's result, so that the walk is not optimised away.
var probeSink uint32
