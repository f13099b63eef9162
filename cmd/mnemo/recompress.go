package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/bus"
	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/exit"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/nats-io/nats.go/jetstream"
)

func init() {
	register("recompress", command{
		summary: "regenerate a project's memory from its stored events with the current compressor (memory without stored events, such as imported, is kept): mnemo recompress --project P [--since T]",
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
		return exit.Usage(err)
	}
	if *project == "" || fs.NArg() > 0 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo recompress --project P [--since YYYY-MM-DD]")}
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = time.Parse("2006-01-02", *since); err != nil {
			if from, err = time.Parse(time.RFC3339, *since); err != nil {
				return &exit.Error{Code: 2, Err: fmt.Errorf("--since %q is not YYYY-MM-DD or RFC 3339", *since)}
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
	stream, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	n, skipped, kept := 0, 0, 0
	for off := 0; ; off += 100 {
		sessions, err := st.Sessions(ctx, store.SessionFilter{Project: *project, Limit: 100, Offset: off})
		if err != nil {
			return err
		}
		for _, s := range sessions {
			if !from.IsZero() && s.LastEventAt.Before(from) {
				continue
			}
			stored, err := hasStoredEvents(ctx, stream, s.ID)
			if err != nil {
				return fmt.Errorf("session %s: %w", s.ID, err)
			}
			if !stored {
				// Imported memory, or events aged out of the stream: there is
				// nothing to recompress from, and replacing would erase it.
				obs, err := st.SessionObservations(ctx, s.ID)
				if err != nil {
					return err
				}
				skipped++
				kept += len(obs)
				continue
			}
			e := &event.Envelope{EventID: event.NewID(), SessionID: s.ID, Project: s.Project, Kind: event.KindRecompress, At: time.Now().UTC()}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = bus.Publish(pctx, js, e)
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
	if skipped > 0 {
		fmt.Fprintf(stdout, "skipped %d session(s) with no stored events (imported, or older than the stream keeps); their %d observation(s) are kept as they are\n", skipped, kept)
	}
	return nil
}

// hasStoredEvents reports whether the events stream holds an event of the
// session other than a recompress request: the raw material a recompression
// rebuilds memory from. The stream's partition is matched by a wildcard, so
// the layout's partition count does not matter.
func hasStoredEvents(ctx context.Context, stream jetstream.Stream, sessionID string) (bool, error) {
	subject := bus.EventsPrefix + ".*." + sessionID
	for seq := uint64(1); ; {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := stream.GetMsg(gctx, seq, jetstream.WithGetMsgSubject(subject))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read the events stream: %w", err)
		}
		if e, err := bus.DecodeEvent(m.Data); err != nil || e.Kind != event.KindRecompress {
			return true, nil
		}
		seq = m.Sequence + 1
	}
}
