package hookcli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/event"
	"github.com/mnemo-dev/mnemo/pkg/hook/hookcli"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// A hook run inside Mnemo's own observer (the marker in its environment)
// records nothing and prints nothing; the same payload without the marker is
// posted.
func TestHookDropsObserverRuns(t *testing.T) {
	srv, posts := testkit.CountPosts(t)
	payload, err := os.ReadFile(filepath.Join(testkit.FixtureDir(t, "claude-code"), "UserPromptSubmit.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MNEMO_URL", srv.URL)
	t.Setenv("MNEMO_HOME", t.TempDir())
	for _, marked := range []bool{true, false} {
		t.Setenv(event.ObserverEnv, "")
		if marked {
			t.Setenv(event.ObserverEnv, "1")
		}
		posts.Store(0)
		var out bytes.Buffer
		if err := hookcli.RunHook(context.Background(), []string{"claude-code", "UserPromptSubmit"}, bytes.NewReader(payload), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int64{true: 0, false: 1}[marked]; posts.Load() != want || (marked && out.Len() > 0) {
			t.Fatalf("marker %v: %d posts (want %d), stdout %q", marked, posts.Load(), want, out.String())
		}
	}
}
