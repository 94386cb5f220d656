//! Versioned migrations of the storage layer: each store (history, queue) has ONE list,
//! numbered alike on both backends (migration `n` has an SQLite and a PostgreSQL text,
//! often the same), applied once at open, in order, inside one transaction; a database
//! newer than the list is refused.
//!
//! Where the version is recorded (unchanged from the stores' first releases, so their
//! databases open as they are):
//! * SQLite: `PRAGMA user_version` of the store's own file, which `PRAGMA application_id`
//!   marks as the store's (a file of another program or store is refused);
//! * PostgreSQL: one row per applied migration in the store's table
//!   (`refinery_history_schema`, `refinery_queue_schema`). Both stores may share one
//!   database: their tables are disjoint and every migration of either runs under the same
//!   advisory lock, so two stores (or processes) opening a fresh database at once take
//!   turns instead of racing on `CREATE SCHEMA`.

use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};

use super::{Conn, PgConn, RowExt, Value};
use crate::queue_error::QueueError;

/// The advisory lock every PostgreSQL migration of the refinery runs under ("RFNM").
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x5246_4E4D;

/// One step of a store's schema. Append, never edit: databases record how many ran.
#[derive(Debug)]
pub(crate) struct Migration {
    pub sqlite: &'static str,
    /// PostgreSQL's own text; `None`: the SQLite text in PostgreSQL's spelling
    /// ([`postgres_spelling`]).
    pub postgres: Option<&'static str>,
}

impl Migration {
    /// A step both backends read alike.
    pub(crate) const fn same(sql: &'static str) -> Self {
        Migration {
            sqlite: sql,
            postgres: Some(sql),
        }
    }

    /// A step written once, in SQLite's spelling, whose PostgreSQL text differs only in
    /// the integer types ([`postgres_spelling`]).
    pub(crate) const fn portable(sqlite: &'static str) -> Self {
        Migration {
            sqlite,
            postgres: None,
        }
    }

    /// The text PostgreSQL runs.
    pub(crate) fn postgres_text(&self) -> std::borrow::Cow<'static, str> {
        match self.postgres {
            Some(text) => text.into(),
            None => postgres_spelling(self.sqlite).into(),
        }
    }
}

/// SQLite DDL in PostgreSQL's spelling: `INTEGER PRIMARY KEY AUTOINCREMENT` is
/// `BIGSERIAL PRIMARY KEY`, and every other `INTEGER` (SQLite's are 64-bit) is `BIGINT`.
/// Only whole words change; nothing else (SQLite's "Datatypes" and PostgreSQL's
/// "Numeric Types" chapters).
pub(crate) fn postgres_spelling(sqlite: &str) -> String {
    let serial = sqlite.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY");
    let mut out = String::with_capacity(serial.len());
    let mut rest = serial.as_str();
    while let Some(at) = rest.find("INTEGER") {
        let before = rest[..at].chars().next_back();
        let after = rest[at + "INTEGER".len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..at]);
        out.push_str(if word(before) || word(after) {
            "INTEGER"
        } else {
            "BIGINT"
        });
        rest = &rest[at + "INTEGER".len()..];
    }
    out.push_str(rest);
    out
}

/// A store's schema: its migrations and how each backend records them.
#[derive(Debug)]
pub(crate) struct Schema {
    /// SQLite `PRAGMA application_id` that marks a file as this store's.
    pub application_id: i32,
    /// PostgreSQL table that records the applied migrations.
    pub pg_table: &'static str,
    pub migrations: &'static [Migration],
}

impl Schema {
    /// The schema version this build writes (the number of migrations).
    pub(crate) const fn version(&self) -> i64 {
        self.migrations.len() as i64
    }
}

/// Why a database could not be migrated.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// The file is not this store's (`reason` says whose it seems to be).
    NotOurs(String),
    /// The database has more migrations than this build knows.
    TooNew { found: i64, supported: i64 },
    /// SQLite failed (busy, I/O, …); callers map it to their own error.
    Sqlite(rusqlite::Error),
    /// PostgreSQL failed.
    Postgres(QueueError),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
            MigrateError::NotOurs("the file is not an SQLite database".into())
        } else {
            MigrateError::Sqlite(e)
        }
    }
}

impl From<QueueError> for MigrateError {
    fn from(e: QueueError) -> Self {
        MigrateError::Postgres(e)
    }
}

/// Checks that the SQLite file on `conn` is `schema`'s store (or empty), switches it to
/// WAL and applies the migrations it lacks under `BEGIN IMMEDIATE` (a racing opener waits
/// up to the connection's busy timeout, then finds them applied).
pub(crate) fn migrate_sqlite(
    conn: &Connection,
    schema: &Schema,
    busy_timeout: Duration,
) -> Result<(), MigrateError> {
    let supported = schema.version();
    // One read transaction, so a process creating the schema right now is seen either
    // before or after (not half-way: tables made but the file not yet marked as ours).
    let (app_id, version, tables) = {
        let tx = conn.unchecked_transaction()?;
        let app_id: i32 = tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let tables: i64 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )?;
        tx.commit()?;
        (app_id, version, tables)
    };
    if app_id != schema.application_id {
        if app_id != 0 {
            return Err(MigrateError::NotOurs(format!(
                "it belongs to another program: application id {app_id:#x}"
            )));
        }
        if version != 0 || tables != 0 {
            return Err(MigrateError::NotOurs(format!(
                "it is an SQLite database of another program ({tables} tables, user \
                 version {version})"
            )));
        }
    }
    if version > supported {
        return Err(MigrateError::TooNew {
            found: version,
            supported,
        });
    }
    enable_wal(conn, busy_timeout)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    if version == supported {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| {
        // Another process may have migrated while we waited for the write lock.
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > supported {
            return Err(MigrateError::TooNew {
                found: version,
                supported,
            });
        }
        for (i, migration) in schema.migrations.iter().enumerate().skip(version as usize) {
            conn.execute_batch(migration.sqlite)?;
            conn.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        conn.pragma_update(None, "application_id", schema.application_id)?;
        Ok(())
    })();
    match applied {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Switches to WAL. Changing the journal mode needs a moment of exclusive access, so
/// retry while another connection (e.g. a second thread opening the same new file) holds
/// the file.
fn enable_wal(conn: &Connection, busy_timeout: Duration) -> Result<(), MigrateError> {
    let current: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if current.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let deadline = Instant::now() + busy_timeout;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
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
            Err(e) => return Err(e.into()),
        }
    }
}

/// Applies the migrations `schema` lacks in the PostgreSQL database on `conn` (creating
/// `search_schema` first when given, and setting the search path to it), under
/// [`PG_MIGRATION_LOCK`] in one transaction.
pub(crate) fn migrate_postgres(
    conn: &mut PgConn,
    schema: &Schema,
    search_schema: Option<&str>,
) -> Result<(), MigrateError> {
    conn.batch("BEGIN")?;
    let applied = (|| {
        conn.batch(&format!(
            "SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"
        ))?;
        // Under the lock: concurrent `CREATE SCHEMA IF NOT EXISTS` can fail on a unique
        // violation. The (session-wide) search path holds once committed.
        if let Some(name) = search_schema {
            let name = quote_ident(name);
            conn.batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {name}; SET search_path TO {name}"
            ))?;
        }
        let table = schema.pg_table;
        conn.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL)"
        ))?;
        let found = conn
            .query(&format!("SELECT MAX(version) FROM {table}"), &[])?
            .first()
            .map_or(0, |r| r.int(0));
        let supported = schema.version();
        if found > supported {
            return Err(MigrateError::TooNew { found, supported });
        }
        for (i, migration) in schema.migrations.iter().enumerate().skip(found as usize) {
            conn.batch(&migration.postgres_text())?;
            conn.execute(
                &format!("INSERT INTO {table} (version) VALUES ($1)"),
                &[Value::Int(i as i64 + 1)],
            )?;
        }
        Ok(())
    })();
    match applied {
        Ok(()) => Ok(conn.batch("COMMIT")?),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// `name` as a PostgreSQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::postgres_spelling;

    #[test]
    fn sqlite_integers_are_spelled_for_postgres_as_whole_words_only() {
        assert_eq!(
            postgres_spelling(
                "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL,\n\
                 m INTEGER, INTEGERS TEXT, x_INTEGER TEXT, note TEXT DEFAULT 'INTEGERx');"
            ),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL,\n\
             m BIGINT, INTEGERS TEXT, x_INTEGER TEXT, note TEXT DEFAULT 'INTEGERx');"
        );
    }
}
