package query_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/settings"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/services/query"
)

var update = flag.Bool("update", false, "rewrite the golden files of the context format")

// golden compares got with testdata/context/<name>.golden (-update writes it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "context", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

// at is a UTC instant of the fixtures.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, time.March, day, hour, minute, 0, 0, time.UTC)
}

func TestContextGolden(t *testing.T) {
	obs := func(id int64, when time.Time, typ, title, narrative string, discovery int64) store.Observation {
		return store.Observation{ID: id, SessionID: "s", Project: "acme-api", Type: typ, Title: title, Narrative: narrative,
			Facts: []string{"fact of " + title}, AcceptedAt: when, DiscoveryTokens: discovery}
	}
	// One session: 16:05–16:20 UTC on March 10 (morning in Los Angeles,
	// after midnight on March 11 in Tokyo).
	oneSession := query.ContextView{
		Project: "acme-api",
		Observations: []store.Observation{
			obs(3, at(10, 16, 20), store.TypeBugfix, "Fixed the token refresh race", "The refresh ran twice; a mutex now guards it.", 0),
			obs(2, at(10, 16, 20), store.TypeChange, "Added a retry to the login client", "", 0),
			obs(1, at(10, 16, 5), store.TypeDiscovery, "Read auth/session.go (212 lines)", "", 0),
		},
		Summaries: []store.Summary{{ID: 1, SessionID: "s", Project: "acme-api", Request: "Make login reliable",
			Investigated: "auth/session.go", Learned: "Two refreshes raced.", Completed: "Guarded the refresh.", AcceptedAt: at(10, 16, 25)}},
		Settings: settings.DefaultContext(),
		Now:      at(12, 17, 0),
	}
	// Many days, with discovery tokens, two full narratives, the token
	// figures and the last message; the newest summary is empty and must not
	// be the one shown; 06:30 and 08:30 UTC straddle midnight in Los Angeles.
	many := settings.DefaultContext()
	many.FullCount, many.ShowReadTokens, many.ShowWorkTokens, many.ShowSavingsAmount, many.ShowLastMessage = 2, true, true, true, true
	manyDays := query.ContextView{
		Project: "acme-api",
		Observations: []store.Observation{
			obs(9, at(14, 8, 30), store.TypeFeature, "Added OAuth device login", "Device codes are polled every 5 s until the user confirms.", 4200),
			obs(8, at(14, 6, 30), store.TypeDecision, "Kept sessions in Redis", "Redis already holds the locks; a second store was not worth it.", 1800),
			obs(7, at(12, 13, 0), store.TypeRefactor, "Split the session package", "", 2500),
			obs(6, at(12, 12, 59), store.TypeDiscovery, "Found the cookie flags", "", 900),
			obs(5, at(9, 22, 10), store.TypeBugfix, "Fixed logout on Safari", "", 3100),
		},
		Summaries: []store.Summary{
			{ID: 4, SessionID: "s4", Project: "acme-api", AcceptedAt: at(14, 9, 0)},
			{ID: 3, SessionID: "s3", Project: "acme-api", Request: "Add device login", Completed: "Device login works end to end.",
				NextSteps: "Rate-limit the polling.", AcceptedAt: at(14, 8, 45)},
			{ID: 2, SessionID: "s2", Project: "acme-api", Request: "Tidy sessions", Learned: "Cookies lacked SameSite.", AcceptedAt: at(12, 13, 30)},
		},
		Settings:    many,
		Now:         at(14, 10, 0),
		LastMessage: "Device login is done; polling is not rate-limited yet.",
	}
	empty := query.ContextView{Project: "new-project", Settings: settings.DefaultContext(), Now: at(12, 17, 0)}

	for _, zone := range []string{"America/Los_Angeles", "Asia/Tokyo"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		suffix := strings.ToLower(strings.ReplaceAll(filepath.Base(zone), "_", "-"))
		for name, v := range map[string]query.ContextView{"empty": empty, "one-session": oneSession, "many-days": manyDays} {
			v.Now = v.Now.In(loc)
			got := query.FormatContext(v)
			golden(t, name+"-"+suffix, got)
			if stripped, _ := event.StripTags(got); strings.TrimSpace(stripped) != "" {
				t.Errorf("%s: text outside the context tag would be re-ingested: %q", name, stripped)
			}
		}
	}
}

// The figures are the selection's: the footer and stats never claim work
// that was not recorded.
func TestContextFooterIsTrue(t *testing.T) {
	v := query.ContextView{Project: "p", Settings: settings.DefaultContext(), Now: at(1, 12, 0),
		Observations: []store.Observation{{ID: 1, Type: store.TypeChange, Title: "t", AcceptedAt: at(1, 11, 0)}}}
	got := query.FormatContext(v)
	if !strings.Contains(got, "Access the details of these 1 observations") || strings.Contains(got, "tokens of past work") || strings.Contains(got, "savings") {
		t.Errorf("offline context (no discovery tokens) claims work or savings:\n%s", got)
	}
	v.Observations[0].DiscoveryTokens = 12_600
	got = query.FormatContext(v)
	if !strings.Contains(got, "Access 13k tokens of past work") || !strings.Contains(got, "| 12,600t work | 100% savings") {
		t.Errorf("figures with discovery tokens:\n%s", got)
	}
	v.Settings.ShowSavingsPercent = false
	if got = query.FormatContext(v); strings.Contains(got, "Stats:") {
		t.Errorf("stats line shown with every stats setting off:\n%s", got)
	}
}

// A cluster's query service reads the context settings from its
// environment: types select in the store, excluded projects get nothing,
// and the summary's last message shows under "Previously".
func TestContextSettingsFromEnvironment(t *testing.T) {
	t.Setenv("MNEMO_CONTEXT_OBSERVATION_TYPES", "bugfix,decision")
	t.Setenv("MNEMO_CONTEXT_OBSERVATIONS", "2")
	t.Setenv("MNEMO_CONTEXT_SHOW_LAST_MESSAGE", "true")
	t.Setenv("MNEMO_EXCLUDED_PROJECTS", "secret-*")
	r := newRig(t)
	r.observe("s1", "acme", store.TypeBugfix, "Fixed the old bug", "n")
	r.observe("s1", "acme", store.TypeDecision, "Chose the queue", "n")
	r.observe("s1", "acme", store.TypeBugfix, "Fixed the new bug", "n")
	r.observe("s1", "acme", store.TypeChange, "Renamed a file", "n")
	r.observe("s2", "secret-plans", store.TypeBugfix, "Secret fix", "n")
	r.seq++
	e := store.AppliedEvent{EventID: fmt.Sprintf("ev-%d", r.seq), Seq: r.seq, Kind: "stop", AcceptedAt: t0.Add(time.Hour)}
	if _, err := r.store.Apply(context.Background(), store.Unit{SessionID: "s1", Fence: 1, Events: []store.AppliedEvent{e},
		Summary: &store.Summary{SessionID: "s1", Project: "acme", Completed: "fixed both", AcceptedAt: e.AcceptedAt,
			SourceEventIDs: []string{e.EventID}, LastAssistantMessage: "Both bugs are fixed."}}); err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Context      string `json:"context"`
		Observations int    `json:"observations"`
	}
	if code := r.get("/v1/context?project=acme&tz=Asia/Tokyo", &ans); code != 200 {
		t.Fatalf("context: HTTP %d", code)
	}
	if ans.Observations != 2 || !strings.Contains(ans.Context, "Fixed the new bug") || !strings.Contains(ans.Context, "Chose the queue") ||
		strings.Contains(ans.Context, "Renamed a file") || strings.Contains(ans.Context, "Fixed the old bug") {
		t.Errorf("want the 2 newest bugfixes or decisions, got %d:\n%s", ans.Observations, ans.Context)
	}
	if !strings.Contains(ans.Context, "**Previously**\n\nA: Both bugs are fixed.") || !strings.Contains(ans.Context, " JST\n") {
		t.Errorf("no Previously or not in Tokyo time:\n%s", ans.Context)
	}
	if code := r.get("/v1/context?project=secret-plans", &ans); code != 200 || ans.Context != "" || ans.Observations != 0 {
		t.Errorf("excluded project: HTTP %d %+v, want no context", code, ans)
	}
}
