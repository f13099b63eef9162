package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

func init() {
	register("status", command{
		summary: "is Mnemo running, where, with which compressor, and what it holds",
		run:     runStatus,
	})
}

// statusExitDown is `mnemo status`'s exit code when Mnemo does not answer
// (as `systemctl status` uses 3 for a unit that is not running).
const statusExitDown = 3

func runStatus(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg clientConfig
	var asJSON bool
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mnemo status [flags]\n\nSays whether Mnemo answers, where, which compressor it runs and the memory it holds.\nExit status %d when it is not running.\n\nFlags:\n", statusExitDown)
		fs.PrintDefaults()
	}
	set := config.NewSet(fs)
	cfg.bind(set)
	set.Bool(&asJSON, "json", "", false, "print JSON")
	if err := set.Parse(args); err != nil {
		return exit.Usage(err)
	}
	if fs.NArg() > 0 {
		return &exit.Error{Code: 2, Err: fmt.Errorf("status takes no arguments")}
	}
	api, info, local := cfg.api()
	st := statusReport{URL: api.base}
	if local {
		st.PID, st.Home, st.Store, st.Compressor = info.PID, cfg.Home, info.Store, info.Compressor
	}
	var stats query.Stats
	err := api.getJSON(ctx, "/v1/stats", &stats)
	if err == nil {
		st.Running, st.Stats = true, &stats
	} else {
		st.Error = err.Error()
	}
	if asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		st.print(stdout)
	}
	if !st.Running {
		return &exit.Error{Code: statusExitDown}
	}
	return nil
}

// statusReport is what `mnemo status` says.
type statusReport struct {
	Running    bool         `json:"running"`
	URL        string       `json:"url"`
	PID        int          `json:"pid,omitempty"`
	Home       string       `json:"home,omitempty"`
	Store      string       `json:"store,omitempty"`
	Compressor string       `json:"compressor,omitempty"`
	Stats      *query.Stats `json:"stats,omitempty"`
	Error      string       `json:"error,omitempty"`
}

func (s statusReport) print(w io.Writer) {
	if !s.Running {
		fmt.Fprintf(w, "Mnemo is not running at %s.\n  %s\nStart it with `mnemo run`, or set --url / MNEMO_URL to where it runs.\n", s.URL, s.Error)
		return
	}
	st := s.Stats
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Mnemo is running at %s\n", s.URL)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	row("version", st.Version)
	row("up", (time.Duration(st.UptimeSeconds)*time.Second).String()+" (since "+st.StartedAt.Local().Format("2006-01-02 15:04")+")")
	if s.PID != 0 {
		row("process", fmt.Sprintf("mnemo run, pid %d, home %s", s.PID, s.Home))
	}
	compressor := s.Compressor
	if compressor == "" {
		compressor = "not known here (ask the machine running the workers)"
	}
	row("compressor", compressor)
	store := s.Store
	if store == "" {
		store = "(remote)"
	}
	row("store", fmt.Sprintf("%s, %s", store, humanBytes(st.StoreBytes)))
	row("memory", fmt.Sprintf("%d observations, %d sessions, %d prompts, %d summaries", st.Observations, st.Sessions, st.Prompts, st.Summaries))
	row("work", fmt.Sprintf("%d queued, %d in flight, %d active sessions, %d dead letters", st.QueueDepth, st.InFlight, st.ActiveSessions, st.DLQSize))
	row("workers", strings.TrimSpace(strconv.Itoa(len(st.LiveWorkers))+" live "+strings.Join(st.LiveWorkers, ", ")))
	row("LLM tokens today", strconv.FormatInt(st.LLMTokensToday, 10))
	row("semantic search", semanticLine(st.Semantic))
	for i, e := range st.Errors {
		if i == 3 {
			row("", fmt.Sprintf("… and %d more", len(st.Errors)-i))
			break
		}
		row("could not read", e)
	}
	_ = tw.Flush()
}

// semanticLine says whether semantic search is on and how far embedding
// has come, or why it is off (docs/ARCHITECTURE.md §14).
func semanticLine(s query.SemanticStats) string {
	if !s.On {
		return "off: " + s.Reason
	}
	if len(s.ByKind) == 0 { // a server that counts observations alone
		return fmt.Sprintf("on (%s): %d embedded, %d pending, %d in the index (%d MiB)", s.Model, s.Embedded, s.Pending, s.Indexed, s.IndexMB)
	}
	var parts []string
	indexed := 0
	for _, k := range []struct {
		kind store.Kind
		name string
	}{{store.KindObservation, "observations"}, {store.KindSummary, "summaries"}, {store.KindPrompt, "prompts"}} {
		c := s.ByKind[k.kind]
		indexed += c.Indexed
		parts = append(parts, fmt.Sprintf("%s %d embedded, %d pending", k.name, c.Embedded, c.Pending))
	}
	return fmt.Sprintf("on (%s): %s; %d in the index (%d MiB)", s.Model, strings.Join(parts, "; "), indexed, s.IndexMB)
}

// humanBytes is n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}
