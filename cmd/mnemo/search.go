package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/services/query"
)

func init() {
	register("search", command{
		summary: "search memory: mnemo search [flags] QUERY (observations, --type sessions or --type prompts)",
		run:     runSearch,
	})
}

// clientConfig says where a running Mnemo answers: --url (MNEMO_URL), else
// the address in $MNEMO_HOME/run.json of a local `mnemo run`, else the
// default address.
type clientConfig struct {
	Home, URL, Token string
}

func (c *clientConfig) bind(s *config.Set) {
	s.String(&c.Home, "home", "MNEMO_HOME", config.Home(), "data directory of a local mnemo run")
	s.String(&c.URL, "url", "MNEMO_URL", "", "Mnemo's address (default: the local mnemo run's, else "+defaultMnemoURL+")")
	s.String(&c.Token, "token", "MNEMO_TOKEN", "", "bearer token")
}

// readRunInfo reads $MNEMO_HOME/run.json; ok is false without one.
func readRunInfo(home string) (runInfo, bool) {
	var info runInfo
	b, err := os.ReadFile(filepath.Join(home, "run.json"))
	if err != nil || json.Unmarshal(b, &info) != nil {
		return runInfo{}, false
	}
	return info, true
}

// api resolves the address and returns the client, and the local run's
// information when the address is that run's.
func (c clientConfig) api() (*mnemoAPI, runInfo, bool) {
	info, local := readRunInfo(c.Home)
	base := c.URL
	switch {
	case base == "" && local:
		base = "http://" + info.Addr
	case base == "":
		base = defaultMnemoURL
		local = false
	default:
		local = local && strings.TrimRight(base, "/") == "http://"+info.Addr
	}
	return &mnemoAPI{base: strings.TrimRight(base, "/"), token: c.Token, client: &http.Client{Timeout: 15 * time.Second}}, info, local
}

const searchUsage = `Usage: mnemo search [flags] QUERY...

Searches Mnemo's memory with the API's filters (docs/SEARCH.md) and prints a
table, best match first (or by --order-by). An empty query lists newest first.
Flags may come before or after the query.`

type searchConfig struct {
	clientConfig
	Type, ObsType, Project, DateStart, DateEnd, OrderBy, Platform, File, Mode string
	Limit, Offset                                                             int
	JSON                                                                      bool
}

func runSearch(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg searchConfig
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, searchUsage+"\n\nFlags:"); fs.PrintDefaults() }
	set := config.NewSet(fs)
	cfg.bind(set)
	set.String(&cfg.Type, "type", "", "", "what to search: observations (default), sessions (summaries) or prompts; or observation types")
	set.String(&cfg.ObsType, "obs-type", "", "", "comma-separated observation types: bugfix, feature, refactor, change, discovery, decision")
	set.String(&cfg.Project, "project", "", "", "only this project")
	set.String(&cfg.DateStart, "date-start", "", "", "from this time on: YYYY-MM-DD, RFC 3339 or epoch ms (alias --since)")
	set.String(&cfg.DateEnd, "date-end", "", "", "up to this time; a YYYY-MM-DD date includes that day (alias --until)")
	fs.StringVar(&cfg.DateStart, "since", "", "alias of --date-start")
	fs.StringVar(&cfg.DateEnd, "until", "", "alias of --date-end")
	set.String(&cfg.OrderBy, "order-by", "", "", "relevance (default with a query), date_desc or date_asc")
	set.String(&cfg.Platform, "platform-source", "", "", "only sessions of this agent (claude-code, cursor, …)")
	set.String(&cfg.File, "file", "", "", "only observations that read or modified this path")
	set.String(&cfg.Mode, "mode", "", "", "hybrid (default when semantic search is on), text or semantic")
	set.Int(&cfg.Limit, "limit", "", 20, "results, 1-100")
	set.Int(&cfg.Offset, "offset", "", 0, "results to skip")
	set.Bool(&cfg.JSON, "json", "", false, "print the API's JSON answer")
	words, err := set.ParseInterspersed(args)
	if err != nil {
		return exit.Usage(err)
	}
	in := searchIn{Query: strings.Join(words, " "), Type: cfg.Type, ObsType: cfg.ObsType, Project: cfg.Project,
		DateStart: cfg.DateStart, DateEnd: cfg.DateEnd, OrderBy: cfg.OrderBy, Limit: cfg.Limit, Offset: cfg.Offset,
		PlatformSource: cfg.Platform, File: cfg.File, Mode: cfg.Mode}
	api, _, _ := cfg.api()
	b, err := api.call(ctx, http.MethodGet, "/v1/search?"+in.values().Encode(), nil)
	if err != nil {
		return err
	}
	if cfg.JSON {
		_, err := stdout.Write(append(b, '\n'))
		return err
	}
	var ans query.SearchAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("Mnemo's answer: %w", err)
	}
	return searchTable(stdout, ans, time.Local)
}

// searchTable prints the results as aligned columns, then a line saying
// how many there were and how to see more.
func searchTable(w io.Writer, a query.SearchAnswer, loc *time.Location) error {
	if len(a.Results) == 0 {
		_, err := fmt.Fprintf(w, "No %s found.\n", a.Type)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tTIME\tTYPE\tPROJECT\tTITLE")
	for _, e := range a.Results {
		title := e.Title
		if len([]rune(title)) > 80 {
			title = string([]rune(title)[:79]) + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Ref(), e.AcceptedAt.In(loc).Format("2006-01-02 15:04"), e.Type, e.Project, title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	more := ""
	if len(a.Results) == a.Limit {
		more = fmt.Sprintf("; --offset %d for more", a.Offset+a.Limit)
	}
	_, err := fmt.Fprintf(w, "\n%d %s by %s%s.\n", len(a.Results), a.Type, a.OrderBy, more)
	return err
}
