package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/store"
)

// A worker writes what one batch of a session's events produced as one Unit:
// applied again (a redelivery) it is a duplicate, and a writer whose fence is
// older than the stored one is refused (docs/ARCHITECTURE.md §8). Open takes
// a file path (SQLite) or a postgres:// URL.
func ExampleStore_Apply() {
	dir, err := os.MkdirTemp("", "mnemo-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "mnemo.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	unit := store.Unit{
		SessionID: "s1", Fence: 2,
		Events:  []store.AppliedEvent{{EventID: "e1", Seq: 1, Kind: "tool_use", AcceptedAt: at}},
		Session: &store.SessionUpdate{Project: "acme", Agent: "claude-code", Status: store.StatusActive, StartedAt: at},
		Observations: []store.Observation{{
			Project: "acme", Type: "bugfix", Title: "Login retries on an expired token",
			FilesModified: []string{"auth/login.go"}, AcceptedAt: at,
		}},
	}
	res, err := st.Apply(ctx, unit)
	fmt.Println(res.Duplicate, len(res.ObservationIDs), res.LastSeq, err)

	res, err = st.Apply(ctx, unit)
	fmt.Println(res.Duplicate, err)

	unit.Fence, unit.Events[0].EventID, unit.Events[0].Seq = 1, "e2", 2
	_, err = st.Apply(ctx, unit)
	fmt.Println(errors.Is(err, store.ErrStaleFence))

	hits, err := st.Search(ctx, store.SearchQuery{Text: "login token", Project: "acme"})
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Println(h.Observation.Title, h.Observation.FilesModified)
	}
	// Output:
	// false 1 1 <nil>
	// true <nil>
	// true
	// Login retries on an expired token [auth/login.go]
}
