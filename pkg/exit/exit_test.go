package exit_test

import (
	"errors"
	"flag"
	"fmt"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/exit"
)

func TestStatus(t *testing.T) {
	cause := errors.New("bad flag")
	for _, c := range []struct {
		err   error
		code  int
		print error
	}{
		{nil, 0, nil},
		{cause, 1, cause},
		{&exit.Error{Code: 2, Err: cause}, 2, cause},
		{&exit.Error{Code: 3}, 3, nil},
		{fmt.Errorf("spool: %w", &exit.Error{Code: 2, Err: cause}), 2, cause},
	} {
		code, print := exit.Status(c.err)
		if code != c.code || print != c.print {
			t.Errorf("Status(%v) = %d, %v; want %d, %v", c.err, code, print, c.code, c.print)
		}
	}
	if got := (&exit.Error{Code: 4}).Error(); got != "exit status 4" {
		t.Errorf("message without a cause: %q", got)
	}
}

// Asking for help is no error; any other parse error is a usage error,
// status 2, printing the parse error.
func TestUsage(t *testing.T) {
	if err := exit.Usage(fmt.Errorf("parse: %w", flag.ErrHelp)); err != nil {
		t.Fatalf("help: %v, want nil", err)
	}
	bad := errors.New("flag provided but not defined: -x")
	if code, print := exit.Status(exit.Usage(bad)); code != 2 || print != bad {
		t.Fatalf("bad flag: status %d printing %v, want 2 printing %v", code, print, bad)
	}
}
