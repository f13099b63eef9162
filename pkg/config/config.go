// Package config reads a process's typed configuration from flags and MNEMO_*
// environment variables (a flag wins over the environment, which wins over the
// default) and collects validation problems into one error that says what to set.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Set binds config fields to flags whose defaults come from the environment.
type Set struct {
	fs   *flag.FlagSet
	errs []error
}

// NewSet returns a Set over fs.
func NewSet(fs *flag.FlagSet) *Set { return &Set{fs: fs} }

// FlagSet returns the underlying flag set.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

func envUsage(env, usage string) string {
	if env == "" {
		return usage
	}
	return usage + " (env " + env + ")"
}

// String binds a string.
func (s *Set) String(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		def = v
	}
	s.fs.StringVar(p, name, def, envUsage(env, usage))
}

// Int binds an int.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q is not a whole number", env, v))
		} else {
			def = n
		}
	}
	s.fs.IntVar(p, name, def, envUsage(env, usage))
}

// Duration binds a duration ("5s", "2m").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q is not a duration (like 5s or 2m)", env, v))
		} else {
			def = d
		}
	}
	s.fs.DurationVar(p, name, def, envUsage(env, usage))
}

// Bool binds a bool.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q is not true or false", env, v))
		} else {
			def = b
		}
	}
	s.fs.BoolVar(p, name, def, envUsage(env, usage))
}

// Func binds a value parsed by set: from the environment now (or def), and
// from the flag when given.
func (s *Set) Func(name, env, def, usage string, set func(string) error) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		def = v
	}
	if err := set(def); err != nil {
		s.errs = append(s.errs, err)
	}
	s.fs.Func(name, envUsage(env, usage), set)
}

// Parse parses args and returns the environment errors met while binding.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	return errors.Join(s.errs...)
}

// Problems collects validation problems.
type Problems struct{ errs []error }

// Addf records a problem when cond is true.
func (p *Problems) Addf(cond bool, format string, args ...any) {
	if cond {
		p.errs = append(p.errs, fmt.Errorf(format, args...))
	}
}

// Add records err when it is not nil; the problems of a nested Problems
// error are taken one by one, so messages are not prefixed twice.
func (p *Problems) Add(err error) {
	var inner *ProblemsError
	switch {
	case err == nil:
	case errors.As(err, &inner):
		p.errs = append(p.errs, inner.Problems...)
	default:
		p.errs = append(p.errs, err)
	}
}

// ProblemsError is every configuration problem found, each saying what to set.
type ProblemsError struct{ Problems []error }

func (e *ProblemsError) Error() string {
	return "invalid configuration: " + errors.Join(e.Problems...).Error()
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *ProblemsError) Unwrap() []error { return e.Problems }

// Err returns all problems as one *ProblemsError, or nil.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &ProblemsError{Problems: p.errs}
}

// Home is Mnemo's data directory: $MNEMO_HOME, default ~/.mnemo.
func Home() string {
	if h := os.Getenv("MNEMO_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".mnemo")
	}
	return ".mnemo"
}

// IsLoopback reports whether a listen address binds only to loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckBind refuses a listen address reachable from other machines unless a
// token protects it (secure by default).
func CheckBind(addr, token string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("listen address %q is not host:port: %w", addr, err)
	}
	if !IsLoopback(addr) && token == "" {
		return fmt.Errorf("listen address %s is reachable from other machines: set MNEMO_TOKEN to require a bearer token, or bind to 127.0.0.1", addr)
	}
	return nil
}

// Durations binds a comma-separated list of durations; "none" is empty.
func (s *Set) Durations(p *[]time.Duration, name, env string, def []time.Duration, usage string) {
	*p = def
	parse := func(v string) ([]time.Duration, error) {
		v = strings.TrimSpace(v)
		if v == "" || v == "none" {
			return nil, nil
		}
		var out []time.Duration
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil {
				return nil, fmt.Errorf("%q is not a list of durations like 30s,1m (or none)", v)
			}
			out = append(out, d)
		}
		return out, nil
	}
	if v, ok := os.LookupEnv(env); ok && env != "" {
		d, err := parse(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", env, err))
		} else {
			*p = d
		}
	}
	s.fs.Func(name, envUsage(env, usage), func(v string) error {
		d, err := parse(v)
		if err != nil {
			return err
		}
		*p = d
		return nil
	})
}
