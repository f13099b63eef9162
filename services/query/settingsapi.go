package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/mnemo-dev/mnemo/pkg/httpapi"
	"github.com/mnemo-dev/mnemo/pkg/settings"
)

// Compressor is what the viewer shows of the compressor in use: its name
// and why it was chosen, and its daily token budget. Only `mnemo run` knows
// it; a cluster's query service leaves it empty.
type Compressor struct {
	Choice string `json:"choice"`
	Budget string `json:"budget"`
}

// SettingView is one setting as GET /v1/settings shows it: its value and
// where it comes from, and whether the viewer may change it (and if not,
// why: the variable that fixes it).
type SettingView struct {
	Key      string          `json:"key"`
	Value    string          `json:"value"`
	Default  string          `json:"default"`
	Source   settings.Source `json:"source"`
	Help     string          `json:"help"`
	Kind     string          `json:"kind"`
	Values   []string        `json:"values,omitempty"`
	Min      int             `json:"min"`
	Applies  string          `json:"applies"`
	Context  bool            `json:"context"`
	Secret   bool            `json:"secret,omitempty"`
	Editable bool            `json:"editable"`
	// FixedBy names why the viewer cannot change it: the variable that
	// sets it, or that this server has no settings file.
	FixedBy string `json:"fixed_by,omitempty"`
}

// SettingsView is GET /v1/settings.
type SettingsView struct {
	File       string        `json:"file"` // "" when the server reads its environment only
	Settings   []SettingView `json:"settings"`
	Unknown    []string      `json:"unknown_keys,omitempty"`
	FileError  string        `json:"file_error,omitempty"`
	Compressor *Compressor   `json:"compressor,omitempty"`
}

var kindNames = map[settings.Kind]string{settings.String: "string", settings.Int: "int", settings.Bool: "bool",
	settings.Duration: "duration", settings.List: "list", settings.Enum: "enum"}

// maxSettingsBody bounds PUT /v1/settings.
const maxSettingsBody = 64 << 10

func (s *Server) settingsView() SettingsView {
	known, unknown := s.settings.List()
	sort.Strings(unknown)
	v := SettingsView{File: s.settings.Path(), Unknown: unknown, Settings: make([]SettingView, 0, len(known))}
	if err := s.settings.Err(); err != nil {
		v.FileError = err.Error()
	}
	if s.d.Compressor != (Compressor{}) {
		c := s.d.Compressor
		v.Compressor = &c
	}
	for _, e := range known {
		sv := SettingView{Key: e.Key, Value: e.Value, Default: e.Default, Source: e.Source, Help: e.Help,
			Kind: kindNames[e.Kind], Values: e.Values, Min: e.Min, Applies: e.Applies.String(),
			Context: e.Applies == settings.NextSession || e.Key == settings.ExcludedProjects, Secret: e.Secret}
		if e.Secret && sv.Value != "" {
			sv.Value = "(set)"
		}
		sv.FixedBy = s.fixedBy(e.Def)
		sv.Editable = sv.FixedBy == ""
		v.Settings = append(v.Settings, sv)
	}
	return v
}

// fixedBy says why the viewer cannot change d, or "".
func (s *Server) fixedBy(d settings.Def) string {
	switch {
	case s.settings.InEnv(d.Key):
		return "the environment variable " + d.Key
	case s.settings.Path() == "":
		return "this server's environment (no settings file: set " + d.Key + " where it is deployed)"
	case d.Secret:
		return "its secrecy: set it with mnemo config set " + d.Key
	}
	return ""
}

func (s *Server) handleGetSettings(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, s.settingsView())
}

// handlePutSettings writes settings to the file of the process serving
// them: a JSON object of key → value. Every change is checked before any
// is written; a setting a variable fixes is refused naming the variable,
// never silently shadowed.
func (s *Server) handlePutSettings(w http.ResponseWriter, r *http.Request) {
	if !httpapi.JSONContent(r) {
		httpapi.WriteError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", "Content-Type")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		httpapi.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d KiB", maxSettingsBody>>10), "body")
		return
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		httpapi.WriteError(w, http.StatusBadRequest, "want a JSON object of settings (key: value): "+err.Error(), "body")
		return
	}
	if len(raw) == 0 {
		httpapi.WriteError(w, http.StatusBadRequest, "no settings given: want a JSON object of settings (key: value)", "body")
		return
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := map[string]string{}
	for _, k := range keys {
		d, ok := settings.Lookup(k)
		if !ok {
			httpapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("unknown setting %q", k), k)
			return
		}
		if why := s.fixedBy(d); why != "" {
			httpapi.WriteError(w, http.StatusConflict, fmt.Sprintf("%s is fixed by %s: the viewer cannot change it", k, why), k)
			return
		}
		v, err := settingText(raw[k])
		if err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, k+": "+err.Error(), k)
			return
		}
		if err := d.Check(v); err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, err.Error(), k)
			return
		}
		values[k] = v
	}
	for _, k := range keys {
		if err := s.settings.Set(k, values[k]); err != nil {
			s.log.Error("write settings", "file", s.settings.Path(), "key", k, "err", err)
			httpapi.WriteError(w, http.StatusInternalServerError, "could not write the settings file: "+err.Error(), k)
			return
		}
	}
	s.log.Info("settings changed from the viewer", "file", s.settings.Path(), "keys", strings.Join(keys, ","))
	httpapi.WriteJSON(w, http.StatusOK, s.settingsView())
}

// settingText reads a setting's JSON value: a string, number or boolean, as
// the settings file takes them.
func settingText(m json.RawMessage) (string, error) {
	var x any
	if err := json.Unmarshal(m, &x); err != nil {
		return "", err
	}
	switch x := x.(type) {
	case string:
		return x, nil
	case float64, bool:
		return strings.TrimSpace(string(m)), nil
	}
	return "", errors.New("want a string, number or boolean")
}
