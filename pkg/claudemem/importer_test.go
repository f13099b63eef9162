package claudemem_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/claudemem"
	"github.com/mnemo-dev/mnemo/pkg/claudemem/claudememtest"
	"github.com/mnemo-dev/mnemo/pkg/store"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// stores opens a fresh SQLite and a fresh PostgreSQL store.
func stores(t *testing.T) map[string]store.Store {
	t.Helper()
	out := map[string]store.Store{}
	for name, dsn := range map[string]string{
		"sqlite":   filepath.Join(t.TempDir(), "mnemo.db"),
		"postgres": testkit.StartPostgres(t),
	} {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out[name] = st
	}
	return out
}

func TestImportBothFixturesIntoBothStores(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			want := store.ImportResult{}
			for _, f := range []string{"claude-mem-13.25.3.db", "claude-mem-13.25.3-no-summaries.db"} {
				db, err := claudemem.Open(ctx, claudememtest.Copy(t, f))
				if err != nil {
					t.Fatal(err)
				}
				c, _ := db.Count(ctx, "")
				want.Add(store.ImportResult{Sessions: c.Sessions, Prompts: c.Prompts, Observations: c.Observations, Summaries: c.Summaries})
				res, err := db.ImportInto(ctx, st, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Present != 0 || res.Observations != c.Observations || res.Sessions != c.Sessions ||
					res.Prompts != c.Prompts || res.Summaries != c.Summaries {
					t.Fatalf("%s: imported %+v, the file holds %+v", f, res, c)
				}
				again, err := db.ImportInto(ctx, st, "", nil)
				if err != nil || again.Written() != 0 || again.Present != res.Written() {
					t.Fatalf("%s: second run %+v, %v; want 0 written, %d present", f, again, err, res.Written())
				}
				compareSample(t, db, st)
				db.Close()
			}
			got, err := st.Counts(ctx, "", time.Time{})
			if err != nil || got.Sessions != int64(want.Sessions) || got.Prompts != int64(want.Prompts) ||
				got.Observations != int64(want.Observations) || got.Summaries != int64(want.Summaries) {
				t.Fatalf("store counts %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

// compareSample compares every observation and summary of db with the row
// the store holds under its key, field by field.
func compareSample(t *testing.T, db *claudemem.DB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	byKey := map[string]store.ImportedObservation{}
	sums := map[string]store.ImportedSummary{}
	err := db.Sessions(ctx, "", func(s claudemem.Session) error {
		e, err := st.ExportSession(ctx, s.ID)
		if err != nil {
			return err
		}
		if e.Session.Project != s.Project || !e.Session.StartedAt.Equal(s.StartedAt) || e.Session.Agent != "claude-code" {
			t.Errorf("session %s stored as %+v", s.ID, e.Session)
		}
		for _, o := range e.Observations {
			byKey[o.Key] = o
		}
		for _, m := range e.Summaries {
			sums[m.Key] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Observations(ctx, "", func(o claudemem.Observation) error {
		got, ok := byKey[o.Key]
		if !ok {
			t.Fatalf("observation %s not stored", o.Key)
		}
		if got.SessionID != o.SessionID || got.Project != o.Project || got.Type != o.Type || got.Title != o.Title ||
			got.Subtitle != o.Subtitle || got.Narrative != o.Narrative || !reflect.DeepEqual(got.Facts, o.Facts) ||
			!reflect.DeepEqual(got.Concepts, nonNil(o.Concepts)) || !reflect.DeepEqual(got.FilesRead, nonNil(o.FilesRead)) ||
			!reflect.DeepEqual(got.FilesModified, nonNil(o.FilesModified)) || got.PromptNumber != o.PromptNumber ||
			!got.AcceptedAt.Equal(o.At) {
			t.Fatalf("observation %s:\nstored %+v\nsource %+v", o.Key, got.Observation, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Summaries(ctx, "", func(m claudemem.Summary) error {
		got, ok := sums[m.Key]
		if !ok {
			t.Fatalf("summary %s not stored", m.Key)
		}
		if got.Request != m.Request || got.Investigated != m.Investigated || got.Learned != m.Learned ||
			got.Completed != m.Completed || got.NextSteps != m.NextSteps || got.Notes != m.Notes ||
			got.PromptNumber != m.PromptNumber || !got.AcceptedAt.Equal(m.At) || got.Project != m.Project {
			t.Fatalf("summary %s:\nstored %+v\nsource %+v", m.Key, got.Summary, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// TestImportOlderSchemaAndProject: an older claude-mem's file imports all
// the same; --project limits the import to one project.
func TestImportOlderSchemaAndProject(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := claudememtest.Copy(t, "claude-mem-13.25.3.db")
	claudememtest.DropNewerColumns(t, path)
	db := openDB(t, path)
	if res, err := db.ImportInto(ctx, st, "acme-api", nil); err != nil || res.Written() != 0 {
		t.Fatalf("another project imported %+v, %v", res, err)
	}
	res, err := db.ImportInto(ctx, st, "orbital-api", nil)
	if err != nil || res.Observations != 48 || res.Summaries != 6 || res.Sessions != 6 || res.Prompts != 6 {
		t.Fatalf("older schema imported %+v, %v", res, err)
	}
	compareSample(t, db, st)
}

// TestImportInterruptedCompletes: an import stopped after its first batch
// completes on the next run with exact counts.
func TestImportInterruptedCompletes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := filepath.Join(t.TempDir(), "big.db")
	claudememtest.Generate(t, path, "gen", 10, 300)
	db := openDB(t, path)
	stop, cancel := context.WithCancel(ctx)
	_, err = db.ImportInto(stop, st, "", func(done int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	c, _ := st.Counts(ctx, "", time.Time{})
	if c.Observations == 0 || c.Observations >= 3000 {
		t.Fatalf("the interrupted run stored %d observations, want some, not all", c.Observations)
	}
	res, err := db.ImportInto(ctx, st, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = st.Counts(ctx, "", time.Time{})
	if c.Observations != 3000 || c.Sessions != 10 || c.Summaries != 10 || c.Prompts != 10 || res.Present == 0 {
		t.Fatalf("after the re-run: %+v (run: %+v)", c, res)
	}
}
