package store

// Migration 5 indexes prompts and summaries for full-text search, as
// observations are, so search can answer claude-mem's type=prompts and
// type=sessions (docs/SEARCH.md).
//
// SQLite: prompts is rebuilt as a rowid table (its key stays unique) so an
// external-content FTS5 index can point at its rows, like observations_fts;
// summaries already has one. Triggers keep both indexes in step with every
// write, delete and re-write of a row.
var sqliteTextSearchV5 = `
CREATE TABLE prompts_v4 (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT NOT NULL,
	number     INTEGER NOT NULL,
	text       TEXT NOT NULL DEFAULT '',
	at         INTEGER NOT NULL,
	private    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (session_id, number)
);
INSERT INTO prompts_v4 (session_id, number, text, at, private)
	SELECT session_id, number, text, at, private FROM prompts ORDER BY at, session_id, number;
DROP TABLE prompts;
ALTER TABLE prompts_v4 RENAME TO prompts;
CREATE INDEX prompts_by_time ON prompts (at DESC, id DESC);

CREATE VIRTUAL TABLE prompts_fts USING fts5 (
	text,
	content = 'prompts', content_rowid = 'id',
	tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO prompts_fts (prompts_fts) VALUES ('rebuild');
CREATE TRIGGER prompts_fts_insert AFTER INSERT ON prompts BEGIN
	INSERT INTO prompts_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER prompts_fts_delete AFTER DELETE ON prompts BEGIN
	INSERT INTO prompts_fts (prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER prompts_fts_update AFTER UPDATE OF text ON prompts BEGIN
	INSERT INTO prompts_fts (prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);
	INSERT INTO prompts_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE VIRTUAL TABLE summaries_fts USING fts5 (
	request, investigated, learned, completed, next_steps, notes,
	content = 'summaries', content_rowid = 'id',
	tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO summaries_fts (summaries_fts, rank) VALUES ('rank', 'bm25(5.0, 1.0, 3.0, 3.0, 1.0, 1.0)');
INSERT INTO summaries_fts (summaries_fts) VALUES ('rebuild');` +
	ftsTriggers("summaries", "request, investigated, learned, completed, next_steps, notes", "request, investigated, learned, completed, next_steps, notes") + `
CREATE INDEX sessions_by_agent ON sessions (agent);
`

// PostgreSQL: generated tsvector columns with GIN indexes, as observations
// have; a summary's request weighs most (A), what was learned and done B.
const postgresTextSearchV5 = `
ALTER TABLE prompts ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX prompts_search ON prompts USING GIN (search);
CREATE INDEX prompts_by_time ON prompts (at DESC);
ALTER TABLE summaries ADD COLUMN search TSVECTOR GENERATED ALWAYS AS (
	setweight(to_tsvector('english', request), 'A') ||
	setweight(to_tsvector('english', learned) || to_tsvector('english', completed), 'B') ||
	setweight(to_tsvector('english', investigated) || to_tsvector('english', next_steps) || to_tsvector('english', notes), 'C')
) STORED;
CREATE INDEX summaries_search ON summaries USING GIN (search);
CREATE INDEX sessions_by_agent ON sessions (agent);
`
