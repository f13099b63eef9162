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
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func init() {
	register("export", command{summary: "write a project's memory as JSON lines: mnemo export --project P > file.jsonl", run: runExport})
	register("import", command{summary: "read memory written by export (idempotent): mnemo import file.jsonl", run: runImport})
}

// exportLine is one line of an export: an observation or a summary.
type exportLine struct {
	Kind        string             `json:"kind"` // observation | summary
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
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if *project == "" || fs.NArg() > 0 {
		return &exitError{code: 2, err: errors.New("usage: mnemo export --project P > file.jsonl")}
	}
	cfg.fillFromRun()
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	n := 0
	for off := 0; ; off += 100 {
		sessions, err := st.Sessions(ctx, store.SessionFilter{Project: *project, Limit: 100, Offset: off})
		if err != nil {
			return err
		}
		for _, s := range sessions {
			obs, err := st.SessionObservations(ctx, s.ID)
			if err != nil {
				return err
			}
			for i := range obs {
				if err := enc.Encode(exportLine{Kind: "observation", Observation: &obs[i]}); err != nil {
					return err
				}
				n++
			}
			sums, err := st.SessionSummaries(ctx, s.ID)
			if err != nil {
				return err
			}
			for i := range sums {
				if err := enc.Encode(exportLine{Kind: "summary", Summary: &sums[i]}); err != nil {
					return err
				}
				n++
			}
		}
		if len(sessions) < 100 {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d records of project %s\n", n, *project)
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
	fs, set, cfg := storeFlags("import", stderr)
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: errors.New("usage: mnemo import file.jsonl (- for stdin)")}
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
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	added, skipped, line := 0, 0, 0
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
		// The event ID is the record's content hash: a second import of
		// the same line is recognised by the store and writes nothing.
		sum := sha256.Sum256(raw)
		u := store.Unit{Fence: 0}
		id := "imp-" + hex.EncodeToString(sum[:24])
		switch {
		case l.Kind == "observation" && l.Observation != nil:
			o := *l.Observation
			u.SessionID = importSession(o.SessionID)
			o.ID, o.SessionID, o.SourceEventIDs = 0, u.SessionID, []string{id}
			u.Observations = []store.Observation{o}
			u.Session = &store.SessionUpdate{Project: o.Project}
		case l.Kind == "summary" && l.Summary != nil:
			s := *l.Summary
			u.SessionID = importSession(s.SessionID)
			s.ID, s.SessionID, s.SourceEventIDs = 0, u.SessionID, []string{id}
			u.Summary = &s
			u.Session = &store.SessionUpdate{Project: s.Project}
		default:
			return fmt.Errorf("line %d: want kind observation or summary with its record", line)
		}
		known, err := st.AppliedSeqs(ctx, []string{id})
		if err != nil {
			return err
		}
		if _, ok := known[id]; ok {
			skipped++
			continue
		}
		cur, err := st.Cursor(ctx, u.SessionID)
		if err != nil {
			return err
		}
		u.Fence = cur.Fence
		u.Events = []store.AppliedEvent{{EventID: id, Seq: cur.LastSeq + 1, Kind: "import"}}
		res, err := st.Apply(ctx, u)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if res.Duplicate {
			skipped++
		} else {
			added++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if added > 0 {
		if err := st.Optimize(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "imported %d records, %d already present\n", added, skipped)
	return nil
}
