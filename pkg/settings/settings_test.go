package settings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readJSON(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestOpenSeedsEveryDefault(t *testing.T) {
	home := t.TempDir()
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, Path(home))
	if len(m) != len(Defs) {
		t.Fatalf("seeded %d settings, want %d", len(m), len(Defs))
	}
	for _, d := range Defs {
		if v, ok := m[d.Key]; !ok || v != d.Default {
			t.Errorf("%s seeded as %q (present %v), want %q", d.Key, v, ok, d.Default)
		}
		if err := d.Check(d.Default); err != nil && d.Kind != String {
			t.Errorf("default of %s is invalid: %v", d.Key, err)
		}
	}
	if m["MNEMO_LLM_PROVIDER"] != "auto" {
		t.Errorf("compressor seeded as %q, want auto", m["MNEMO_LLM_PROVIDER"])
	}
	if fi, _ := os.Stat(Path(home)); fi.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode %v, want 0600", fi.Mode().Perm())
	}
	if v, src := s.Get(ContextObservations); v != "50" || src != FromFile {
		t.Errorf("Get = %q from %s, want 50 from file", v, src)
	}
}

func TestOpenKeepsUserValuesAndAddsMissing(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(Path(home), []byte(`{"MNEMO_CONTEXT_OBSERVATIONS": 7, "MNEMO_CONTEXT_SHOW_LAST_MESSAGE": true, "MNEMO_TYPO": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, Path(home))
	if m[ContextObservations] != "7" || m[ContextShowLastMessage] != "true" || m["MNEMO_TYPO"] != "x" {
		t.Errorf("user values not kept: %v", m)
	}
	if m[ContextSessionCount] != "10" {
		t.Errorf("missing setting not added: %v", m)
	}
	_, unknown := s.List()
	if len(unknown) != 1 || unknown[0] != "MNEMO_TYPO" {
		t.Errorf("unknown keys %v, want [MNEMO_TYPO]", unknown)
	}
}

func TestPrecedenceEnvOverFileOverDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv(ContextSessionCount, "3")
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ContextSessionCount, "4"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ContextObservations, "5"); err != nil {
		t.Fatal(err)
	}
	if v, src := s.Get(ContextSessionCount); v != "3" || src != FromEnv {
		t.Errorf("env-set key = %q from %s, want 3 from env", v, src)
	}
	if v, src := s.Get(ContextObservations); v != "5" || src != FromFile {
		t.Errorf("file-set key = %q from %s, want 5 from file", v, src)
	}
	os.Remove(Path(home))
	if v, src := s.Get(ContextObservations); v != "50" || src != FromDefault {
		t.Errorf("after removing the file = %q from %s, want 50 from default", v, src)
	}
}

func TestFileChangesAreSeenWithoutReopening(t *testing.T) {
	home := t.TempDir()
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Context()
	if err != nil || c.Observations != 50 || c.FullCount != 0 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	// An editor writing the file in place, as a user would.
	m := readJSON(t, Path(home))
	m[ContextObservations], m[ContextFullCount], m[ContextObservationTypes] = "2", "1", "bugfix, decision"
	b, _ := json.Marshal(m)
	if err := os.WriteFile(Path(home), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = s.Context()
	if err != nil {
		t.Fatal(err)
	}
	if c.Observations != 2 || c.FullCount != 1 || strings.Join(c.Types, "|") != "bugfix|decision" {
		t.Errorf("after the edit: %+v", c)
	}
	// A broken file keeps the last good values and says why.
	if err := os.WriteFile(Path(home), []byte(`{"MNEMO_CONTEXT_OBSERVATIONS": `), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = s.Context()
	if err == nil || c.Observations != 2 {
		t.Errorf("broken file: %+v, %v; want the last good values and an error", c, err)
	}
}

// Load (the hook's) reads the file once: a process of milliseconds need not
// look at it again at every setting it reads.
func TestLoadReadsTheFileOnce(t *testing.T) {
	home := t.TempDir()
	if _, err := Open(home); err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, Path(home))
	m[ContextObservations] = "7"
	b, _ := json.Marshal(m)
	if err := os.WriteFile(Path(home), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := Load(home)
	if v, src := s.Get(ContextObservations); v != "7" || src != FromFile {
		t.Fatalf("loaded %q from %v, want 7 from the file", v, src)
	}
	if err := os.Remove(Path(home)); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ContextObservations); v != "7" || s.Err() != nil {
		t.Fatalf("after the file went: %q, %v; want the value read at Load", v, s.Err())
	}
}

func TestInvalidValuesFallBackAndAreNamed(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(Path(home), []byte(`{"MNEMO_CONTEXT_OBSERVATIONS": "lots", "MNEMO_CONTEXT_FULL_FIELD": "everything"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Context()
	if c.Observations != 50 || c.FullField != "narrative" {
		t.Errorf("invalid values not replaced by defaults: %+v", c)
	}
	if err == nil || !strings.Contains(err.Error(), ContextObservations) || !strings.Contains(err.Error(), ContextFullField) {
		t.Errorf("error %v does not name both settings", err)
	}
	if err := s.Set(ContextFullCount, "-1"); err == nil {
		t.Error("Set accepted a negative count")
	}
	if err := s.Set("MNEMO_NOPE", "1"); err == nil {
		t.Error("Set accepted an unknown key")
	}
}

func TestExportFillsOnlyUnsetNonDefaultVariables(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MNEMO_LOG_LEVEL", "warn")
	for _, k := range []string{"MNEMO_NATS_PORT", "MNEMO_LLM_PROVIDER", "MNEMO_ADDR"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"MNEMO_LOG_LEVEL": "debug", "MNEMO_NATS_PORT": "4333"} {
		if err := s.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Export(); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv("MNEMO_LOG_LEVEL"); v != "warn" {
		t.Errorf("the environment's value was replaced: %q", v)
	}
	if v := os.Getenv("MNEMO_NATS_PORT"); v != "4333" {
		t.Errorf("file value not exported: %q", v)
	}
	if _, ok := os.LookupEnv("MNEMO_LLM_PROVIDER"); ok {
		t.Error("the default auto was exported; the automatic choice must see no variable")
	}
	if _, src := s.Get("MNEMO_NATS_PORT"); src != FromFile {
		t.Errorf("after Export the source is %s, want file", src)
	}
	if filepath.Base(s.Path()) != FileName {
		t.Errorf("path %s", s.Path())
	}
}
