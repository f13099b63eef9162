// Package settings is the user's settings file, $MNEMO_HOME/settings.json:
// every user-facing setting keyed by its MNEMO_* variable name (as
// claude-mem's file keys its CLAUDE_MEM_* names), seeded with the defaults on
// first run. A value comes from, in order: a command-line flag, the MNEMO_*
// variable, the file, the default. The file is re-read when it changes, so
// settings read per request (the context's) need no restart.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// FileName is the settings file's name inside $MNEMO_HOME.
const FileName = "settings.json"

// Source says where a setting's value came from.
type Source string

// The sources, strongest first.
const (
	FromFlag    Source = "flag"
	FromEnv     Source = "env"
	FromFile    Source = "file"
	FromDefault Source = "default"
)

// Settings resolves settings from the environment, the file and the defaults.
// It is safe for concurrent use.
type Settings struct {
	path string // "" when there is no file (a cluster service)
	env  map[string]string

	mu   sync.Mutex
	once bool        // read at Load only (the hook: a process of milliseconds)
	seen os.FileInfo // the file as last read
	file map[string]string
	err  error // why the file could not be read, if it could not
}

// Path is the settings file of a Mnemo home directory.
func Path(home string) string { return filepath.Join(home, FileName) }

// Open reads home's settings file, first seeding it with every default when
// it is missing and adding any setting it lacks. The environment is taken as
// it is now: a variable set later (by Export) is not mistaken for the user's.
func Open(home string) (*Settings, error) {
	s := &Settings{path: Path(home), env: environ()}
	if err := s.seed(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	if s.err != nil {
		return nil, s.err
	}
	return s, nil
}

// Load reads home's settings file once, without writing it (a missing file
// is only defaults): for the hook, which must stay fast and never fail, and
// lives milliseconds, so a change of the file is the next hook's. Why the
// file could not be read is in Err.
func Load(home string) *Settings {
	s := &Settings{path: Path(home), env: environ(), file: map[string]string{}}
	s.refresh()
	s.once = true
	return s
}

// FromEnvironment resolves settings from the environment and the defaults
// only: a cluster service reads them like any of its settings.
func FromEnvironment() *Settings { return &Settings{env: environ(), file: map[string]string{}} }

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MNEMO_") {
			env[k] = v
		}
	}
	return env
}

// Path is the settings file, "" when there is none.
func (s *Settings) Path() string { return s.path }

// seed writes the file with every default when it is missing, or adds the
// settings it lacks, keeping what the user wrote.
func (s *Settings) seed() error {
	cur, err := readFile(s.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if cur == nil {
		cur = map[string]string{}
	}
	missing := false
	for _, d := range Defs {
		if _, ok := cur[d.Key]; !ok {
			cur[d.Key] = d.Default
			missing = true
		}
	}
	if !missing {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return writeFile(s.path, cur)
}

// refresh re-reads the file when it changed since it was last read. A file
// that cannot be read keeps the last good values and records why. The caller
// holds s.mu.
func (s *Settings) refresh() {
	if s.path == "" || s.once {
		return
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			s.seen, s.file, s.err = nil, map[string]string{}, nil
			return
		}
		s.err = fmt.Errorf("settings: %w", err)
		return
	}
	if s.seen != nil && os.SameFile(s.seen, fi) && s.seen.ModTime().Equal(fi.ModTime()) && s.seen.Size() == fi.Size() {
		return
	}
	m, err := readFile(s.path)
	if err != nil {
		s.err = err
		return
	}
	s.seen, s.file, s.err = fi, m, nil
}

// readFile reads a settings file: a JSON object of strings (numbers and
// booleans are taken as written).
func readFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("settings: %s is not a JSON object of settings: %w", path, err)
	}
	m := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if err := json.Unmarshal(v, &str); err == nil {
			m[k] = str
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("settings: %s: %s: %w", path, k, err)
		}
		switch x := x.(type) {
		case float64:
			m[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			m[k] = strconv.FormatBool(x)
		case nil:
			m[k] = ""
		case []any:
			parts := make([]string, 0, len(x))
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			m[k] = strings.Join(parts, ",")
		default:
			return nil, fmt.Errorf("settings: %s: %s is not a string, number, boolean or list", path, k)
		}
	}
	return m, nil
}

// writeFile writes the settings atomically (a temporary file renamed over
// the old one), readable by the user only: it may hold an API key.
func writeFile(path string, m map[string]string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".settings-*.json")
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("settings: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("settings: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("settings: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// Get is a setting's value and where it came from; the file is re-read
// first if it changed. An unknown key is the empty default.
func (s *Settings) Get(key string) (string, Source) {
	if v, ok := s.env[key]; ok {
		return v, FromEnv
	}
	s.mu.Lock()
	s.refresh()
	v, ok := s.file[key]
	s.mu.Unlock()
	if ok {
		return v, FromFile
	}
	d, _ := Lookup(key)
	return d.Default, FromDefault
}

// Err is why the file could not be read when it was last looked at, or nil.
func (s *Settings) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	return s.err
}

// Set checks value and writes it to the file, keeping every other entry.
func (s *Settings) Set(key, value string) error {
	d, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("unknown setting %q (see mnemo config list)", key)
	}
	if err := d.Check(value); err != nil {
		return err
	}
	if s.path == "" {
		return errors.New("settings: no settings file")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := readFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		m, err = map[string]string{}, nil
	}
	if err != nil {
		return err
	}
	m[key] = strings.TrimSpace(value)
	if err := writeFile(s.path, m); err != nil {
		return err
	}
	s.seen = nil
	s.refresh()
	return s.err
}

// InEnv reports whether the environment sets key (and so overrides the file).
func (s *Settings) InEnv(key string) bool {
	_, ok := s.env[key]
	return ok
}

// Entry is one setting's resolved value.
type Entry struct {
	Def
	Value  string
	Source Source
}

// List is every setting with its value and source, in Defs order, then any
// unknown MNEMO_* key the file holds (a typo the user should see).
func (s *Settings) List() (known []Entry, unknownKeys []string) {
	for _, d := range Defs {
		v, src := s.Get(d.Key)
		known = append(known, Entry{Def: d, Value: v, Source: src})
	}
	s.mu.Lock()
	for k := range s.file {
		if _, ok := Lookup(k); !ok {
			unknownKeys = append(unknownKeys, k)
		}
	}
	s.mu.Unlock()
	return known, unknownKeys
}

// Export sets, in this process's environment, each setting the file gives a
// value other than its default and the environment does not set, so that code
// reading MNEMO_* variables at start (flags' defaults, the LLM choice) sees
// the file. A flag still wins: it is parsed after. Invalid file values are
// returned as one error naming each.
func (s *Settings) Export() error {
	var errs []error
	for _, d := range Defs {
		v, src := s.Get(d.Key)
		if src != FromFile || v == d.Default {
			continue
		}
		if err := d.Check(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.path, err))
			continue
		}
		if err := os.Setenv(d.Key, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
