package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func init() {
	register("export", command{summary: "write a project's memory as JSON lines: mnemo export --project P > file.jsonl", run: runExport})
	register("import", command{summary: "read memory written by export (idempotent): mnemo import file.jsonl", run: runImport})
}

// exportLine is one line of an export: a session with its prompts,
// observations and summaries (kind "session"), each row with the stable key
// an import uses. Lines of older exports (kind "observation" or "summary",
// no keys) are still read.
type exportLine struct {
	Kind string `json:"kind"`
	*store.SessionExport
	Observation *store.Observation `json:"observation,omitempty"`
	Summary     *store.Summary     `json:"summary,omitempty"`
}

// storeFlags binds where the store is, as the dlq command does.
func storeFlags(name string, stderr io.Writer) (*flag.FlagSet, *config.Set, *dlqConfig) {
	var cfg dlqConfig
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := config.NewSet(fs)
	set.String(&cfg.Home, "home", "MNEMO_HOME", config.Home(), "data directory of a running mnemo")
	set.String(&cfg.Store, "store", "MNEMO_STORE", "", "memory store: a SQLite path or postgres://… (default: the running mnemo's)")
	return fs, set, &cfg
}

func runExport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs, set, cfg := storeFlags("export", stderr)
	project := fs.String("project", "", "the project to export (required)")
	if err := set.Parse(args); err != nil {
		return exit.Usage(err)
	}
	if *project == "" || fs.NArg() > 0 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo export --project P > file.jsonl")}
	}
	cfg.fillFromRun()
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	var n store.ImportResult
	for off := 0; ; off += 100 {
		sessions, err := st.Sessions(ctx, store.SessionFilter{Project: *project, Limit: 100, Offset: off})
		if err != nil {
			return err
		}
		for _, s := range sessions {
			e, err := st.ExportSession(ctx, s.ID)
			if err != nil {
				return err
			}
			if err := enc.Encode(exportLine{Kind: "session", SessionExport: &e}); err != nil {
				return err
			}
			n.Add(store.ImportResult{Sessions: 1, Prompts: len(e.Prompts), Observations: len(e.Observations), Summaries: len(e.Summaries)})
		}
		if len(sessions) < 100 {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported project %s: %d sessions, %d prompts, %d observations, %d summaries\n",
		*project, n.Sessions, n.Prompts, n.Observations, n.Summaries)
	return nil
}

// importSession is the session an imported record lands in: its own
// namespace, so that importing never moves the cursor of a live session.
func importSession(sid string) string {
	s := "imported-" + sid
	if len(s) > store.MaxIDLen {
		sum := sha256.Sum256([]byte(sid))
		s = "imported-" + hex.EncodeToString(sum[:20])
	}
	return s
}

func runImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "claude-mem" {
		return runImportClaudeMem(ctx, args[1:], stdout, stderr)
	}
	fs, set, cfg := storeFlags("import", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mnemo import FILE.jsonl (- for stdin)   memory written by mnemo export\n       mnemo import claude-mem [PATH]   a claude-mem database (mnemo import claude-mem -h)")
		fs.PrintDefaults()
	}
	if err := set.Parse(args); err != nil {
		return exit.Usage(err)
	}
	if fs.NArg() != 1 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo import file.jsonl (- for stdin), or mnemo import claude-mem [PATH]")}
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	cfg.fillFromRun()
	// Import may create the store (a fresh machine's first import).
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var total store.ImportResult
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		var l exportLine
		if err := json.Unmarshal(raw, &l); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		b, err := importBatchOf(l, raw)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		for _, part := range splitBatch(b, store.MaxImportBatch) {
			res, err := st.Import(ctx, part)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			total.Add(res)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if total.Written() > 0 {
		if err := st.Optimize(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "imported %d sessions, %d prompts, %d observations, %d summaries; %d rows were already present\n",
		total.Sessions, total.Prompts, total.Observations, total.Summaries, total.Present)
	return nil
}

// importBatchOf is what one export line imports. A line of an older export
// has no keys: its key is its content's hash, and its session its own
// namespace (imported-<id>), as those exports were imported before.
func importBatchOf(l exportLine, raw []byte) (store.ImportBatch, error) {
	switch {
	case l.Kind == "session" && l.SessionExport != nil:
		e := l.SessionExport
		return store.ImportBatch{Sessions: []store.Session{e.Session}, Prompts: e.Prompts,
			Observations: e.Observations, Summaries: e.Summaries}, nil
	case l.Kind == "observation" && l.Observation != nil:
		sum := sha256.Sum256(raw)
		o := *l.Observation
		o.SessionID = importSession(o.SessionID)
		return store.ImportBatch{Observations: []store.ImportedObservation{{Key: "export-v1:" + hex.EncodeToString(sum[:24]), Observation: o}}}, nil
	case l.Kind == "summary" && l.Summary != nil:
		sum := sha256.Sum256(raw)
		m := *l.Summary
		m.SessionID = importSession(m.SessionID)
		return store.ImportBatch{Summaries: []store.ImportedSummary{{Key: "export-v1:" + hex.EncodeToString(sum[:24]), Summary: m}}}, nil
	}
	return store.ImportBatch{}, errors.New("want kind session (or an older export's observation or summary) with its record")
}

// splitBatch cuts a session's rows into batches of at most n rows, the
// session itself in the first.
func splitBatch(b store.ImportBatch, n int) []store.ImportBatch {
	if len(b.Sessions)+len(b.Prompts)+len(b.Observations)+len(b.Summaries) <= n {
		return []store.ImportBatch{b}
	}
	var out []store.ImportBatch
	cur, size := store.ImportBatch{Sessions: b.Sessions}, len(b.Sessions)
	cut := func() {
		if size > 0 {
			out = append(out, cur)
		}
		cur, size = store.ImportBatch{}, 0
	}
	for _, p := range b.Prompts {
		if size == n {
			cut()
		}
		cur.Prompts, size = append(cur.Prompts, p), size+1
	}
	for _, o := range b.Observations {
		if size == n {
			cut()
		}
		cur.Observations, size = append(cur.Observations, o), size+1
	}
	for _, m := range b.Summaries {
		if size == n {
			cut()
		}
		cur.Summaries, size = append(cur.Summaries, m), size+1
	}
	cut()
	return out
}
