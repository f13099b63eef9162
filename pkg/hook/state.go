package hook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// State is what one session's hook processes must know about each other: the
// last prompt (to send a prompt repeated within Window once) and the prompts
// that were entirely private (so that their turn's tool uses and stop carry no
// content). Each hook is its own short-lived process, so the state lives in a
// small file per session under Dir ($MNEMO_HOME/hook-state), read and written
// under flock(2). Reading costs one open and a read of a few hundred bytes.
type State struct {
	// Dir holds one <session_id>.json file per session.
	Dir string
	// Window is the prompt dedupe window; zero → 10 s.
	Window time.Duration
	// MaxAge is how long an untouched session file is kept; zero → 7 days.
	MaxAge time.Duration
}

// NewState returns the state kept in dir with the default window and age.
func NewState(dir string) *State { return &State{Dir: dir} }

// maxPrivate bounds the private prompt IDs kept per session.
const maxPrivate = 32

// sessionState is the JSON of one session's file.
type sessionState struct {
	// PromptSHA is a hash of the last prompt (never the text itself).
	PromptSHA string `json:"prompt_sha,omitempty"`
	// PromptAt is the last prompt's hook time, Unix milliseconds.
	PromptAt int64 `json:"prompt_at,omitempty"`
	// Private lists the prompt IDs of entirely private prompts, newest last.
	Private []string `json:"private,omitempty"`
}

func (s *State) window() time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return 10 * time.Second
}

func (s *State) maxAge() time.Duration {
	if s.MaxAge > 0 {
		return s.MaxAge
	}
	return 7 * 24 * time.Hour
}

func (s *State) file(sessionID string) (string, error) {
	if !event.ValidSessionID(sessionID) {
		return "", fmt.Errorf("hook state: invalid session ID %q", sessionID)
	}
	return filepath.Join(s.Dir, sessionID+".json"), nil
}

// Prompt records a user prompt of the session and reports whether it repeats
// the previous prompt within the window (then it should not be sent again).
// An entirely private prompt's promptID is remembered for PrivateTurn.
func (s *State) Prompt(sessionID, promptID, prompt string, at time.Time) (dup bool, err error) {
	name, err := s.file(sessionID)
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(s.Dir, 0o700); err == nil {
			f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		}
	}
	if err != nil {
		return false, fmt.Errorf("hook state: %w", err)
	}
	defer f.Close()
	if err := lockFile(f, true); err != nil {
		return false, fmt.Errorf("hook state: lock: %w", err)
	}
	st := readState(f)
	sum := sha256.Sum256([]byte(prompt))
	sha := hex.EncodeToString(sum[:16])
	ms := at.UnixMilli()
	// Within the window either way: hooks run at once (one installed twice)
	// take their time before the lock, so the one that records first may
	// hold the later time.
	if d := ms - st.PromptAt; st.PromptSHA == sha && d > -s.window().Milliseconds() && d < s.window().Milliseconds() {
		return true, nil
	}
	st.PromptSHA, st.PromptAt = sha, ms
	private := promptID != "" && event.IsEntirelyPrivate(prompt)
	if private {
		st.Private = append(st.Private, promptID)
		if len(st.Private) > maxPrivate {
			st.Private = st.Private[len(st.Private)-maxPrivate:]
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("hook state: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		return false, fmt.Errorf("hook state: %w", err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return false, fmt.Errorf("hook state: %w", err)
	}
	if private {
		// A lost private marker would let the turn's content through.
		if err := f.Sync(); err != nil {
			return false, fmt.Errorf("hook state: %w", err)
		}
	}
	return false, nil
}

// PrivateTurn reports whether promptID belongs to an entirely private prompt
// of the session. A missing or unreadable file means no.
func (s *State) PrivateTurn(sessionID, promptID string) bool {
	if promptID == "" {
		return false
	}
	name, err := s.file(sessionID)
	if err != nil {
		return false
	}
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return false
	}
	for _, id := range readState(f).Private {
		if id == promptID {
			return true
		}
	}
	return false
}

// Forget removes the session's file (at session end).
func (s *State) Forget(sessionID string) {
	if name, err := s.file(sessionID); err == nil {
		_ = os.Remove(name)
	}
}

// Sweep removes session files untouched for MaxAge (sessions that never got
// a SessionEnd). The hook calls it at session start, so it runs rarely.
func (s *State) Sweep(now time.Time) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > s.maxAge() {
			_ = os.Remove(filepath.Join(s.Dir, de.Name()))
		}
	}
}

func readState(f *os.File) sessionState {
	var st sessionState
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err == nil && len(b) > 0 {
		_ = json.Unmarshal(b, &st) // a damaged file is an empty state
	}
	return st
}
