// Package config reads a process's typed configuration from flags and MNEMO_*
// environment variables (a flag wins over the environment, which wins over the
// default) and collects validation problems into one error that says what to set.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Set binds config fields to flags and MNEMO_* variables. A flag name bound
// more than once (by several services' configs in one process, as `mnemo
// run` does) sets every field bound to it, so each service sees the value.
type Set struct {
	fs       *flag.FlagSet
	settings []*setting
	byFlag   map[string]*setting
	reads    map[string]string // variables read outside the Set → meaning
	errs     []error
}

// setting is one flag and its variable, with every field it sets.
type setting struct {
	flag, env, def, usage string
	isBool                bool
	sets                  []func(string) error
}

// NewSet returns a Set over fs; fs's usage (-h) prints every setting.
func NewSet(fs *flag.FlagSet) *Set {
	s := &Set{fs: fs, byFlag: map[string]*setting{}, reads: map[string]string{}}
	fs.Usage = s.usage
	return s
}

// FlagSet returns the underlying flag set.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// bind applies the variable's value (or def) through set now and registers
// the flag. A parse error of the variable is kept for Parse to report.
func (s *Set) bind(name, env, def, usage string, isBool bool, set func(string) error) {
	v, fromEnv := def, false
	if env != "" {
		if ev, ok := os.LookupEnv(env); ok {
			v, fromEnv = ev, true
		}
	}
	if err := set(v); err != nil {
		if fromEnv {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: %w", env, v, err))
		} else {
			s.errs = append(s.errs, fmt.Errorf("default of -%s %q: %w", name, v, err))
		}
	}
	if st, ok := s.byFlag[name]; ok {
		if st.env != env {
			panic(fmt.Sprintf("config: flag -%s bound to both %s and %s", name, st.env, env))
		}
		st.sets = append(st.sets, set)
		return
	}
	st := &setting{flag: name, env: env, def: def, usage: usage, isBool: isBool, sets: []func(string) error{set}}
	s.byFlag[name] = st
	s.settings = append(s.settings, st)
	apply := func(v string) error {
		for _, f := range st.sets {
			if err := f(v); err != nil {
				return err
			}
		}
		return nil
	}
	if isBool {
		s.fs.BoolFunc(name, usage, apply)
	} else {
		s.fs.Func(name, usage, apply)
	}
}

// String binds a string.
func (s *Set) String(p *string, name, env, def, usage string) {
	s.bind(name, env, def, usage, false, func(v string) error { *p = v; return nil })
}

// Int binds an int.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	s.bind(name, env, strconv.Itoa(def), usage, false, parseInto(p, strconv.Atoi, "not a whole number"))
}

// Duration binds a duration ("5s", "2m").
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	s.bind(name, env, def.String(), usage, false, parseInto(p, time.ParseDuration, "not a duration (like 5s or 2m)"))
}

// Bool binds a bool.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	s.bind(name, env, strconv.FormatBool(def), usage, true, parseInto(p, strconv.ParseBool, "not true or false"))
}

// parseInto sets *p to a value parsed, spaces trimmed, by parse; a value it
// refuses is the error msg, which says what was expected.
func parseInto[T any](p *T, parse func(string) (T, error), msg string) func(string) error {
	return func(v string) error {
		x, err := parse(strings.TrimSpace(v))
		if err != nil {
			return errors.New(msg)
		}
		*p = x
		return nil
	}
}

// Func binds a value parsed by set: from the environment now (or def), and
// from the flag when given.
func (s *Set) Func(name, env, def, usage string, set func(string) error) {
	s.bind(name, env, def, usage, false, set)
}

// Durations binds a comma-separated list of durations; "none" is empty.
func (s *Set) Durations(p *[]time.Duration, name, env string, def []time.Duration, usage string) {
	parts := make([]string, len(def))
	for i, d := range def {
		parts[i] = d.String()
	}
	ds := strings.Join(parts, ",")
	if ds == "" {
		ds = "none"
	}
	s.bind(name, env, ds, usage, false, func(v string) error {
		v = strings.TrimSpace(v)
		if v == "" || v == "none" {
			*p = nil
			return nil
		}
		var out []time.Duration
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil {
				return fmt.Errorf("%q is not a list of durations like 30s,1m (or none)", v)
			}
			out = append(out, d)
		}
		*p = out
		return nil
	})
}

// Reads declares variables the process reads outside the Set (a library's
// own: name → meaning), so Unknown does not report them and -h lists them.
func (s *Set) Reads(vars map[string]string) {
	for name, meaning := range vars {
		s.reads[name] = meaning
	}
}

// Parse parses args and returns the environment errors met while binding.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	return errors.Join(s.errs...)
}

// ParseInterspersed parses args whose flags may stand before, between or
// after the positional arguments (`mnemo search words --limit 5 more`), and
// returns the positional ones in order. Errors are Parse's (flag.ErrHelp
// included).
func (s *Set) ParseInterspersed(args []string) ([]string, error) {
	var pos []string
	for {
		if err := s.Parse(args); err != nil {
			return nil, err
		}
		if s.fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, s.fs.Arg(0))
		args = s.fs.Args()[1:]
	}
}

// Unknown returns, sorted, the names of the MNEMO_* variables in environ
// ("NAME=value" entries, as os.Environ gives) that nothing in this process
// reads: a typo or a leftover an operator should hear about.
func (s *Set) Unknown(environ []string) []string {
	known := map[string]bool{}
	for _, st := range s.settings {
		known[st.env] = true
	}
	for env := range s.reads {
		known[env] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MNEMO_") && !known[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Variables returns the names of every variable the process reads, sorted.
func (s *Set) Variables() []string {
	var out []string
	for _, st := range s.settings {
		if st.env != "" {
			out = append(out, st.env)
		}
	}
	for env := range s.reads {
		out = append(out, env)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// usage prints every setting: its flag, its variable, its default and what
// it means. It never prints a value taken from the environment (a token).
func (s *Set) usage() {
	w := s.fs.Output()
	fmt.Fprintf(w, "Usage of %s (a flag wins over its variable, which wins over the default):\n", s.fs.Name())
	for _, st := range s.settings {
		line := "  -" + st.flag
		if st.env != "" {
			line += "  " + st.env
		}
		if st.def != "" && !(st.isBool && st.def == "false") {
			line += fmt.Sprintf("  (default %s)", st.def)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, st.usage)
	}
	s.fs.VisitAll(func(f *flag.Flag) {
		if _, ok := s.byFlag[f.Name]; ok {
			return
		}
		line := "  -" + f.Name
		if f.DefValue != "" {
			line += fmt.Sprintf("  (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, f.Usage)
	})
	if len(s.reads) > 0 {
		fmt.Fprintln(w, "Variables without a flag:")
		names := make([]string, 0, len(s.reads))
		for n := range s.reads {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %s\n    \t%s\n", n, s.reads[n])
		}
	}
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
	host, _, err := splitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// splitHostPort is net.SplitHostPort for listen addresses ("host:port",
// "[v6]:port", ":port"). pkg/config does not import net, so that the hook,
// which reads Home, links no cgo resolver (docs/ARCHITECTURE.md §1).
func splitHostPort(addr string) (host, port string, err error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", fmt.Errorf("address %s: missing port", addr)
	}
	host, port = addr[:i], addr[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", "", fmt.Errorf("address %s: missing ']'", addr)
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, ":[]") {
		return "", "", fmt.Errorf("address %s: too many colons", addr)
	}
	return host, port, nil
}

// CheckBind refuses a listen address reachable from other machines unless a
// token protects it (secure by default).
func CheckBind(addr, token string) error {
	if _, _, err := splitHostPort(addr); err != nil {
		return fmt.Errorf("listen address %q is not host:port: %w", addr, err)
	}
	if !IsLoopback(addr) && token == "" {
		return fmt.Errorf("listen address %s is reachable from other machines: set MNEMO_TOKEN to require a bearer token, or bind to 127.0.0.1", addr)
	}
	return nil
}
