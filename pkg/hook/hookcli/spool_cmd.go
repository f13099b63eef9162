// The command line of `mnemo spool status|flush`.

package hookcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/config"
	"github.com/mnemo-dev/mnemo/pkg/exit"
)

// spoolUsage is the spool command's help.
const spoolUsage = `Usage: spool status [--json] | spool flush [--timeout 10s]

The hook spools an event under $MNEMO_HOME/spool when Mnemo cannot take it;
the next hook replays the spool in the background, in order, once.
  status   how many events wait, how old the oldest is, whether a flusher runs
  flush    replay the spool now (events ingest rejects are set aside)
`

// RunSpool is `mnemo spool status|flush`.
func RunSpool(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exit.Error{Code: 2, Err: errors.New("usage: mnemo spool status [--json] | mnemo spool flush [--timeout 10s]")}
	}
	if IsHelp(args[0]) {
		fmt.Fprint(stdout, spoolUsage)
		return nil
	}
	sp := OpenSpool(config.Home())
	switch args[0] {
	case "status":
		fs := flag.NewFlagSet("spool status", flag.ContinueOnError)
		fs.SetOutput(stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exit.Error{Code: 2}
		}
		st, err := sp.Status()
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(st)
		}
		fmt.Fprintf(stdout, "spool %s: %d event(s), %d bytes", st.Dir, st.Count, st.Bytes)
		if !st.Oldest.IsZero() {
			fmt.Fprintf(stdout, ", oldest %s (%s ago)", st.Oldest.Local().Format(time.RFC3339), time.Since(st.Oldest).Round(time.Second))
		}
		fmt.Fprintln(stdout)
		if st.Flushing {
			fmt.Fprintln(stdout, "a flusher is running")
		}
		if !st.LastFailed.IsZero() {
			fmt.Fprintf(stdout, "last failed flush: %s\n", st.LastFailed.Local().Format(time.RFC3339))
		}
		if st.Rejected > 0 {
			fmt.Fprintf(stdout, "%d event(s) rejected by ingest: see %s\n", st.Rejected, filepath.Join(st.Dir, SpoolRejected))
		}
		return nil
	case "flush":
		fs := flag.NewFlagSet("spool flush", flag.ContinueOnError)
		fs.SetOutput(stderr)
		background := fs.Bool("background", false, "started by a hook: give up at once when a flusher runs, log with timestamps")
		timeout := fs.Duration("timeout", 10*time.Second, "bound of one batch request")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return &exit.Error{Code: 2}
		}
		hc := LoadConfig()
		if handed, herr := handOff(ctx, hc.URL, append([]string{"spool"}, args...), stdin, stdout, stderr); handed {
			return herr
		}
		c := flushConfig{URL: hc.URL, Token: hc.Token, Timeout: *timeout}
		logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
		if *background {
			sp.trimLog()
			logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, "%s pid %d: %s\n", time.Now().Format(time.RFC3339), os.Getpid(), fmt.Sprintf(format, a...))
			}
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
		}
		res, err := sp.flush(ctx, c, !*background, logf)
		// A hook that found the flusher lock held left its event for this
		// flusher; it may have landed after the last listing. Such a hook
		// added its event before it tried the lock, so one look after the
		// unlock sees it: go round again while events wait.
		for i := 0; i < 8 && err == nil && sp.pending(); i++ {
			var more flushResult
			more, err = sp.flush(ctx, c, false, logf)
			if errors.Is(err, errFlushBusy) {
				err = nil // the other flusher takes them
				break
			}
			res.Sent += more.Sent
			res.Duplicates += more.Duplicates
			res.Rejected += more.Rejected
			res.Kept = more.Kept
		}
		if errors.Is(err, errFlushBusy) {
			return nil
		}
		if *background {
			if err != nil || res.Sent+res.Duplicates+res.Rejected > 0 {
				logf("sent %d, duplicates %d, rejected %d, kept %d, error: %v", res.Sent, res.Duplicates, res.Rejected, res.Kept, err)
			}
			return nil
		}
		fmt.Fprintf(stdout, "sent %d, already there %d, rejected %d, kept %d\n", res.Sent, res.Duplicates, res.Rejected, res.Kept)
		return err
	}
	return &exit.Error{Code: 2, Err: fmt.Errorf("unknown spool command %q (want status or flush)", args[0])}
}
