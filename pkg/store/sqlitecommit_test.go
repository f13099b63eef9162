package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// groupUnit is one tool use of session making one observation of type typ,
// normalized as Apply would; a type the schema refuses makes the unit fail
// after it has written its session row.
func groupUnit(t *testing.T, session, event string, seq uint64, typ string) Unit {
	t.Helper()
	at := time.Date(2026, 11, 1, 9, 0, int(seq), 0, time.UTC)
	u, err := normalizeUnit(Unit{
		SessionID: session,
		Events:    []AppliedEvent{{EventID: event, Seq: seq, Kind: "tool_use", AcceptedAt: at}},
		Session:   &SessionUpdate{Project: "acme", Agent: "claude-code", Cwd: "/src/acme"},
		Observations: []Observation{{SessionID: session, Project: "acme", Type: TypeChange, Title: session + " " + event,
			Narrative: "n", PromptNumber: 1, AcceptedAt: at, SourceEventIDs: []string{event}}},
	}, at)
	if err != nil {
		t.Fatalf("normalize %s: %v", event, err)
	}
	u.Observations[0].Type = typ
	return u
}

// unitReq is a unit's write request and the result of its apply.
type unitReq struct {
	*writeReq
	res ApplyResult
}

// One shared transaction keeps each unit's outcome its own: a unit that
// fails halfway leaves nothing behind, one whose caller gave up is left out,
// and the units around them commit.
func TestGroupCommitKeepsEachUnitsOutcome(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The test drives commitGroup itself, as the committer would; the
	// committer gets no request, so nothing else touches its state.
	req := func(c context.Context, u Unit) *unitReq {
		r := &unitReq{}
		r.writeReq = &writeReq{ctx: c, done: make(chan struct{}), fn: func(ctx context.Context, tx executor) error {
			var err error
			r.res, err = s.applyUnit(ctx, tx, &u, u.Events[0].AcceptedAt)
			return err
		}}
		return r
	}
	commit := func(rs ...*unitReq) {
		batch := make([]*writeReq, len(rs))
		for i, r := range rs {
			batch[i] = r.writeReq
		}
		s.commitGroup(batch)
	}
	first := req(ctx, groupUnit(t, "s-a", "ev-a1", 1, TypeChange))
	commit(first)
	if first.err != nil {
		t.Fatal(first.err)
	}
	s.prepareMissed()
	if _, ok := s.gc.stmts[insertObservationSQL]; !ok {
		t.Fatal("the observation insert was not cached after its first group")
	}

	gone, cancel := context.WithCancel(ctx)
	cancel()
	batch := []*unitReq{
		req(ctx, groupUnit(t, "s-b", "ev-b1", 2, TypeChange)),
		req(ctx, groupUnit(t, "s-x", "ev-x1", 3, "No Such Type")),
		req(ctx, groupUnit(t, "s-a", "ev-a1-again", 1, TypeChange)),
		req(gone, groupUnit(t, "s-d", "ev-d1", 4, TypeChange)),
		req(ctx, groupUnit(t, "s-a", "ev-a2", 5, TypeChange)),
	}
	commit(batch...)
	for i, r := range batch {
		select {
		case <-r.done:
		default:
			t.Fatalf("request %d not finished", i)
		}
	}
	if err := batch[0].err; err != nil || len(batch[0].res.ObservationIDs) != 1 {
		t.Fatalf("s-b: %+v, %v", batch[0].res, err)
	}
	if batch[1].err == nil {
		t.Fatal("a unit whose observation the schema refuses applied")
	}
	if !errors.Is(batch[2].err, ErrCursorBackwards) {
		t.Fatalf("s-a at seq 1 again: %v, want ErrCursorBackwards", batch[2].err)
	}
	if !errors.Is(batch[3].err, context.Canceled) {
		t.Fatalf("a caller that gave up: %v, want context.Canceled", batch[3].err)
	}
	if err := batch[4].err; err != nil || batch[4].res.LastSeq != 5 {
		t.Fatalf("s-a at seq 5: %+v, %v", batch[4].res, err)
	}

	applied, err := s.AppliedSeqs(ctx, []string{"ev-a1", "ev-b1", "ev-x1", "ev-a1-again", "ev-d1", "ev-a2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"ev-a1": 1, "ev-b1": 2, "ev-a2": 5}
	if fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Fatalf("applied events %v, want %v", applied, want)
	}
	// The failed unit had written its session row before its observation
	// failed: the savepoint took it back.
	for _, id := range []string{"s-x", "s-d"} {
		if _, err := s.Session(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session %s: %v, want ErrNotFound", id, err)
		}
	}
	if o, err := s.SessionObservations(ctx, "s-a"); err != nil || len(o) != 2 {
		t.Fatalf("s-a has %d observations (%v), want 2", len(o), err)
	}
}

// Concurrent Apply calls share commits, and every one of them is stored
// with its own result, in each session's order.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const sessions, perSession = 32, 20
	var wg sync.WaitGroup
	ids := make(chan int64, sessions*perSession)
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("s-%02d", i)
			for k := 1; k <= perSession; k++ {
				res, err := s.Apply(ctx, groupUnit(t, sid, fmt.Sprintf("%s-%02d", sid, k), uint64(k), TypeChange))
				if err != nil || len(res.ObservationIDs) != 1 {
					t.Errorf("%s #%d: %+v, %v", sid, k, res, err)
					return
				}
				ids <- res.ObservationIDs[0]
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("observation ID %d handed to two units", id)
		}
		seen[id] = true
	}
	if len(seen) != sessions*perSession {
		t.Fatalf("%d observations, want %d", len(seen), sessions*perSession)
	}
	for i := 0; i < sessions; i++ {
		sid := fmt.Sprintf("s-%02d", i)
		o, err := s.SessionObservations(ctx, sid)
		if err != nil || len(o) != perSession {
			t.Fatalf("%s: %d observations (%v), want %d", sid, len(o), err, perSession)
		}
		for k := range o {
			if want := fmt.Sprintf("%s %s-%02d", sid, sid, k+1); o[k].Title != want {
				t.Fatalf("%s observation %d is %q, want %q", sid, k, o[k].Title, want)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Apply after Close answers an error instead of waiting forever.
func TestGroupCommitClosed(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "mnemo.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, groupUnit(t, "s-z", "ev-z1", 1, TypeChange)); !errors.Is(err, errSQLiteClosed) {
		t.Fatalf("apply after close: %v, want errSQLiteClosed", err)
	}
}
