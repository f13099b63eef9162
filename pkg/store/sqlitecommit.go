package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxGroup bounds how many units one shared transaction applies.
const maxGroup = 64

// errSQLiteClosed answers a write made after Close.
var errSQLiteClosed = errors.New("store: sqlite: closed")

// groupCommit runs the writes of concurrent calls (Apply's units above all)
// in shared transactions on the single writer connection. SQLite serializes writers
// anyway; what a transaction costs beyond its statements (the WAL append of
// every page it touched, a new full-text segment) is paid once for the whole
// group instead of once per unit, so sessions applying at the same time
// stop queueing behind each other's commits. Each write stays all-or-nothing
// through its own savepoint, and its caller hears back only after the
// commit. There is no waiting to fill a group: a group is whatever queued
// while the previous one committed.
type groupCommit struct {
	reqs     chan *writeReq
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	// Statements the writes run, prepared on the writer connection once
	// and bound to each transaction without preparing again. Only the
	// committer touches them; a text first seen inside a transaction is
	// prepared after it, when the connection is free.
	stmts  map[string]*sql.Stmt
	missed []string
}

// maxStmts bounds the statement cache; texts beyond it are prepared per use.
const maxStmts = 64

// writeReq is one write waiting for its group's commit.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx executor) error
	err  error
	done chan struct{}
}

// startGroupCommit starts the committer that Close stops.
func (s *SQLite) startGroupCommit() {
	s.gc = &groupCommit{reqs: make(chan *writeReq), stop: make(chan struct{}), done: make(chan struct{}),
		stmts: make(map[string]*sql.Stmt)}
	go s.commitLoop()
}

// stopGroupCommit stops the committer after the group it is applying.
func (s *SQLite) stopGroupCommit() {
	if s.gc == nil {
		return
	}
	s.gc.stopOnce.Do(func() { close(s.gc.stop) })
	<-s.gc.done
	for _, st := range s.gc.stmts {
		_ = st.Close()
	}
}

// submit hands a write to the committer and waits for the commit of its
// group. A write taken by the committer is always finished, so the wait
// after the hand-off is bounded by one transaction, not by ctx.
func (s *SQLite) submit(ctx context.Context, fn func(ctx context.Context, tx executor) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.gc.reqs <- r:
	case <-ctx.Done():
		return fmt.Errorf("store: sqlite: write: %w", ctx.Err())
	case <-s.gc.stop:
		return errSQLiteClosed
	}
	<-r.done
	return r.err
}

func (s *SQLite) commitLoop() {
	defer close(s.gc.done)
	batch := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case <-s.gc.stop:
			return
		case r := <-s.gc.reqs:
			batch = append(batch[:0], r)
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-s.gc.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commitGroup(batch)
		clear(batch)
		s.prepareMissed()
	}
}

// prepareMissed prepares, on the writer, the statements the last group ran
// without a cached one. One that fails to prepare stays uncached: its next
// run prepares it inside the transaction and reports the error there.
func (s *SQLite) prepareMissed() {
	for _, q := range s.gc.missed {
		if _, ok := s.gc.stmts[q]; ok || len(s.gc.stmts) >= maxStmts {
			continue
		}
		if st, err := s.w.PrepareContext(context.Background(), q); err == nil {
			s.gc.stmts[q] = st
		}
	}
	s.gc.missed = s.gc.missed[:0]
}

// commitGroup runs batch in one IMMEDIATE transaction, each write inside
// its own savepoint when there are several, and finishes every request.
func (s *SQLite) commitGroup(batch []*writeReq) {
	finish := func(err error) {
		for _, r := range batch {
			if err != nil && r.err == nil {
				r.err = err
			}
			close(r.done)
		}
	}
	// The statements run on their own context: SQLite answers an interrupt
	// inside an explicit transaction by rolling all of it back, which would
	// take the other callers' writes with it. A caller that gave up before
	// its turn is left out instead.
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		finish(fmt.Errorf("store: sqlite: begin write: %w", err))
		return
	}
	defer func() { _ = tx.Rollback() }()
	x := sqliteExec{&sqliteTx{Tx: tx, gc: s.gc, bound: make(map[string]*sql.Stmt)}}
	if len(batch) == 1 {
		r := batch[0]
		if err := r.ctx.Err(); err != nil {
			finish(fmt.Errorf("store: sqlite: write: %w", err))
			return
		}
		if r.err = r.fn(ctx, x); r.err != nil {
			finish(nil)
			return
		}
	} else {
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = fmt.Errorf("store: sqlite: write: %w", err)
				continue
			}
			if err := applySaved(ctx, x, r); err != nil {
				finish(err)
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		finish(fmt.Errorf("store: sqlite: commit: %w", err))
		return
	}
	finish(nil)
}

// sqliteTx is a group's write transaction. Its Exec and Query methods run
// the committer's cached statements, bound to the transaction, so a unit's
// statements are not compiled again for every unit.
type sqliteTx struct {
	*sql.Tx
	gc    *groupCommit
	bound map[string]*sql.Stmt
}

var _ sqlQuerier = (*sqliteTx)(nil)

// stmt returns query's cached statement bound to the transaction, or nil
// (noting the miss) when it has none yet.
func (t *sqliteTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if b, ok := t.bound[query]; ok {
		return b
	}
	p, ok := t.gc.stmts[query]
	if !ok {
		t.gc.missed = append(t.gc.missed, query)
		return nil
	}
	b := t.Tx.StmtContext(ctx, p)
	t.bound[query] = b
	return b
}

// ExecContext runs query through its cached statement when there is one.
func (t *sqliteTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query through its cached statement when there is one.
func (t *sqliteTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// applySaved runs r's write inside a savepoint, rolling back to it when
// the write fails, so the write's error stays its own. The error returned
// is one the transaction cannot go on after.
func applySaved(ctx context.Context, x sqliteExec, r *writeReq) error {
	if _, err := x.exec(ctx, `SAVEPOINT unit`); err != nil {
		return fmt.Errorf("store: sqlite: savepoint: %w", err)
	}
	if r.err = r.fn(ctx, x); r.err != nil {
		if _, err := x.exec(ctx, `ROLLBACK TO unit`); err != nil {
			return fmt.Errorf("store: sqlite: roll back to savepoint: %w", err)
		}
	}
	if _, err := x.exec(ctx, `RELEASE unit`); err != nil {
		return fmt.Errorf("store: sqlite: release savepoint: %w", err)
	}
	return nil
}
