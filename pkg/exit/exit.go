// Package exit is how a command asks for an exit status other than 1: both
// binaries, mnemo and the lean mnemo-hook, turn an *Error into its status.
package exit

import (
	"errors"
	"flag"
	"fmt"
)

// Error asks for exit status Code; Err, if any, is what is printed.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status returns the exit status a command's error asks for and the error to
// print: 0 and nil for nil, an *Error's code and cause (nil: print nothing),
// else 1 and err itself.
func Status(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *Error
	if errors.As(err, &ee) {
		return ee.Code, ee.Err
	}
	return 1, err
}

// Usage is what a command returns when its flags do not parse: nil when
// help was asked for (the flag package has printed it), else exit status 2
// with the parse error.
func Usage(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return &Error{Code: 2, Err: err}
}
