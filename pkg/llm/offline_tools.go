package llm

import (
	"encoding/json"
	"fmt"
	"strings"
)

// observeSearch covers Grep and Glob: the pattern, where, and how many hits.
func observeSearch(tu ToolUse, tool string, in toolInput) Observation {
	pattern := clip(oneLine(firstNonEmpty(in.Pattern, in.Query)), 80)
	o := Observation{Type: "discovery", Concepts: []string{"how-it-works"}}
	var r struct {
		Mode       string   `json:"mode"`
		NumFiles   *int     `json:"numFiles"`
		NumLines   *int     `json:"numLines"`
		NumMatches *int     `json:"numMatches"`
		Filenames  []string `json:"filenames"`
		Truncated  bool     `json:"truncated"`
	}
	_ = json.Unmarshal(tu.Response, &r)
	hits := ""
	switch {
	case r.NumMatches != nil:
		hits = plural(*r.NumMatches, "match", "matches")
		if r.NumFiles != nil {
			hits += " in " + plural(*r.NumFiles, "file", "files")
		}
	case r.Mode == "content" && r.NumLines != nil:
		hits = plural(*r.NumLines, "matching line", "matching lines")
	case r.NumFiles != nil:
		hits = plural(*r.NumFiles, "file", "files")
	case r.Filenames != nil:
		hits = plural(len(r.Filenames), "file", "files")
	}
	if r.Truncated && hits != "" {
		hits += " (list cut)"
	}
	where := firstNonEmpty(in.Path, in.Glob)
	verb := "Searched for"
	if tool == "Glob" {
		verb = "Listed files matching"
	}
	o.Title = fmt.Sprintf("%s %q", verb, pattern)
	if where != "" {
		o.Title += " in " + short(where)
	}
	if hits == "" && tu.Error == "" {
		hits = "result not structured"
	}
	if hits != "" {
		o.Title += ": " + hits
	}
	o.Facts = []string{factSearch + pattern + " → " + hits}
	n := fmt.Sprintf("%s %q", verb, pattern)
	if where != "" {
		n += " in " + where
	}
	n += ": " + hits
	if len(r.Filenames) > 0 {
		var names []string
		for _, f := range r.Filenames {
			names = append(names, short(f))
		}
		n += "; files: " + listNames(names, 5)
	}
	o.Narrative = n + "."
	if tu.Error != "" {
		failed(&o, tu.Error)
	}
	return o
}

// agentResponse is Claude Code's structured Agent (Task) result.
type agentResponse struct {
	Status            string `json:"status"`
	AgentType         string `json:"agentType"`
	TotalToolUseCount int    `json:"totalToolUseCount"`
	TotalDurationMs   int    `json:"totalDurationMs"`
	TotalTokens       int    `json:"totalTokens"`
	Content           []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

// observeAgent names a subagent call by its description and outcome.
func observeAgent(tu ToolUse, in toolInput) Observation {
	var r agentResponse
	_ = json.Unmarshal(tu.Response, &r)
	kind := firstNonEmpty(in.SubagentType, r.AgentType, "general-purpose")
	desc := clip(oneLine(firstNonEmpty(in.Description, in.Prompt)), 100)
	o := Observation{Type: "discovery", Concepts: []string{"how-it-works"}}
	outcome := firstNonEmpty(r.Status, "finished")
	if tu.Error != "" {
		outcome = "failed"
	}
	detail := outcome
	if r.TotalToolUseCount > 0 || r.Status != "" {
		detail += ", " + plural(r.TotalToolUseCount, "tool use", "tool uses")
	}
	o.Title = fmt.Sprintf("Subagent %s: %s (%s)", kind, desc, detail)
	o.Facts = []string{factAgent + desc + ": " + outcome}
	n := fmt.Sprintf("Delegated %q to a %s subagent: %s", desc, kind, outcome)
	if r.TotalToolUseCount > 0 || r.TotalTokens > 0 {
		n += fmt.Sprintf(" after %s and %d tokens", plural(r.TotalToolUseCount, "tool use", "tool uses"), r.TotalTokens)
	}
	n += "."
	var report []string
	for _, c := range r.Content {
		if c.Type == "text" {
			report = append(report, nonBlankLines(c.Text)...)
		}
	}
	if len(report) > 0 {
		n += "\n" + sentence("Its report"+evidence(report[:min(len(report), 2)]))
	}
	o.Narrative = n
	if tu.Error != "" {
		failed(&o, tu.Error)
	}
	return o
}

// observeOther covers the remaining tools: tasks, worktrees, the web, MCP
// tools and any tool this compressor does not know, named by what its input
// and response say.
func observeOther(tu ToolUse, in toolInput) Observation {
	o := Observation{Type: "discovery", Concepts: []string{"how-it-works"}}
	var r map[string]any
	_ = json.Unmarshal(tu.Response, &r)
	str := func(k string) string { s, _ := r[k].(string); return s }
	switch tu.Tool {
	case "TaskCreate":
		id := ""
		if t, ok := r["task"].(map[string]any); ok {
			id, _ = t["id"].(string)
		}
		o.Title = fmt.Sprintf("Task #%s created: %s", firstNonEmpty(id, "?"), clip(oneLine(in.Subject), 100))
		o.Narrative = fmt.Sprintf("Created task #%s %q: %s.", firstNonEmpty(id, "?"), clip(oneLine(in.Subject), 100), clip(oneLine(in.Description), 200))
	case "TaskUpdate":
		change := ""
		if sc, ok := r["statusChange"].(map[string]any); ok {
			from, _ := sc["from"].(string)
			to, _ := sc["to"].(string)
			change = from + " → " + to
		}
		o.Title = fmt.Sprintf("Task #%s updated", firstNonEmpty(in.TaskID, str("taskId"), "?"))
		if change != "" {
			o.Title += ": " + change
		}
		o.Narrative = o.Title + "."
	case "TodoWrite":
		var todos struct {
			Todos []struct{ Status string } `json:"todos"`
		}
		_ = json.Unmarshal(tu.Input, &todos)
		counts := map[string]int{}
		for _, t := range todos.Todos {
			counts[t.Status]++
		}
		o.Title = fmt.Sprintf("Todo list: %d pending, %d in progress, %d completed", counts["pending"], counts["in_progress"], counts["completed"])
		o.Narrative = o.Title + "."
	case "EnterWorktree":
		o.Title = "Entered worktree " + firstNonEmpty(in.Name, short(str("worktreePath")))
		o.Narrative = fmt.Sprintf("Moved the session into the worktree %s.", firstNonEmpty(str("worktreePath"), in.Name))
	case "ExitWorktree":
		o.Title = "Left worktree " + short(str("worktreePath"))
		if in.Action != "" {
			o.Title += " (" + in.Action + ")"
		}
		o.Narrative = fmt.Sprintf("Left the worktree %s (%s), back in %s.", str("worktreePath"), firstNonEmpty(in.Action, "keep"), str("originalCwd"))
	case "WebFetch":
		code, _ := r["code"].(float64)
		size, _ := r["bytes"].(float64)
		o.Title = fmt.Sprintf("Fetched %s: HTTP %d, %s", clip(in.URL, 100), int(code), bytesText(int(size)))
		o.Narrative = fmt.Sprintf("Fetched %s (HTTP %d, %s) to answer: %s.", in.URL, int(code), bytesText(int(size)), clip(oneLine(in.Prompt), 200))
	case "WebSearch":
		o.Title = fmt.Sprintf("Searched the web for %q", clip(oneLine(in.Query), 100))
		o.Narrative = o.Title + "."
	default:
		o = observeUnknown(tu, in)
	}
	o.Facts = append(o.Facts, "tool: "+tu.Tool)
	if tu.Error != "" {
		failed(&o, tu.Error)
	}
	return o
}

// observeUnknown names an MCP or unknown tool by its server and name, its
// description or subject, and at most two lines of its answer.
func observeUnknown(tu ToolUse, in toolInput) Observation {
	o := Observation{Type: "discovery", Concepts: []string{"how-it-works"}}
	name := tu.Tool
	if parts := strings.SplitN(tu.Tool, "__", 3); len(parts) == 3 && parts[0] == "mcp" {
		name = parts[2] + " (MCP server " + parts[1] + ")"
	}
	o.Title = "Called " + name
	if d := firstNonEmpty(in.Description, in.Subject, in.Query, in.Prompt); d != "" {
		o.Title += ": " + clip(oneLine(d), 100)
	}
	answer := nonBlankLines(responseString(tu.Response))
	if len(answer) == 0 {
		if s, ok := shortFields(tu.Response); ok {
			answer = []string{s}
		}
	}
	n := "Called " + name
	if len(answer) > 0 {
		if !strings.Contains(o.Title, ": ") {
			o.Title += ": " + clip(answer[0], 100)
		}
		n += "; it answered" + evidence(answer[:min(len(answer), 2)])
	}
	o.Narrative = sentence(n)
	return o
}

// shortFields renders a flat object's short string, number and bool fields
// as "k=v" pairs, the way a tool reports a status.
func shortFields(raw json.RawMessage) (string, bool) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return "", false
	}
	var parts []string
	for _, k := range sortedKeys(boolKeys(m), 6) {
		switch v := m[k].(type) {
		case string:
			if len(v) <= 60 && !strings.Contains(v, "\n") {
				parts = append(parts, k+"="+v)
			}
		case float64, bool:
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " "), len(parts) > 0
}

func boolKeys(m map[string]any) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// failed marks an observation as a failure with the error's first line.
func failed(o *Observation, errText string) {
	msg := clip(oneLine(firstErrorLine(errText)), 160)
	o.Title += " — failed: " + msg
	o.Narrative += "\nIt failed: " + msg
	o.Facts = append(o.Facts, factError+msg)
	o.Concepts = []string{"problem-solution"}
}
