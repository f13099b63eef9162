package store

// Migration 10 opens the observation types (docs/ARCHITECTURE.md §17): the
// schema's CHECK listed claude-mem's six code-mode types and refused
// security_alert, security_note and every other mode's types; it now checks
// the shape event.CheckObservationType checks.
//
// PostgreSQL swaps the constraint. SQLite cannot alter a CHECK, so
// observations is rebuilt with the same rows and IDs. Its DROP deletes
// observation_files' and observation_vectors' rows by their cascade (no
// trigger fires, so the full-text index, keyed by the unchanged IDs, stays
// as it is); they are kept aside and put back.

const postgresOpenTypesV10 = `
ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_type_check;
ALTER TABLE observations ADD CONSTRAINT observations_type_shape CHECK (type ~ '^[a-z][a-z0-9_-]{0,31}$');
`

var sqliteOpenTypesV10 = `
CREATE TABLE observation_files_v9 AS SELECT * FROM observation_files;
CREATE TABLE observation_vectors_v9 AS SELECT * FROM observation_vectors;
CREATE TABLE observations_v10 (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id       TEXT NOT NULL,
	project          TEXT NOT NULL,
	type             TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 32 AND type GLOB '[a-z]*' AND type NOT GLOB '*[^a-z0-9_-]*'),
	title            TEXT NOT NULL DEFAULT '',
	subtitle         TEXT NOT NULL DEFAULT '',
	narrative        TEXT NOT NULL DEFAULT '',
	facts            TEXT NOT NULL DEFAULT '[]',
	concepts         TEXT NOT NULL DEFAULT '[]',
	files_read       TEXT NOT NULL DEFAULT '[]',
	files_modified   TEXT NOT NULL DEFAULT '[]',
	prompt_number    INTEGER NOT NULL DEFAULT 0,
	accepted_at      INTEGER NOT NULL,
	source_event_ids TEXT NOT NULL DEFAULT '[]',
	created_at       INTEGER NOT NULL,
	project_key      TEXT GENERATED ALWAYS AS (hex(project) || '0') VIRTUAL,
	import_key       TEXT,
	discovery_tokens BIGINT NOT NULL DEFAULT 0
);
INSERT INTO observations_v10 (id, session_id, project, type, title, subtitle, narrative, facts, concepts, files_read,
	files_modified, prompt_number, accepted_at, source_event_ids, created_at, import_key, discovery_tokens)
	SELECT id, session_id, project, type, title, subtitle, narrative, facts, concepts, files_read,
	files_modified, prompt_number, accepted_at, source_event_ids, created_at, import_key, discovery_tokens
	FROM observations ORDER BY id;
UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence WHERE name IN ('observations', 'observations_v10'))
	WHERE name = 'observations_v10';
DROP TABLE observations;
ALTER TABLE observations_v10 RENAME TO observations;
CREATE INDEX observations_by_project ON observations (project, accepted_at DESC, id DESC);
CREATE INDEX observations_by_session ON observations (session_id, accepted_at, id);
CREATE INDEX observations_by_time ON observations (accepted_at DESC, id DESC);
CREATE UNIQUE INDEX observations_by_import_key ON observations (import_key);` + observationsFTSTriggersV2 + `
INSERT INTO observation_files SELECT * FROM observation_files_v9;
DROP TABLE observation_files_v9;
INSERT INTO observation_vectors SELECT * FROM observation_vectors_v9;
DROP TABLE observation_vectors_v9;
`
