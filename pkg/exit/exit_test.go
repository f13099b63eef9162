package exit_test

import (
	"errors"
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
