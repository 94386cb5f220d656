//! The history's schema: one list of migrations, each with its SQLite and PostgreSQL
//! text, applied by the storage layer ([`crate::db`]) when a history opens.

use super::{History, HistoryError, APPLICATION_ID};
use crate::db::{Migration, Schema};

/// The history's migrations. Append, never edit. On SQLite `user_version` = number
/// applied; on PostgreSQL they are numbered in `refinery_history_schema` (apart from the
/// queue's, so both can live in one database). PostgreSQL compares text byte-wise
/// (`COLLATE "C"`) so sorting matches SQLite.
pub(super) static SCHEMA: Schema = Schema {
    application_id: APPLICATION_ID,
    pg_table: "refinery_history_schema",
    migrations: &[
        // 1: events, attempts, artifacts.
        Migration {
            sqlite: r"
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        package     TEXT,
        package_key TEXT,
        version     TEXT,
        run_id      TEXT,
        detail      TEXT NOT NULL DEFAULT '',
        data        TEXT NOT NULL DEFAULT 'null'
    );
    CREATE INDEX events_by_package ON events (package_key, id);
    CREATE INDEX events_by_kind ON events (kind);
    CREATE INDEX events_by_run ON events (run_id, id);
    CREATE TRIGGER events_append_only BEFORE UPDATE ON events
    BEGIN
        SELECT RAISE(ABORT, 'history events are append-only');
    END;

    CREATE TABLE attempts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp     TEXT NOT NULL,
        package       TEXT NOT NULL,
        package_key   TEXT NOT NULL,
        version       TEXT NOT NULL,
        python_tag    TEXT NOT NULL,
        platform      TEXT NOT NULL,
        variant       TEXT NOT NULL,
        attempt       INTEGER NOT NULL,
        status        TEXT NOT NULL,
        duration_secs REAL NOT NULL,
        log_path      TEXT,
        hints         TEXT NOT NULL DEFAULT '[]',
        worker        TEXT,
        run_id        TEXT,
        detail        TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX attempts_by_package ON attempts (package_key, id);
    CREATE INDEX attempts_by_package_version ON attempts (package_key, version, id);
    CREATE INDEX attempts_by_status ON attempts (status);
    CREATE TRIGGER attempts_append_only BEFORE UPDATE ON attempts
    BEGIN
        SELECT RAISE(ABORT, 'build attempts are append-only');
    END;

    CREATE TABLE artifacts (
        key         TEXT PRIMARY KEY,
        filename    TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );

    PRAGMA application_id = 1380339289;
    ",
            postgres: Some(
                r#"
    CREATE TABLE events (
        id          BIGSERIAL PRIMARY KEY,
        timestamp   TEXT NOT NULL,
        kind        TEXT COLLATE "C" NOT NULL,
        package     TEXT COLLATE "C",
        package_key TEXT COLLATE "C",
        version     TEXT COLLATE "C",
        run_id      TEXT,
        detail      TEXT NOT NULL DEFAULT '',
        data        TEXT NOT NULL DEFAULT 'null'
    );
    CREATE INDEX events_by_package ON events (package_key, id);
    CREATE INDEX events_by_kind ON events (kind);
    CREATE INDEX events_by_run ON events (run_id, id);

    CREATE OR REPLACE FUNCTION refinery_history_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        RAISE EXCEPTION '% are append-only', TG_ARGV[0];
    END
    $fn$;
    CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        FOR EACH ROW EXECUTE FUNCTION refinery_history_append_only('history events');

    CREATE TABLE attempts (
        id            BIGSERIAL PRIMARY KEY,
        timestamp     TEXT NOT NULL,
        package       TEXT COLLATE "C" NOT NULL,
        package_key   TEXT COLLATE "C" NOT NULL,
        version       TEXT COLLATE "C" NOT NULL,
        python_tag    TEXT NOT NULL,
        platform      TEXT NOT NULL,
        variant       TEXT COLLATE "C" NOT NULL,
        attempt       BIGINT NOT NULL,
        status        TEXT COLLATE "C" NOT NULL,
        duration_secs DOUBLE PRECISION NOT NULL,
        log_path      TEXT,
        hints         TEXT NOT NULL DEFAULT '[]',
        worker        TEXT,
        run_id        TEXT,
        detail        TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX attempts_by_package ON attempts (package_key, id);
    CREATE INDEX attempts_by_package_version ON attempts (package_key, version, id);
    CREATE INDEX attempts_by_status ON attempts (status);
    CREATE TRIGGER attempts_append_only BEFORE UPDATE ON attempts
        FOR EACH ROW EXECUTE FUNCTION refinery_history_append_only('build attempts');

    CREATE TABLE artifacts (
        key         TEXT COLLATE "C" PRIMARY KEY,
        filename    TEXT COLLATE "C" NOT NULL,
        sha256      TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
"#,
            ),
        },
        // 2: the environment (base, or base+layer) each attempt ran in.
        Migration::same("ALTER TABLE attempts ADD COLUMN environment TEXT;"),
        // 3: every (file name, sha256) ever recorded, append-only (an artifact's row is
        // replaced when its key is rebuilt; a name once given to bytes stays theirs).
        Migration::same(
            "CREATE TABLE artifact_names (
                filename TEXT NOT NULL,
                sha256   TEXT NOT NULL,
                PRIMARY KEY (filename, sha256)
            );
            INSERT INTO artifact_names (filename, sha256)
                SELECT DISTINCT filename, sha256 FROM artifacts;",
        ),
    ],
};

/// The schema version this build of the refinery writes.
pub const SCHEMA_VERSION: i64 = SCHEMA.version();

impl History {
    pub(super) fn too_new(&self, found: i64) -> HistoryError {
        HistoryError::TooNew {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        }
    }
}
