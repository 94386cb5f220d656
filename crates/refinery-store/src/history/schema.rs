//! The history's schema: the migrations of each backend, and opening an SQLite file
//! (identity check, WAL, migration).

use std::time::{Duration, Instant};

use rusqlite::{ErrorCode, TransactionBehavior};

use super::{Db, History, HistoryError, APPLICATION_ID};
use crate::db::PgMigrations;

/// Schema migrations; `user_version` = number of migrations applied. Append, never edit.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: events, attempts, artifacts.
    r#"
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
    "#,
    // 2: the environment (base, or base+layer) each attempt ran in.
    "ALTER TABLE attempts ADD COLUMN environment TEXT;",
];

/// The schema version this build of the refinery writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// PostgreSQL migrations of the history, numbered in `refinery_history_schema` (apart
/// from the queue's, so both can live in one database). Append, never edit. Text is
/// compared byte-wise (`COLLATE "C"`) so sorting matches SQLite.
pub(super) const PG_MIGRATIONS: &[&str] = &[
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
    // 2: the environment (base, or base+layer) each attempt ran in.
    "ALTER TABLE attempts ADD COLUMN environment TEXT;",
];

/// The history's PostgreSQL migrations, under the advisory lock "RFNY".
pub(super) static PG_HISTORY: PgMigrations = PgMigrations {
    table: "refinery_history_schema",
    lock: APPLICATION_ID as i64,
    list: PG_MIGRATIONS,
};
impl History {
    /// Refuses SQLite files that belong to some other program.
    pub(super) fn check_identity(&self) -> Result<(), HistoryError> {
        // One read transaction, so a process creating the schema right now is seen either
        // before or after (not half-way: tables made but the file not yet marked as ours).
        let (app_id, version, tables) = (|| -> rusqlite::Result<(i32, i64, i64)> {
            let tx = self.sqlite().unchecked_transaction()?;
            let app_id = tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
            let version = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
            let tables = tx.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )?;
            tx.commit()?;
            Ok((app_id, version, tables))
        })()
        .map_err(|e| self.err(e))?;
        if app_id == APPLICATION_ID {
            return Ok(());
        }
        if app_id != 0 {
            return Err(HistoryError::NotHistory {
                path: self.path.clone(),
                reason: format!("it belongs to another program: application id {app_id:#x}"),
            });
        }
        if version != 0 || tables != 0 {
            return Err(HistoryError::NotHistory {
                path: self.path.clone(),
                reason: format!(
                    "it is an SQLite database of another program ({tables} tables, user \
                     version {version})"
                ),
            });
        }
        Ok(())
    }

    /// Switches to WAL. Changing the journal mode needs a moment of exclusive access, so
    /// retry while another connection (e.g. a second thread opening the same new file)
    /// holds the file.
    pub(super) fn enable_wal(&self, busy_timeout: Duration) -> Result<(), HistoryError> {
        let current: String = self
            .sqlite()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(|e| self.err(e))?;
        if current.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let deadline = Instant::now() + busy_timeout;
        loop {
            match self
                .sqlite()
                .query_row("PRAGMA journal_mode = WAL", [], |row| {
                    row.get::<_, String>(0)
                }) {
                // A filesystem without shared memory support keeps the old mode: still usable.
                Ok(_) => return Ok(()),
                Err(e)
                    if matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    pub(super) fn migrate(&mut self) -> Result<(), HistoryError> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(self.too_new(version));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let path = self.path.clone();
        let map = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                HistoryError::Locked { path: path.clone() }
            }
            _ => HistoryError::Sqlite {
                path: path.clone(),
                source,
            },
        };
        let Db::Sqlite(conn) = &mut self.db else {
            unreachable!("PostgreSQL migrates when it connects");
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        // Another process may have migrated while we waited for the write lock.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(map)?;
        if version > SCHEMA_VERSION {
            drop(tx);
            return Err(self.too_new(version));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(map)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)
                .map_err(map)?;
        }
        tx.commit().map_err(map)
    }

    pub(super) fn too_new(&self, found: i64) -> HistoryError {
        HistoryError::TooNew {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        }
    }
}
