package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mnemo-dev/mnemo/pkg/event"
)

// Offline is the extractive compressor: with no LLM, instantly and for free,
// it titles each tool use by what happened (a command and its outcome, a
// file and what was touched in it, a search and its hits) and summarizes a
// session from its prompt, files, commands and last message, or not at all
// when there is nothing to say.
type Offline struct{}

// Name implements Compressor.
func (Offline) Name() string { return "offline" }

// Observe makes one observation per tool use.
func (Offline) Observe(ctx context.Context, r ObserveRequest) (ObserveResult, error) {
	var res ObserveResult
	for _, tu := range r.ToolUses {
		if err := ctx.Err(); err != nil {
			return ObserveResult{}, err
		}
		res.Observations = append(res.Observations, extract(tu))
	}
	res.State = r.State
	return res, nil
}

type toolInput struct {
	FilePath     string `json:"file_path"`
	Path         string `json:"path"`
	NotebookPath string `json:"notebook_path"`
	Command      string `json:"command"`
	Description  string `json:"description"`
	Pattern      string `json:"pattern"`
	Glob         string `json:"glob"`
	Query        string `json:"query"`
	URL          string `json:"url"`
	Prompt       string `json:"prompt"`
	Subject      string `json:"subject"`
	SubagentType string `json:"subagent_type"`
	TaskID       string `json:"taskId"`
	Name         string `json:"name"`
	Action       string `json:"action"`
}

// extract makes the observation of one tool use from what happened: the
// command and its outcome, the file and what was touched in it, the search
// and its hits. A narrative explains and never copies a file's lines; at
// most a few lines of a command's output stand in it as evidence.
func extract(tu ToolUse) Observation {
	var in toolInput
	_ = json.Unmarshal(tu.Input, &in) // a tool input need not be an object
	file := firstNonEmpty(in.FilePath, in.NotebookPath)
	var o Observation
	switch tu.Tool {
	case "Read", "NotebookRead":
		o = observeRead(tu, file)
	case "Edit", "MultiEdit", "NotebookEdit":
		var ei editInput
		_ = json.Unmarshal(tu.Input, &ei)
		o = observeEdit(tu, tu.Tool, file, ei)
	case "Write":
		var ei editInput
		_ = json.Unmarshal(tu.Input, &ei)
		o = observeWrite(tu, file, ei)
	case "Bash", "BashOutput", "PowerShell":
		o = observeCommand(tu, in)
	case "Grep", "Glob":
		o = observeSearch(tu, tu.Tool, in)
	case "Agent", "Task":
		o = observeAgent(tu, in)
	default:
		o = observeOther(tu, in)
	}
	o.SourceEventIDs = []string{tu.EventID}
	o.Title = strings.TrimSpace(o.Title)
	if o.Title == "" {
		o.Title = "Used " + tu.Tool
	}
	return o
}

func short(path string) string {
	if path == "" {
		return ""
	}
	dir, base := filepath.Split(path)
	parent := filepath.Base(dir)
	if parent == "." || parent == "/" || parent == "" {
		return base
	}
	return parent + "/" + base
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	return strings.TrimSpace(s)
}

// clip cuts s to at most n bytes on a rune boundary and marks the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return event.ClipBytes(s, n) + "…"
}

func sortedKeys(m map[string]bool, max int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("and %d more", len(out)-max))
	}
	return out
}
