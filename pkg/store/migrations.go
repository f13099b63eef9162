package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// migration is one versioned schema change, written once per dialect. Both
// stores number their migrations alike, so version N means the same schema
// in each; schema_migrations records the versions applied.
type migration struct {
	version  int
	name     string
	sqlite   string
	postgres string
}

// SchemaVersion is the schema version this code migrates a database to.
const SchemaVersion = 15

// migrations lists every schema change in order. Append; never edit a
// released entry.
var migrations = []migration{
	{version: 1, name: "initial schema", sqlite: sqliteSchemaV1, postgres: postgresSchemaV1},
	{version: 2, name: "project in the full-text index", sqlite: sqliteSearchScopeV2, postgres: ""},
	{version: 3, name: "partition ack floors", sqlite: partitionFloorsV3, postgres: partitionFloorsV3},
	{version: 4, name: "import keys and the store's identity", sqlite: sqliteImportKeysV4, postgres: postgresImportKeysV4},
	{version: 5, name: "prompts and summaries in full-text search", sqlite: sqliteTextSearchV5, postgres: postgresTextSearchV5},
	{version: 6, name: "discovery tokens and the last assistant message", sqlite: discoveryV6, postgres: discoveryV6},
	{version: 7, name: "observation vectors for semantic search", sqlite: sqliteTypes.Replace(vectorsV7), postgres: postgresTypes.Replace(vectorsV7)},
	{version: 8, name: "what each LLM call cost", sqlite: sqliteUsageCostV8, postgres: postgresUsageCostV8},
	{version: 9, name: "tool use and prompt claims", sqlite: toolUseClaimsV9, postgres: toolUseClaimsV9},
	{version: 10, name: "observation types open, checked for their shape", sqlite: sqliteOpenTypesV10, postgres: postgresOpenTypesV10},
	{version: 11, name: "full-text indexes without a pending list", sqlite: "", postgres: postgresGINDirectV11},
	{version: 12, name: "vectors by time written", sqlite: vectorsByAtV12, postgres: vectorsByAtV12},
	{version: 13, name: "summary and prompt vectors", sqlite: sqliteTypes.Replace(kindVectorsV13), postgres: postgresPromptIDV13 + postgresTypes.Replace(kindVectorsV13)},
	{version: 14, name: "bulk imports index their own batches", sqlite: sqliteImportIndexV14, postgres: ""},
	{version: 15, name: "vector stamps in the order written", sqlite: vectorStampsV15, postgres: vectorStampsV15},
}

// vectorStampsV15 widens each kind's index by time written to (model, at,
// ID): a query process's sync pages through what was written since its
// last one in that order and reads the stamps (ID, time) from the index
// alone, then only the vectors its index lacks. Before, each sync read
// back every vector written in its overlap, and paging by ID sorted the
// whole overlap a page: after a bulk write of 100k vectors a sync took
// seconds and made hybrid search's p99 (docs/ARCHITECTURE.md §14).
var vectorStampsV15 = vectorStamps("observation_vectors", "observation_id") + vectorStamps("summary_vectors", "summary_id") +
	vectorStamps("prompt_vectors", "prompt_id")

func vectorStamps(table, id string) string {
	return strings.NewReplacer("{table}", table, "{id}", id).Replace(`
DROP INDEX {table}_by_at;
CREATE INDEX {table}_by_at ON {table} (model, at, {id});
`)
}

// kindVectorsV13 keeps one embedding per summary and per prompt and model
// key, as observation_vectors does for observations (its two indexes
// included), deleted with the summary or prompt (docs/ARCHITECTURE.md
// §14). A prompt is keyed by its row ID: SQLite's prompts have had one
// since migration 5; PostgreSQL's get one first (postgresPromptIDV13).
var kindVectorsV13 = vectorsTable("summary_vectors", "summary_id", "summaries") + vectorsTable("prompt_vectors", "prompt_id", "prompts")

// vectorsTable is the schema of one kind's vectors: table, its column id
// naming a row of memories, and its indexes by model and ID and by time.
func vectorsTable(table, id, memories string) string {
	return strings.NewReplacer("{table}", table, "{id}", id, "{memories}", memories).Replace(`
CREATE TABLE {table} (
	{id} {int64} NOT NULL REFERENCES {memories} (id) ON DELETE CASCADE,
	model TEXT NOT NULL,
	dims  INTEGER NOT NULL,
	vec   {blob} NOT NULL,
	at    {time} NOT NULL,
	PRIMARY KEY ({id}, model)
);
CREATE INDEX {table}_by_model ON {table} (model, {id});
CREATE INDEX {table}_by_at ON {table} (model, at);
`)
}

// postgresPromptIDV13 numbers PostgreSQL's prompts (existing rows too), so
// a prompt's vector can name it as an observation's does.
const postgresPromptIDV13 = `ALTER TABLE prompts ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;`

// sqliteImportIndexV14 stops the full-text trigger from indexing rows a
// bulk import writes (those with an import key): the import indexes each
// batch with one statement in the same transaction (dialect.bulkIndexed),
// so search sees them at its commit, for less than the trigger a row cost
// (about 5% of a claude-mem import's CPU). Every other insert is indexed
// by the trigger as before; PostgreSQL's search column is generated, so
// its migration is empty.
var sqliteImportIndexV14 = `
DROP TRIGGER observations_fts_insert;
CREATE TRIGGER observations_fts_insert AFTER INSERT ON observations WHEN new.import_key IS NULL BEGIN
	INSERT INTO observations_fts (rowid, title, subtitle, narrative, facts, concepts, project_key)
	VALUES (new.id, new.title, new.subtitle, new.narrative, new.facts, new.concepts, new.project_key);
END;
`

// vectorsByAtV12 lets a query process's index read only the vectors
// written since its last sync: without it each sync (every 2 s) scanned
// every vector row, and SQLite, finding at past the vector's overflow
// pages, read the whole table (300 MB at 100k × 768), which made hybrid
// search's p99 (docs/ARCHITECTURE.md §14).
const vectorsByAtV12 = `CREATE INDEX observation_vectors_by_at ON observation_vectors (model, at);`

// postgresGINDirectV11 turns off the GIN indexes' fast update: with it on,
// new rows wait in a pending list of up to 4 MB that every search scans
// row by row (at 100k observations a list of 333 pages made a two-word
// search read 339 buffers instead of 31). Memories are written at the pace
// of LLM compression, so inserting into the index at once costs little.
// The lists already pending are merged now.
const postgresGINDirectV11 = `
ALTER INDEX observations_search SET (fastupdate = off);
ALTER INDEX prompts_search SET (fastupdate = off);
ALTER INDEX summaries_search SET (fastupdate = off);
SELECT gin_clean_pending_list('observations_search'), gin_clean_pending_list('prompts_search'),
	gin_clean_pending_list('summaries_search');
`

// migrate brings a database to SchemaVersion: each migration it has not
// recorded runs with its record in one transaction. tx runs fn in a
// transaction that other migrators of the same database wait for; sqlOf is
// the dialect's text of a migration ("" changes nothing there).
func migrate(ctx context.Context, name string, tx func(ctx context.Context, fn func(executor) error) error, sqlOf func(migration) string) error {
	for _, m := range migrations {
		err := tx(ctx, func(x executor) error {
			var one int
			switch err := scanOne(ctx, x, `SELECT 1 FROM schema_migrations WHERE version = ?`, []any{m.version}, &one); {
			case err == nil:
				return nil
			case !errors.Is(err, errNoRows):
				return err
			}
			if q := sqlOf(m); q != "" {
				if _, err := x.exec(ctx, q); err != nil {
					return fmt.Errorf("(%s): %w", m.name, err)
				}
			}
			_, err := x.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UTC())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: %s: migration %d: %w", name, m.version, err)
		}
	}
	return nil
}

// partitionFloorsV3 records, per incarnation of the events stream, the
// highest sequence below which each partition's messages were all
// acknowledged: a consumer whose state the broker lost is recreated to
// start there (bus.Floors).
const partitionFloorsV3 = `
CREATE TABLE partition_floors (
	stream     TEXT NOT NULL,
	partition  INTEGER NOT NULL,
	seq        BIGINT NOT NULL,
	PRIMARY KEY (stream, partition)
);
`

// discoveryV6 records what each observation cost to produce (its share of
// its batch's LLM input tokens) and each summary's last assistant message,
// for the context's work figures and its "Previously".
const discoveryV6 = `
ALTER TABLE observations ADD COLUMN discovery_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE summaries ADD COLUMN last_assistant_message TEXT NOT NULL DEFAULT '';
`

// vectorsV7 keeps one embedding per observation and model key, deleted
// with the observation (docs/ARCHITECTURE.md §14).
const vectorsV7 = `
CREATE TABLE observation_vectors (
	observation_id {int64} NOT NULL REFERENCES observations (id) ON DELETE CASCADE,
	model          TEXT NOT NULL,
	dims           INTEGER NOT NULL,
	vec            {blob} NOT NULL,
	at             {time} NOT NULL,
	PRIMARY KEY (observation_id, model)
);
CREATE INDEX observation_vectors_by_model ON observation_vectors (model, observation_id);
`

// sqliteUsageCostV8 and postgresUsageCostV8 record what an LLM call cost
// in US dollars when its provider says (the Claude Code CLI's
// total_cost_usd), for /v1/stats' cost of the day. PostgreSQL's REAL is
// single precision, too coarse for sums of fractions of a cent.
const (
	sqliteUsageCostV8   = `ALTER TABLE llm_usage ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;`
	postgresUsageCostV8 = `ALTER TABLE llm_usage ADD COLUMN cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0;`
)

// observationsFTSTriggersV2 keeps observations_fts in step since migration 2,
// project_key included.
var observationsFTSTriggersV2 = ftsTriggers("observations",
	"title, subtitle, narrative, facts, concepts, project_key", "title, subtitle, narrative, facts, concepts, project")

// sqliteSearchScopeV2 puts each observation's project into observations_fts
// as one token (project_key, weight 0 in bm25), so a project's search is
// narrowed inside the index rather than by looking up every match's row.
// PostgreSQL needs no change: its planner combines the GIN and project
// indexes itself, so its migration 2 is empty.
var sqliteSearchScopeV2 = `
DROP TRIGGER observations_fts_insert;
DROP TRIGGER observations_fts_delete;
DROP TRIGGER observations_fts_update;
DROP TABLE observations_fts;
ALTER TABLE observations ADD COLUMN project_key TEXT GENERATED ALWAYS AS (hex(project) || '0') VIRTUAL;
CREATE VIRTUAL TABLE observations_fts USING fts5 (
	title, subtitle, narrative, facts, concepts, project_key,
	content = 'observations', content_rowid = 'id',
	tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO observations_fts (observations_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0, 5.0, 3.0, 0.0)');
INSERT INTO observations_fts (observations_fts) VALUES ('rebuild');` + observationsFTSTriggersV2 + "\n"

// schemaV1 is the initial schema of both stores, one text whose column
// types and dialect-only parts each store fills in (sqliteV1, postgresV1).
const schemaV1 = `
CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	project       TEXT NOT NULL DEFAULT '',
	agent         TEXT NOT NULL DEFAULT '',
	cwd           TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'aborted')),
	started_at    {time} NOT NULL,
	ended_at      {time},
	last_event_at {time} NOT NULL,
	prompt_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_last_event ON sessions (last_event_at DESC, id);
CREATE INDEX sessions_by_project ON sessions (project, last_event_at DESC, id);
CREATE INDEX sessions_by_status ON sessions (status, last_event_at DESC);

CREATE TABLE prompts (
	session_id TEXT NOT NULL,
	number     INTEGER NOT NULL,
	text       TEXT NOT NULL DEFAULT '',
	at         {time} NOT NULL,
	private    {bool},
	PRIMARY KEY (session_id, number)
){without rowid};

CREATE TABLE observations (
	id               {id},
	session_id       TEXT NOT NULL,
	project          TEXT NOT NULL,
	type             TEXT NOT NULL CHECK (type IN ('bugfix', 'feature', 'refactor', 'change', 'discovery', 'decision')),
	title            TEXT NOT NULL DEFAULT '',
	subtitle         TEXT NOT NULL DEFAULT '',
	narrative        TEXT NOT NULL DEFAULT '',
	facts            {json} NOT NULL DEFAULT '[]',
	concepts         {json} NOT NULL DEFAULT '[]',
	files_read       {json} NOT NULL DEFAULT '[]',
	files_modified   {json} NOT NULL DEFAULT '[]',
	prompt_number    INTEGER NOT NULL DEFAULT 0,
	accepted_at      {time} NOT NULL,
	source_event_ids {json} NOT NULL DEFAULT '[]',
	created_at       {time} NOT NULL{observations search}
);
CREATE INDEX observations_by_project ON observations (project, accepted_at DESC, id DESC);
CREATE INDEX observations_by_session ON observations (session_id, accepted_at, id);
CREATE INDEX observations_by_time ON observations (accepted_at DESC, id DESC);
{observations index}
CREATE TABLE observation_files (
	observation_id {int64} NOT NULL REFERENCES observations (id) ON DELETE CASCADE,
	path           TEXT NOT NULL,
	project        TEXT NOT NULL,
	accepted_at    {time} NOT NULL,
	PRIMARY KEY (observation_id, path)
){without rowid};
CREATE INDEX observation_files_by_path ON observation_files (path, project, accepted_at DESC, observation_id DESC);
{observations fts}
CREATE TABLE summaries (
	id               {id},
	session_id       TEXT NOT NULL,
	project          TEXT NOT NULL DEFAULT '',
	request          TEXT NOT NULL DEFAULT '',
	investigated     TEXT NOT NULL DEFAULT '',
	learned          TEXT NOT NULL DEFAULT '',
	completed        TEXT NOT NULL DEFAULT '',
	next_steps       TEXT NOT NULL DEFAULT '',
	notes            TEXT NOT NULL DEFAULT '',
	prompt_number    INTEGER NOT NULL DEFAULT 0,
	accepted_at      {time} NOT NULL,
	source_event_ids {json} NOT NULL DEFAULT '[]',
	created_at       {time} NOT NULL
);
CREATE INDEX summaries_by_project ON summaries (project, accepted_at DESC, id DESC);
CREATE INDEX summaries_by_session ON summaries (session_id, accepted_at, id);

CREATE TABLE applied_events (
	event_id    {text key},
	session_id  TEXT NOT NULL,
	seq         {int64} NOT NULL,
	kind        TEXT NOT NULL DEFAULT '',
	accepted_at {time} NOT NULL,
	dead        {bool},
	applied_at  {time} NOT NULL
){without rowid};
CREATE INDEX applied_events_by_session ON applied_events (session_id, seq);

CREATE TABLE session_cursors (
	session_id {text key},
	last_seq   {int64} NOT NULL DEFAULT 0,
	fence      {int64} NOT NULL DEFAULT 0,
	updated_at {time} NOT NULL{now}
){without rowid};

CREATE TABLE llm_usage (
	id            {id},
	session_id    TEXT NOT NULL,
	project       TEXT NOT NULL DEFAULT '',
	provider      TEXT NOT NULL DEFAULT '',
	model         TEXT NOT NULL DEFAULT '',
	input_tokens  {int64} NOT NULL DEFAULT 0,
	output_tokens {int64} NOT NULL DEFAULT 0,
	at            {time} NOT NULL
);
CREATE INDEX llm_usage_by_time ON llm_usage (at);
CREATE INDEX llm_usage_by_project ON llm_usage (project, at);

CREATE TABLE dead_letters (
	id          {id},
	event_id    TEXT NOT NULL,
	session_id  TEXT NOT NULL DEFAULT '',
	seq         {int64} NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	deliveries  INTEGER NOT NULL DEFAULT 0,
	payload     {blob},
	at          {time} NOT NULL,
	replayed_as TEXT NOT NULL DEFAULT '',
	UNIQUE (event_id, seq)
);
CREATE INDEX dead_letters_by_time ON dead_letters (at DESC, id DESC);
CREATE INDEX dead_letters_by_session ON dead_letters (session_id);

CREATE TABLE conversations (
	session_id {text key},
	provider   TEXT NOT NULL DEFAULT '',
	state      {blob} NOT NULL,
	updated_at {time} NOT NULL
){without rowid};
`

// sqliteTypes fills in schemaV1 (and the other migrations written once) for
// SQLite. Times are INTEGER microseconds since the Unix epoch, UTC; lists
// are JSON text. observations_fts is an external-content FTS5 index kept in
// sync by triggers; its rank weighs title 10, subtitle 5, narrative 1,
// facts 5, concepts 3 (bm25).
var sqliteTypes = strings.NewReplacer(
	"{time}", "INTEGER",
	"{int64}", "INTEGER",
	"{id}", "INTEGER PRIMARY KEY AUTOINCREMENT",
	"{json}", "TEXT",
	"{bool}", "INTEGER NOT NULL DEFAULT 0",
	"{blob}", "BLOB",
	"{text key}", "TEXT NOT NULL PRIMARY KEY",
	"{without rowid}", " WITHOUT ROWID",
	"{now}", "",
	"{observations search}", "",
	"{observations index}", "",
	"{observations fts}", `
CREATE VIRTUAL TABLE observations_fts USING fts5 (
	title, subtitle, narrative, facts, concepts,
	content = 'observations', content_rowid = 'id',
	tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO observations_fts (observations_fts, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0, 5.0, 3.0)');`+
		ftsTriggers("observations", "title, subtitle, narrative, facts, concepts", "title, subtitle, narrative, facts, concepts")+"\n",
)

// postgresTypes fills in schemaV1 (and the other migrations written once)
// for PostgreSQL. The search column weighs title A, subtitle, facts and
// concepts B, narrative C (ts_rank's defaults make that 1.0, 0.4, 0.2).
var postgresTypes = strings.NewReplacer(
	"{time}", "TIMESTAMPTZ",
	"{int64}", "BIGINT",
	"{id}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
	"{json}", "JSONB",
	"{bool}", "BOOLEAN NOT NULL DEFAULT false",
	"{blob}", "BYTEA",
	"{text key}", "TEXT PRIMARY KEY",
	"{without rowid}", "",
	"{now}", " DEFAULT now()",
	"{observations search}", `,
	search           TSVECTOR GENERATED ALWAYS AS (
		setweight(to_tsvector('english', title), 'A') ||
		setweight(to_tsvector('english', subtitle) || to_tsvector('english', facts) || to_tsvector('english', concepts), 'B') ||
		setweight(to_tsvector('english', narrative), 'C')
	) STORED`,
	"{observations index}", "CREATE INDEX observations_search ON observations USING GIN (search);\n",
	"{observations fts}", "",
)

var (
	sqliteSchemaV1   = sqliteTypes.Replace(schemaV1)
	postgresSchemaV1 = postgresTypes.Replace(schemaV1)
)

// ftsTriggers keeps the external-content FTS5 index table_fts in step with
// every write, delete and re-write of table's rows: cols are the indexed
// columns, updateOf those whose change re-indexes a row.
func ftsTriggers(table, cols, updateOf string) string {
	newCols := "new.id, new." + strings.ReplaceAll(cols, ", ", ", new.")
	oldCols := "old.id, old." + strings.ReplaceAll(cols, ", ", ", old.")
	fts := table + "_fts"
	insert := "\tINSERT INTO " + fts + " (rowid, " + cols + ")\n\tVALUES (" + newCols + ");\n"
	remove := "\tINSERT INTO " + fts + " (" + fts + ", rowid, " + cols + ")\n\tVALUES ('delete', " + oldCols + ");\n"
	return "\nCREATE TRIGGER " + fts + "_insert AFTER INSERT ON " + table + " BEGIN\n" + insert + "END;" +
		"\nCREATE TRIGGER " + fts + "_delete AFTER DELETE ON " + table + " BEGIN\n" + remove + "END;" +
		"\nCREATE TRIGGER " + fts + "_update AFTER UPDATE OF " + updateOf + " ON " + table + " BEGIN\n" + remove + insert + "END;"
}

// importKeysV4 gives imported observations and summaries their stable key
// (unique: an import run twice writes each row once) and the store an
// identity, so the rows it made are keyed in its exports (imports.go).
const importKeysV4 = `
ALTER TABLE observations ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX observations_by_import_key ON observations (import_key);
ALTER TABLE summaries ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX summaries_by_import_key ON summaries (import_key);
CREATE TABLE store_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
`

const sqliteImportKeysV4 = importKeysV4 + `INSERT INTO store_meta (k, v) VALUES ('id', lower(hex(randomblob(16))));`

const postgresImportKeysV4 = importKeysV4 + `INSERT INTO store_meta (k, v) VALUES ('id', md5(random()::text || clock_timestamp()::text));`
