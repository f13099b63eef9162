package hookcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/hook"
)

func TestZoneName(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "localtime")
	if err := os.Symlink("/usr/share/zoneinfo/Asia/Tokyo", link); err != nil {
		t.Fatal(err)
	}
	macLink := filepath.Join(dir, "localtime-mac")
	if err := os.Symlink("/var/db/timezone/zoneinfo/America/Los_Angeles", macLink); err != nil {
		t.Fatal(err)
	}
	tzFile := filepath.Join(dir, "timezone")
	if err := os.WriteFile(tzFile, []byte("Europe/Paris\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none")
	for _, tc := range []struct {
		name, tz            string
		tzSet               bool
		localtime, timezone string
		want                string
	}{
		{"TZ wins", "America/Los_Angeles", true, link, tzFile, "America/Los_Angeles"},
		{"TZ with colon", ":Asia/Tokyo", true, none, none, "Asia/Tokyo"},
		{"TZ as a path", "/usr/share/zoneinfo/Europe/Berlin", true, none, none, "Europe/Berlin"},
		{"TZ empty is UTC", "", true, link, tzFile, "UTC"},
		{"POSIX rule unsent", "EST5EDT,M3.2.0,M11.1.0", true, link, tzFile, ""},
		{"typo unsent", "Mars/Olympus", true, link, tzFile, ""},
		{"localtime link", "", false, link, tzFile, "Asia/Tokyo"},
		{"macOS link", "", false, macLink, tzFile, "America/Los_Angeles"},
		{"timezone file", "", false, none, tzFile, "Europe/Paris"},
		{"nothing known", "", false, none, none, ""},
	} {
		if got := zoneName(tc.tz, tc.tzSet, tc.localtime, tc.timezone); got != tc.want {
			t.Errorf("%s: zoneName(%q) = %q, want %q", tc.name, tc.tz, got, tc.want)
		}
	}
}

// The settings file's hook defaults are the hook's own.
func TestSettingsDefaultsAreTheHooks(t *testing.T) {
	t.Setenv("MNEMO_HOME", t.TempDir())
	for _, k := range []string{"MNEMO_URL", "MNEMO_SKIP_TOOLS", "MNEMO_HOOK_TIMEOUT", "MNEMO_HOOK_CONTEXT_TIMEOUT", "MNEMO_EXCLUDED_PROJECTS", "MNEMO_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	c := LoadConfig()
	if c.URL != DefaultURL || c.Timeout != defaultHookTimeout || c.ContextTimeout != defaultContextTimeout ||
		strings.Join(c.SkipTools, ",") != strings.Join(hook.DefaultSkipTools, ",") || len(c.Exclude) != 0 {
		t.Errorf("defaults differ from the settings' defaults: %+v", c)
	}
	// A value in the file is used; the variable still wins.
	if err := os.WriteFile(filepath.Join(os.Getenv("MNEMO_HOME"), "settings.json"),
		[]byte(`{"MNEMO_EXCLUDED_PROJECTS":"secret-*","MNEMO_URL":"http://127.0.0.1:1234","MNEMO_SKIP_TOOLS":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MNEMO_URL", "http://127.0.0.1:5678")
	c = LoadConfig()
	if strings.Join(c.Exclude, ",") != "secret-*" || c.URL != "http://127.0.0.1:5678" || len(c.SkipTools) != 0 {
		t.Errorf("from the file: %+v", c)
	}
}
