package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Offline is the extractive compressor: it makes plain observations from the
// tool events themselves, with no LLM, instantly and for free.
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

// Summarize builds the summary from the prompt, the files the session touched
// and the agent's last message.
func (Offline) Summarize(ctx context.Context, r SummarizeRequest) (SummarizeResult, error) {
	if err := ctx.Err(); err != nil {
		return SummarizeResult{}, err
	}
	read, modified := map[string]bool{}, map[string]bool{}
	var titles []string
	for _, o := range r.Observations {
		for _, f := range o.FilesRead {
			read[f] = true
		}
		for _, f := range o.FilesModified {
			modified[f] = true
		}
		titles = append(titles, o.Title)
	}
	s := &Summary{
		Request:   clip(firstNonEmpty(r.Session.UserPrompt, r.LastUserMessage), 1000),
		Completed: clip(r.LastAssistantMessage, 2000),
	}
	if len(read) > 0 {
		s.Investigated = "Read " + strings.Join(sortedKeys(read, 20), ", ")
	}
	if len(modified) > 0 {
		s.Learned = "Changed " + strings.Join(sortedKeys(modified, 20), ", ")
	}
	if n := len(titles); n > 0 {
		if n > 10 {
			titles = titles[n-10:]
		}
		s.Notes = fmt.Sprintf("%d observations; latest: %s", n, strings.Join(titles, "; "))
	}
	return SummarizeResult{Summary: s, State: r.State}, nil
}

type toolInput struct {
	FilePath     string `json:"file_path"`
	Path         string `json:"path"`
	NotebookPath string `json:"notebook_path"`
	Command      string `json:"command"`
	Description  string `json:"description"`
	Pattern      string `json:"pattern"`
	Query        string `json:"query"`
	URL          string `json:"url"`
	Prompt       string `json:"prompt"`
	Subject      string `json:"subject"`
}

func extract(tu ToolUse) Observation {
	var in toolInput
	_ = json.Unmarshal(tu.Input, &in) // a tool input need not be an object
	file := firstNonEmpty(in.FilePath, in.NotebookPath)
	o := Observation{SourceEventIDs: []string{tu.EventID}}
	switch tu.Tool {
	case "Read":
		o.Type, o.Title = "discovery", "Read "+short(file)
		o.FilesRead = nonEmpty(file)
		o.Concepts = []string{"how-it-works"}
	case "Edit", "MultiEdit":
		o.Type, o.Title = "change", "Edited "+short(file)
		o.FilesModified = nonEmpty(file)
		o.Concepts = []string{"what-changed"}
	case "Write":
		o.Type, o.Title = "change", "Wrote "+short(file)
		o.FilesModified = nonEmpty(file)
		o.Concepts = []string{"what-changed"}
	case "NotebookEdit":
		o.Type, o.Title = "change", "Edited notebook "+short(file)
		o.FilesModified = nonEmpty(file)
		o.Concepts = []string{"what-changed"}
	case "Bash":
		o.Type, o.Title = "discovery", "Ran "+clip(oneLine(in.Command), 80)
		o.Subtitle = clip(in.Description, 200)
		o.Concepts = []string{"how-it-works"}
	case "Grep", "Glob":
		o.Type, o.Title = "discovery", "Searched for "+clip(oneLine(firstNonEmpty(in.Pattern, in.Query)), 80)
		if in.Path != "" {
			o.Subtitle = "in " + in.Path
		}
		o.Concepts = []string{"how-it-works"}
	case "WebFetch", "WebSearch":
		o.Type, o.Title = "discovery", "Looked up "+clip(oneLine(firstNonEmpty(in.URL, in.Query)), 80)
		o.Concepts = []string{"how-it-works"}
	default:
		o.Type, o.Title = "discovery", "Used "+tu.Tool
		if d := firstNonEmpty(in.Description, in.Subject, in.Prompt); d != "" {
			o.Subtitle = clip(oneLine(d), 200)
		}
		o.Concepts = []string{"how-it-works"}
	}
	if strings.TrimSpace(o.Title) == "" || strings.HasSuffix(o.Title, " ") {
		o.Title = strings.TrimSpace(o.Title + " " + tu.Tool)
	}
	if tu.Error != "" {
		o.Title = "Failed: " + o.Title
		o.Facts = append(o.Facts, clip(oneLine(tu.Error), 300))
		o.Concepts = []string{"problem-solution"}
	}
	if out := responseText(tu.Response); out != "" {
		o.Narrative = clip(out, 600)
	}
	return o
}

// responseText pulls the human-readable part out of a structured response.
func responseText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	for _, k := range []string{"stdout", "content", "output", "result"} {
		if s, ok := v[k].(string); ok && s != "" {
			return s
		}
	}
	if f, ok := v["file"].(map[string]any); ok {
		if s, ok := f["content"].(string); ok {
			return s
		}
	}
	return ""
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

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
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
