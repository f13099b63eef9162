package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/store"
)

func init() {
	register("recompress", command{
		summary: "regenerate a project's memory from its stored events with the current compressor: mnemo recompress --project P [--since T]",
		run:     runRecompress,
	})
}

// runRecompress publishes one recompress control event per session of the
// project on the session's own subject: each worker regenerates the session
// in order with its other events, replacing (never duplicating) its memory.
func runRecompress(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs, set, cfg := storeFlags("recompress", stderr)
	set.String(&cfg.NATSURL, "nats", "MNEMO_NATS_URL", "", "NATS URL (default: the running mnemo's)")
	set.String(&cfg.NATSToken, "nats-token", "MNEMO_NATS_TOKEN", "", "NATS auth token")
	project := fs.String("project", "", "the project to recompress (required)")
	since := fs.String("since", "", "only sessions with events since this date (YYYY-MM-DD or RFC 3339)")
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if *project == "" || fs.NArg() > 0 {
		return &exitError{code: 2, err: errors.New("usage: mnemo recompress --project P [--since YYYY-MM-DD]")}
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = time.Parse("2006-01-02", *since); err != nil {
			if from, err = time.Parse(time.RFC3339, *since); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--since %q is not YYYY-MM-DD or RFC 3339", *since)}
			}
		}
	}
	cfg.fillFromRun()
	if cfg.NATSURL == "" {
		return errors.New("no NATS to publish to: start `mnemo run` or set MNEMO_NATS_URL")
	}
	st, err := cfg.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	nc, js, err := bus.ConnectJetStream(ctx, bus.ConnectOptions{URL: cfg.NATSURL, Service: "recompress", Token: cfg.NATSToken})
	if err != nil {
		return err
	}
	defer nc.Close()
	n := 0
	for off := 0; ; off += 100 {
		sessions, err := st.Sessions(ctx, store.SessionFilter{Project: *project, Limit: 100, Offset: off})
		if err != nil {
			return err
		}
		for _, s := range sessions {
			if !from.IsZero() && s.LastEventAt.Before(from) {
				continue
			}
			e := &event.Envelope{EventID: event.NewID(), SessionID: s.ID, Project: s.Project, Kind: event.KindRecompress, At: time.Now().UTC()}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := bus.Publish(pctx, js, e)
			cancel()
			if err != nil {
				return fmt.Errorf("session %s: %w", s.ID, err)
			}
			n++
		}
		if len(sessions) < 100 {
			break
		}
	}
	fmt.Fprintf(stdout, "recompression of %d session(s) of %s queued; each is replaced in order by the workers\n", n, *project)
	return nil
}
