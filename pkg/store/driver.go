package store

import "context"

// The store's logic is written once, in sqlStore, above two thin drivers in
// the shape River uses for its database drivers (docs/ARCHITECTURE.md §8):
// a driver opens its database, runs statements through executors and
// spells the few fragments its dialect writes differently. Statements are
// written once with ? placeholders; PostgreSQL's executor numbers them.

// executor runs statements on one database, a pool or a transaction. Its
// arguments and scan destinations are Go values (time.Time, *time.Time,
// []string, []int64, …): the executor maps them to and from the database's
// own column types, so no caller converts a value for one database.
type executor interface {
	// exec runs a statement and returns how many rows it changed.
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// query runs a statement that returns rows.
	query(ctx context.Context, q string, args ...any) (rows, error)
	// send runs statements in order, in one round trip where the database
	// allows; a statement with destinations scans the one row it returns.
	send(ctx context.Context, b []stmt) error
}

// rows is a result set read through an executor.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// stmt is one statement of a batch given to executor.send.
type stmt struct {
	sql  string
	args []any
	dest []any // scanned from the row the statement returns; none = no row
	// id, for an INSERT of one row, receives the new row's id column:
	// PostgreSQL returns it (RETURNING id), SQLite reports it without a
	// result set to read.
	id *int64
}

// driver is what sqlStore needs of a database beyond statements.
type driver interface {
	// reads is the executor for reads outside a transaction.
	reads() executor
	// write runs fn in one write transaction, committed when fn returns
	// nil and rolled back otherwise. fn uses the context and executor it
	// is given, not its caller's.
	write(ctx context.Context, fn func(ctx context.Context, tx executor) error) error
	// searchSQL is the search statement and its arguments for q
	// (validated) whose text, cleaned and trimmed, is text; ok false when
	// q can match nothing.
	searchSQL(ctx context.Context, q SearchQuery, text string, limit, offset int) (sql string, args []any, ok bool)
	// textMatch is how rows of table (observations, prompts or summaries,
	// as alias) matching text are found in its full-text index; ok false
	// when text can match nothing.
	textMatch(table, alias, text string) (m textMatch, ok bool)
	// size is the bytes the database occupies.
	size(ctx context.Context) (int64, error)
}

// textMatch is a full-text condition on one table: from is appended to the
// statement's FROM (with fromArgs), cond is ANDed to its WHERE (with
// condArgs), and rank is an expression ranking a match, higher better.
type textMatch struct {
	from     string
	fromArgs []any
	cond     string
	condArgs []any
	rank     string
}

// dialect holds what the databases spell differently inside statements
// that are otherwise the same.
type dialect struct {
	// name names the database in errors: "sqlite", "postgres".
	name string
	// forUpdate follows a SELECT in a write transaction to lock the rows
	// it reads until the commit; "" where one writer runs at a time.
	forUpdate string
	// anyOf follows an expression to test it against a list bound to one
	// parameter ([]string or []int64), of any length.
	anyOf string
	// listRows is a FROM item giving the elements of a list parameter as
	// the column value of f.
	listRows string
	// jsonHasAny is a condition on a JSON list column (%s): it holds at
	// least one element of a list parameter.
	jsonHasAny string
	// lastObservationID is the ID of the observation this transaction
	// inserted last.
	lastObservationID string
	// bulkInsert, where set, is the few statements writing rows into
	// table's cols, each row the values in cols' order, tail ending each
	// statement (ON CONFLICT …): SQLite's full-text index flushes at every
	// statement, so a few statements a batch is what makes a bulk import
	// fast there. Where nil, each row is its own statement (PostgreSQL
	// sends them all in one round trip).
	bulkInsert func(table string, cols []string, rows [][]any, tail string) []stmt
	// bulkIndexed, where set, puts the observations a bulk import just
	// wrote (IDs above the one bound) into the full-text index, which the
	// per-row trigger leaves to it: one statement a batch indexes the rows
	// inside the import's transaction for less than a trigger a row.
	bulkIndexed string
}
