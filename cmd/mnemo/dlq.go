package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/reaper"
	"github.com/nats-io/nats.go/jetstream"
)

func init() {
	register("dlq", command{
		summary: "dead letters: list | show ID | replay ID|--all",
		run:     runDLQ,
	})
}

const dlqUsage = `Usage:
  mnemo dlq list [--limit N] [--json]     dead letters, newest first
  mnemo dlq show ID                       one dead letter with its original event
  mnemo dlq replay ID | --all             republish the original with a new event ID
                                          (replay_of records the original)

Flags (each also after the subcommand): --store (MNEMO_STORE), --nats (MNEMO_NATS_URL),
--home (MNEMO_HOME); by default they come from a running "mnemo run" ($MNEMO_HOME/run.json).`

// dlqConfig says where the store and the broker are.
type dlqConfig struct {
	Home      string
	Store     string
	NATSURL   string
	NATSToken string
	Limit     int
	JSON      bool
	All       bool
}

func runDLQ(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if done, err := subcommandHelp(args, stderr, dlqUsage); done {
		return err
	}
	sub := args[0]
	var cfg dlqConfig
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := config.NewSet(fs)
	set.String(&cfg.Home, "home", "MNEMO_HOME", config.Home(), "data directory of a running mnemo")
	set.String(&cfg.Store, "store", "MNEMO_STORE", "", "memory store: a SQLite path or postgres://… (default: the running mnemo's)")
	set.String(&cfg.NATSURL, "nats", "MNEMO_NATS_URL", "", "NATS URL (default: the running mnemo's)")
	set.String(&cfg.NATSToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	set.Int(&cfg.Limit, "limit", "", 50, "list: how many dead letters")
	set.Bool(&cfg.JSON, "json", "", false, "list: print JSON")
	set.Bool(&cfg.All, "all", "", false, "replay: every dead letter not replayed yet")
	// Flags may come before or after the ID.
	pos, err := set.ParseInterspersed(args[1:])
	if err != nil {
		return exit.Usage(err)
	}
	cfg.fillFromRun()
	switch sub {
	case "list":
		if len(pos) != 0 {
			return &exit.Error{Code: 2, Err: errors.New("list takes no arguments")}
		}
		return dlqList(ctx, cfg, stdout)
	case "show":
		id, err := dlqID(pos)
		if err != nil {
			return err
		}
		return dlqShow(ctx, cfg, id, stdout)
	case "replay":
		if cfg.All == (len(pos) > 0) {
			return &exit.Error{Code: 2, Err: errors.New("replay takes one dead letter ID, or --all")}
		}
		var id int64
		if !cfg.All {
			var err error
			if id, err = dlqID(pos); err != nil {
				return err
			}
		}
		return dlqReplay(ctx, cfg, id, stdout)
	default:
		fmt.Fprintln(stderr, dlqUsage)
		return &exit.Error{Code: 2, Err: fmt.Errorf("unknown subcommand %q", sub)}
	}
}

func dlqID(pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, &exit.Error{Code: 2, Err: errors.New("want one dead letter ID")}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, &exit.Error{Code: 2, Err: fmt.Errorf("dead letter ID %q is not a positive number", pos[0])}
	}
	return id, nil
}

// fillFromRun takes what is unset from a running `mnemo run`.
func (c *dlqConfig) fillFromRun() {
	var info runInfo
	if b, err := os.ReadFile(filepath.Join(c.Home, "run.json")); err == nil {
		_ = json.Unmarshal(b, &info)
	}
	if c.NATSURL == "" {
		c.NATSURL = info.NATSURL
	}
	if c.Store == "" && info.Store != "" && !strings.Contains(info.Store, "://") {
		c.Store = info.Store // a SQLite path; a URL there has its password redacted
	}
	if c.Store == "" {
		c.Store = filepath.Join(c.Home, "mnemo.db")
	}
}

func (c dlqConfig) openStore(ctx context.Context) (store.Store, error) {
	if !strings.Contains(c.Store, "://") {
		if _, err := os.Stat(c.Store); err != nil {
			return nil, fmt.Errorf("no store at %s: set --store or MNEMO_STORE: %w", c.Store, err)
		}
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return store.Open(octx, c.Store)
}

func dlqList(ctx context.Context, cfg dlqConfig, w io.Writer) error {
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.DeadLetters(ctx, cfg.Limit, 0)
	if err != nil {
		return err
	}
	if cfg.JSON {
		for i := range rows {
			rows[i].Payload = nil
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tSESSION\tSEQ\tDELIVERIES\tREPLAYED AS\tREASON")
	for _, d := range rows {
		replayed := d.ReplayedAs
		if replayed == "" {
			replayed = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.At.Local().Format(time.DateTime), d.SessionID, d.Seq,
			d.Deliveries, replayed, dlqOneLine(d.Reason, 80))
	}
	return tw.Flush()
}

func dlqOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func dlqShow(ctx context.Context, cfg dlqConfig, id int64, w io.Writer) error {
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.DeadLetter(ctx, id)
	if err != nil {
		return err
	}
	out := struct {
		store.DeadLetter
		Payload any `json:"event,omitempty"`
	}{DeadLetter: d}
	if len(d.Payload) > 0 {
		if json.Valid(d.Payload) {
			out.Payload = json.RawMessage(d.Payload)
		} else {
			out.Payload = string(d.Payload)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func dlqReplay(ctx context.Context, cfg dlqConfig, id int64, w io.Writer) error {
	if cfg.NATSURL == "" {
		return errors.New("no NATS to replay through: set --nats or MNEMO_NATS_URL, or start mnemo run")
	}
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(cctx, bus.ConnectOptions{URL: cfg.NATSURL, Service: "cli", Token: cfg.NATSToken})
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := bus.WaitConnected(cctx, nc); err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	ids := []int64{id}
	if cfg.All {
		ids = nil
		for off := 0; ; off += 500 {
			rows, err := st.DeadLetters(ctx, 500, off)
			if err != nil {
				return err
			}
			for _, d := range rows {
				if d.ReplayedAs == "" {
					ids = append(ids, d.ID)
				}
			}
			if len(rows) < 500 {
				break
			}
		}
		if len(ids) == 0 {
			fmt.Fprintln(w, "nothing to replay")
			return nil
		}
	}
	var errs []error
	for i := len(ids) - 1; i >= 0; i-- { // oldest first
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		newID, err := reaper.Replay(rctx, js, st, ids[i])
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("dead letter %d: %w", ids[i], err))
			continue
		}
		fmt.Fprintf(w, "replayed dead letter %d as event %s\n", ids[i], newID)
	}
	return errors.Join(errs...)
}
