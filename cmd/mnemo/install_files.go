// The files `mnemo install` reads and writes: settings files (written
// atomically, their mode kept) and the install record under Mnemo's home.

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// installRecord remembers, per changed file, which containers install
// created, so that uninstall removes those and nothing the user had (an
// empty "hooks" or "mcpServers" object stays when it was there before).
type installRecord struct {
	Files map[string]*fileRecord `json:"files"`
}

type fileRecord struct {
	CreatedFile bool     `json:"created_file,omitempty"`
	Created     []string `json:"created,omitempty"`
	// ClaudeMem is what --replace-claude-mem turned off in the file.
	ClaudeMem *claudeMemRecord `json:"claude_mem,omitempty"`
}

func recordPath(home string) string { return filepath.Join(home, "install", "claude-code.json") }

func loadInstallRecord(home string) *installRecord {
	r := &installRecord{Files: map[string]*fileRecord{}}
	if b, err := os.ReadFile(recordPath(home)); err == nil {
		_ = json.Unmarshal(b, r)
		if r.Files == nil {
			r.Files = map[string]*fileRecord{}
		}
	}
	return r
}

func (r *installRecord) save(home string) error {
	if err := os.MkdirAll(filepath.Dir(recordPath(home)), 0o700); err != nil {
		return fmt.Errorf("install record: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("install record: %w", err)
	}
	return writeFileAtomic(recordPath(home), append(b, '\n'), 0o600)
}

// readSettings reads a JSON settings file; a missing (or empty) file reads as
// an empty object.
func readSettings(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []byte("{}\n"), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}\n"), true, nil
	}
	return b, true, nil
}

// writeSettings replaces path with b, keeping a backup of the previous
// content in <path>.mnemo.bak and the file's mode.
func writeSettings(path string, old, b []byte, existed bool) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if existed {
		if err := writeFileAtomic(path+".mnemo.bak", old, mode); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return writeFileAtomic(path, b, mode)
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// (Claude Code) never sees half a file.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// claudeMem is what install --replace-claude-mem turned off in the file, or nil.
func (fr *fileRecord) claudeMem() *claudeMemRecord {
	if fr == nil {
		return nil
	}
	return fr.ClaudeMem
}
