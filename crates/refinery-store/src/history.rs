//! The history database: append-only events, one row per finished build attempt, and the
//! artifact index of the content-addressed store.
//!
//! SQLite in WAL mode with a 5 s busy timeout, so several processes and threads (each with
//! its own [`History`]) can write to the same file. The schema is created and migrated at
//! open from a list of migrations numbered by `PRAGMA user_version`; the file is marked as
//! ours with `PRAGMA application_id`.
//!
//! Or PostgreSQL, for a control plane whose workers on several hosts share one history:
//! [`History::open_url`] with `postgres://…` (or [`History::open`] with a path whose string
//! form is such a URL). The tables are the same, created by migrations of their own
//! (numbered in `refinery_history_schema`, next to the queue's tables); connections of
//! dropped handles are kept for reuse.
//!
//! Package names are stored as given, plus a PEP 503 normalized key used for lookups and
//! grouping, so `events_for("PyYAML")` finds events recorded for `pyyaml`.
//!
//! Attempt statuses: `success` is a success; `cancelled`, `canceled` and `skipped` are
//! neutral (neither success nor failure); every other status (`failed`, `timeout`,
//! `verify_failed`, …) counts as a failure.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::cell::RefCell;
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::manifest::normalize_name;
use crate::queue::{
    Backend as _, Conn as _, PgBackend, PgConn, PgMigrations, QueueError, Row, RowExt, Value,
};
use crate::time::now_rfc3339;

/// `PRAGMA application_id` of refinery history databases ("RFNY").
pub const APPLICATION_ID: i32 = 0x5246_4E59;

/// How long a writer waits for another one before giving up with [`HistoryError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations; `user_version` = number of migrations applied. Append, never edit.
const MIGRATIONS: &[&str] = &[
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

/// SQL condition: the attempt failed (see the module docs).
macro_rules! failed {
    () => {
        "status NOT IN ('success', 'cancelled', 'canceled', 'skipped')"
    };
}
/// SQL condition: the attempt counts as a success or a failure (not neutral).
macro_rules! decisive {
    () => {
        "status NOT IN ('cancelled', 'canceled', 'skipped')"
    };
}

/// SQL expression: the number of successful attempts of the group.
macro_rules! successes {
    () => {
        "COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0)"
    };
}
/// SQL expression: the number of failed attempts of the group (see the module docs).
macro_rules! failures {
    () => {
        "COALESCE(SUM(CASE WHEN status NOT IN ('success', 'cancelled', 'canceled', 'skipped') \
         THEN 1 ELSE 0 END), 0)"
    };
}

/// True if an attempt with this status counts as a failure (see the module docs).
pub fn is_failure_status(status: &str) -> bool {
    !matches!(status, "success" | "cancelled" | "canceled" | "skipped")
}

/// Errors of the history database. Each names the database file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot create folder {path} for the history database: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot open history database {path}: {source}; check that the cache folder exists \
         and is writable"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history database {path} is locked by another process; wait for it to finish (or \
         stop it) and retry"
    )]
    Locked { path: PathBuf },
    #[error(
        "{path} is not a refinery history database ({reason}); move it away or choose \
         another --cache folder"
    )]
    NotHistory { path: PathBuf, reason: String },
    #[error(
        "{path} is not a refinery history database (schema version {found} newer than this \
         refinery supports, {supported}); upgrade the refinery or choose another --cache folder"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "history database {path} holds invalid JSON in {table}.{column} of row {id} \
         ({source}); the file may be damaged"
    )]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        id: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode {what} as JSON for history database {path}: {source}")]
    Encode {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the history database {path} cannot be reached: {message}; check that it is running \
         and the URL is right"
    )]
    Unavailable { path: PathBuf, message: String },
    #[error("history database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error("the history database {path} {what} while this process had it open: what was written since is in the old file, which goes away when the process ends; stop the process, put the original file back (while the process still runs, a deleted file can be copied from /proc/<pid>/fd/), and start it again")]
    Replaced {
        path: PathBuf,
        /// `was deleted` or `was replaced by another file`.
        what: &'static str,
    },
    #[error("history database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// Something that happened, to be appended to the history.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// `scan`, `plan`, `reuse`, `build_start`, `build_end`, `repair`, `verify`, `failure`,
    /// `missing`, `cached`, …
    pub kind: String,
    pub package: Option<String>,
    pub version: Option<String>,
    pub run_id: Option<String>,
    pub detail: String,
    /// Free-form structured data (stored as JSON text).
    pub data: serde_json::Value,
}

impl Event {
    /// An event of `kind` with a human-readable `detail` and nothing else.
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Event {
            kind: kind.into(),
            detail: detail.into(),
            ..Event::default()
        }
    }

    /// Sets the package and version.
    pub fn with_package(mut self, package: impl Into<String>, version: impl Into<String>) -> Self {
        self.package = Some(package.into());
        self.version = Some(version.into());
        self
    }

    /// Sets the run id.
    pub fn with_run(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Sets the structured data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// A stored event.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    pub kind: String,
    pub package: Option<String>,
    pub version: Option<String>,
    pub run_id: Option<String>,
    pub detail: String,
    pub data: serde_json::Value,
}

/// One finished build attempt.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Attempt {
    pub package: String,
    pub version: String,
    pub python_tag: String,
    pub platform: String,
    pub variant: String,
    pub attempt: u32,
    /// `success`, `failed`, `timeout`, … (see the module docs).
    pub status: String,
    pub duration_secs: f64,
    pub log_path: Option<String>,
    pub hints: Vec<String>,
    pub worker: Option<String>,
    pub run_id: Option<String>,
    pub detail: String,
    /// The environment it ran in: a base (`rootfs-bookworm-…`) or `base+layer-…`.
    #[serde(default)]
    pub environment: Option<String>,
}

/// A stored build attempt.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AttemptRow {
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    pub package: String,
    pub version: String,
    pub python_tag: String,
    pub platform: String,
    pub variant: String,
    pub attempt: u32,
    pub status: String,
    pub duration_secs: f64,
    pub log_path: Option<String>,
    pub hints: Vec<String>,
    pub worker: Option<String>,
    pub run_id: Option<String>,
    pub detail: String,
    #[serde(default)]
    pub environment: Option<String>,
}

/// A package's failed attempts: how many, and what the latest one said.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FailureSummary {
    /// The name as recorded by the latest failed attempt.
    pub package: String,
    pub failures: u64,
    pub last_version: String,
    pub last_detail: String,
    pub last_hints: Vec<String>,
}

/// Successes and failures of one build variant of a package.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct VariantStats {
    pub variant: String,
    pub successes: u64,
    pub failures: u64,
}

/// A handle on the history database. `Send` but not `Sync`: open one per thread.
///
/// Either an SQLite file or a PostgreSQL database (see [`History::open_url`]); every query
/// is written once and runs on both.
pub struct History {
    db: Db,
    /// The SQLite file, or the PostgreSQL URL without its password.
    path: PathBuf,
}

enum Db {
    Sqlite(Connection),
    Postgres(Box<PgHistory>),
}

struct PgHistory {
    /// Always `Some` until dropped (then it goes back to [`PG_IDLE`]).
    conn: RefCell<Option<PgConn>>,
    backend: PgBackend,
    /// Identifies the database and schema for the idle pool.
    key: String,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        };
        f.debug_struct("History")
            .field("backend", &backend)
            .field("path", &self.path)
            .finish()
    }
}

/// PostgreSQL connections of dropped [`History`] handles, kept for the next open of the
/// same database (opening a connection costs a round trip and a migration check).
static PG_IDLE: Mutex<Vec<(String, PgConn)>> = Mutex::new(Vec::new());

/// Idle PostgreSQL connections kept at most (all databases together).
const PG_MAX_IDLE: usize = 32;

impl Drop for History {
    fn drop(&mut self) {
        if let Db::Postgres(pg) = &mut self.db {
            let PgHistory { conn, key, .. } = &mut **pg;
            if let Some(conn) = conn.get_mut().take() {
                if !conn.is_broken() {
                    if let Ok(mut idle) = PG_IDLE.lock() {
                        if idle.len() < PG_MAX_IDLE {
                            idle.push((std::mem::take(key), conn));
                        }
                    }
                }
            }
        }
    }
}

/// PostgreSQL migrations of the history, numbered in `refinery_history_schema` (apart
/// from the queue's, so both can live in one database). Append, never edit. Text is
/// compared byte-wise (`COLLATE "C"`) so sorting matches SQLite.
const PG_MIGRATIONS: &[&str] = &[
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
static PG_HISTORY: PgMigrations = PgMigrations {
    table: "refinery_history_schema",
    lock: APPLICATION_ID as i64,
    list: PG_MIGRATIONS,
};

/// True if `s` is a PostgreSQL URL (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// How to show a history location in messages: a PostgreSQL URL without its password, a
/// file path as it is.
pub fn display_location(path: &Path) -> String {
    match path.to_str().filter(|s| is_postgres_url(s)) {
        Some(url) => refinery_pep::redact_url(url.trim()),
        None => path.display().to_string(),
    }
}

fn limit_param(limit: usize) -> Value {
    Value::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// `?N` placeholders (SQLite) to `$N` (PostgreSQL). The queries hold no `?` otherwise.
fn pg_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Int(v) => V::Integer(*v),
        Value::Real(v) => V::Real(*v),
        Value::Text(s) => V::Text(s.clone()),
    }
}

fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match value {
        V::Null => Value::Null,
        V::Integer(v) => Value::Int(v),
        V::Real(v) => Value::Real(v),
        V::Text(t) | V::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

fn real(row: &Row, i: usize) -> f64 {
    match row.get(i) {
        Some(Value::Real(v)) => *v,
        Some(Value::Int(v)) => *v as f64,
        Some(Value::Text(t)) => t.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn count(row: &Row, i: usize) -> u64 {
    u64::try_from(row.int(i)).unwrap_or(0)
}

impl History {
    /// Opens (creating the parent folder and file if needed) and migrates the database.
    ///
    /// A `path` whose string form is a PostgreSQL URL (`postgres://…`, `postgresql://…`)
    /// opens that database instead (see [`History::open_url`]), so a `PathBuf` setting
    /// such as the build engine's `history_db` can carry either.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`History::open`] with a custom busy timeout (how long a write waits for
    /// another writer before failing with [`HistoryError::Locked`]; SQLite only).
    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<History, HistoryError> {
        match path.to_str().filter(|s| is_postgres_url(s)) {
            Some(url) => Self::open_postgres(url.trim(), None),
            None => Self::open_sqlite(path, busy_timeout),
        }
    }

    /// Opens the history at a database URL or file path: `postgres://…` or
    /// `postgresql://…` is a PostgreSQL database (tables created by its own migrations,
    /// next to the queue's); `sqlite:PATH` or anything else is an SQLite file path.
    pub fn open_url(url_or_path: &str) -> Result<History, HistoryError> {
        let s = url_or_path.trim();
        if is_postgres_url(s) {
            return Self::open_postgres(s, None);
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(url_or_path);
        Self::open_sqlite(Path::new(path), DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the history in a PostgreSQL database; `schema` (created if missing) keeps its
    /// tables apart from others in the same database (e.g. one per test), `None` uses the
    /// connection's default search path.
    pub fn open_postgres(url: &str, schema: Option<&str>) -> Result<History, HistoryError> {
        let path = PathBuf::from(refinery_pep::redact_url(url));
        let key = format!("{url}\u{0}{}", schema.unwrap_or(""));
        let backend = PgBackend::new(url, schema, &PG_HISTORY).map_err(|e| pg_error(&path, e))?;
        let idle = {
            let mut idle = PG_IDLE.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter()
                .rposition(|(k, c)| *k == key && !c.is_broken())
                .map(|i| idle.swap_remove(i).1)
        };
        let conn = match idle {
            Some(conn) => conn,
            None => backend.connect().map_err(|e| pg_error(&path, e))?,
        };
        Ok(History {
            db: Db::Postgres(Box::new(PgHistory {
                conn: RefCell::new(Some(conn)),
                backend,
                key,
            })),
            path,
        })
    }

    fn open_sqlite(path: &Path, busy_timeout: Duration) -> Result<History, HistoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs_err::create_dir_all(parent).map_err(|source| HistoryError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut history = History {
            db: Db::Sqlite(conn),
            path: path.to_path_buf(),
        };
        history
            .sqlite()
            .busy_timeout(busy_timeout)
            .map_err(|e| history.err(e))?;
        history.check_identity()?;
        history.enable_wal(busy_timeout)?;
        history
            .sqlite()
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| history.err(e))?;
        history.migrate()?;
        Ok(history)
    }

    /// The database file, or for PostgreSQL the URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the history lives in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    /// The schema version of the open database (per backend: each has its own list of
    /// migrations).
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        match &self.db {
            Db::Sqlite(conn) => conn
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(|e| self.err(e)),
            Db::Postgres(_) => Ok(self
                .rows("SELECT MAX(version) FROM refinery_history_schema", &[])?
                .first()
                .map_or(0, |r| r.int(0))),
        }
    }

    /// The SQLite connection; only called on SQLite-only paths (opening, migrating).
    fn sqlite(&self) -> &Connection {
        match &self.db {
            Db::Sqlite(conn) => conn,
            Db::Postgres(_) => unreachable!("an SQLite-only step on a PostgreSQL history"),
        }
    }

    fn err(&self, source: rusqlite::Error) -> HistoryError {
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => HistoryError::Locked {
                path: self.path.clone(),
            },
            Some(ErrorCode::NotADatabase) => HistoryError::NotHistory {
                path: self.path.clone(),
                reason: "the file is not an SQLite database".into(),
            },
            _ => HistoryError::Sqlite {
                path: self.path.clone(),
                source,
            },
        }
    }

    /// Runs a query (`?N` placeholders) and returns its rows.
    fn rows(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, HistoryError> {
        match &self.db {
            Db::Sqlite(conn) => {
                let run = || -> rusqlite::Result<Vec<Row>> {
                    let mut stmt = conn.prepare_cached(sql)?;
                    let columns = stmt.column_count();
                    let mut rows =
                        stmt.query(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next()? {
                        out.push(
                            (0..columns)
                                .map(|i| row.get_ref(i).map(from_sqlite))
                                .collect::<rusqlite::Result<Row>>()?,
                        );
                    }
                    Ok(out)
                };
                run().map_err(|e| self.err(e))
            }
            Db::Postgres(_) => {
                let sql = pg_placeholders(sql);
                self.with_pg(|conn| conn.query(&sql, params))
            }
        }
    }

    /// Runs a statement (`?N` placeholders); returns the number of rows changed.
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, HistoryError> {
        match &self.db {
            Db::Sqlite(conn) => conn
                .prepare_cached(sql)
                .and_then(|mut stmt| {
                    stmt.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))
                })
                .map(|n| n as u64)
                .map_err(|e| self.err(e)),
            Db::Postgres(_) => {
                let sql = pg_placeholders(sql);
                self.with_pg(|conn| conn.execute(&sql, params))
            }
        }
    }

    /// Runs `f` on the PostgreSQL connection; a connection that broke (server restarted,
    /// idle connection closed) is replaced and `f` tried once more.
    fn with_pg<T>(
        &self,
        f: impl Fn(&mut PgConn) -> Result<T, QueueError>,
    ) -> Result<T, HistoryError> {
        let Db::Postgres(pg) = &self.db else {
            unreachable!("a PostgreSQL step on an SQLite history");
        };
        let mut slot = pg.conn.borrow_mut();
        if let Some(c) = slot.as_mut() {
            match f(c) {
                Ok(v) => return Ok(v),
                Err(e) if !c.is_broken() => return Err(pg_error(&self.path, e)),
                Err(_) => {}
            }
        }
        *slot = None;
        let fresh = slot.insert(pg.backend.connect().map_err(|e| pg_error(&self.path, e))?);
        f(fresh).map_err(|e| pg_error(&self.path, e))
    }

    /// Refuses SQLite files that belong to some other program.
    fn check_identity(&self) -> Result<(), HistoryError> {
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
    fn enable_wal(&self, busy_timeout: Duration) -> Result<(), HistoryError> {
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

    fn migrate(&mut self) -> Result<(), HistoryError> {
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

    fn too_new(&self, found: i64) -> HistoryError {
        HistoryError::TooNew {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        }
    }

    fn encode_json<T: Serialize>(
        &self,
        what: &'static str,
        value: &T,
    ) -> Result<String, HistoryError> {
        serde_json::to_string(value).map_err(|source| HistoryError::Encode {
            path: self.path.clone(),
            what,
            source,
        })
    }

    fn decode_json<T: for<'de> Deserialize<'de>>(
        &self,
        table: &'static str,
        column: &'static str,
        id: i64,
        text: &str,
    ) -> Result<T, HistoryError> {
        serde_json::from_str(text).map_err(|source| HistoryError::Corrupt {
            path: self.path.clone(),
            table,
            column,
            id,
            source,
        })
    }

    /// Runs an `INSERT … RETURNING id`.
    fn insert(&self, sql: &str, params: &[Value]) -> Result<i64, HistoryError> {
        Ok(self.rows(sql, params)?.first().map_or(0, |r| r.int(0)))
    }

    /// Appends an event; returns its id.
    pub fn record_event(&self, event: &Event) -> Result<i64, HistoryError> {
        let data = self.encode_json("event data", &event.data)?;
        let key = event.package.as_deref().map(normalize_name);
        self.insert(
            "INSERT INTO events (timestamp, kind, package, package_key, version, run_id, \
             detail, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            &[
                now_rfc3339().into(),
                (&event.kind).into(),
                event.package.as_ref().into(),
                key.into(),
                event.version.as_ref().into(),
                event.run_id.as_ref().into(),
                (&event.detail).into(),
                data.into(),
            ],
        )
    }

    /// Appends one finished build attempt; returns its id.
    pub fn record_attempt(&self, attempt: &Attempt) -> Result<i64, HistoryError> {
        let hints = self.encode_json("attempt hints", &attempt.hints)?;
        self.insert(
            "INSERT INTO attempts (timestamp, package, package_key, version, python_tag, \
             platform, variant, attempt, status, duration_secs, log_path, hints, worker, \
             run_id, detail, environment) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             RETURNING id",
            &[
                now_rfc3339().into(),
                (&attempt.package).into(),
                normalize_name(&attempt.package).into(),
                (&attempt.version).into(),
                (&attempt.python_tag).into(),
                (&attempt.platform).into(),
                (&attempt.variant).into(),
                Value::Int(i64::from(attempt.attempt)),
                (&attempt.status).into(),
                Value::Real(attempt.duration_secs),
                attempt.log_path.as_ref().into(),
                hints.into(),
                attempt.worker.as_ref().into(),
                attempt.run_id.as_ref().into(),
                (&attempt.detail).into(),
                attempt.environment.as_ref().into(),
            ],
        )
    }

    fn query_events(&self, sql: &str, params: &[Value]) -> Result<Vec<EventRow>, HistoryError> {
        self.rows(sql, params)?
            .iter()
            .map(|row| {
                let id = row.int(0);
                Ok(EventRow {
                    id,
                    timestamp: row.text(1),
                    kind: row.text(2),
                    package: row.opt_text(3),
                    version: row.opt_text(4),
                    run_id: row.opt_text(5),
                    detail: row.text(6),
                    data: self.decode_json("events", "data", id, &row.text(7))?,
                })
            })
            .collect()
    }

    /// The latest events, newest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             ORDER BY id DESC LIMIT ?1",
            &[limit_param(limit)],
        )
    }

    /// The latest events of one package (name compared after normalization), newest first.
    pub fn events_for(&self, package: &str, limit: usize) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             WHERE package_key = ?1 ORDER BY id DESC LIMIT ?2",
            &[normalize_name(package).into(), limit_param(limit)],
        )
    }

    /// The latest build attempts of one package (name compared after normalization),
    /// newest first.
    pub fn attempts_for(
        &self,
        package: &str,
        limit: usize,
    ) -> Result<Vec<AttemptRow>, HistoryError> {
        self.rows(
            "SELECT id, timestamp, package, version, python_tag, platform, variant, \
             attempt, status, duration_secs, log_path, hints, worker, run_id, detail, \
             environment FROM attempts WHERE package_key = ?1 ORDER BY id DESC LIMIT ?2",
            &[normalize_name(package).into(), limit_param(limit)],
        )?
        .iter()
        .map(|row| {
            let id = row.int(0);
            Ok(AttemptRow {
                id,
                timestamp: row.text(1),
                package: row.text(2),
                version: row.text(3),
                python_tag: row.text(4),
                platform: row.text(5),
                variant: row.text(6),
                attempt: u32::try_from(row.int(7)).unwrap_or(0),
                status: row.text(8),
                duration_secs: real(row, 9),
                log_path: row.opt_text(10),
                hints: self.decode_json("attempts", "hints", id, &row.text(11))?,
                worker: row.opt_text(12),
                run_id: row.opt_text(13),
                detail: row.text(14),
                environment: row.opt_text(15),
            })
        })
        .collect()
    }

    /// Packages by number of failed attempts (most first, then by name), with the version,
    /// detail and hints of each package's latest failed attempt.
    pub fn top_failures(&self, limit: usize) -> Result<Vec<FailureSummary>, HistoryError> {
        self.rows(
            concat!(
                "SELECT a.package, f.failures, a.version, a.detail, a.hints, a.id \
                 FROM (SELECT package_key, COUNT(*) AS failures, MAX(id) AS last_id \
                       FROM attempts WHERE ",
                failed!(),
                " GROUP BY package_key) AS f \
                 JOIN attempts AS a ON a.id = f.last_id \
                 ORDER BY f.failures DESC, f.package_key ASC LIMIT ?1"
            ),
            &[limit_param(limit)],
        )?
        .iter()
        .map(|row| {
            Ok(FailureSummary {
                package: row.text(0),
                failures: count(row, 1),
                last_version: row.text(2),
                last_detail: row.text(3),
                last_hints: self.decode_json("attempts", "hints", row.int(5), &row.text(4))?,
            })
        })
        .collect()
    }

    /// Mean duration in seconds of the successful attempts, keyed by PEP 503 normalized
    /// package name.
    pub fn average_durations(&self) -> Result<HashMap<String, f64>, HistoryError> {
        Ok(self
            .rows(
                "SELECT package_key, AVG(duration_secs) FROM attempts \
                 WHERE status = 'success' GROUP BY package_key",
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), real(row, 1)))
            .collect())
    }

    /// `(package, version)` pairs whose latest decisive attempt (ignoring cancelled and
    /// skipped ones) failed, i.e. that never succeeded after their last failure. Package
    /// names are PEP 503 normalized; sorted by package, then version.
    pub fn known_failures(&self) -> Result<Vec<(String, String)>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT a.package_key, a.version \
                     FROM (SELECT MAX(id) AS last_id FROM attempts WHERE ",
                    decisive!(),
                    " GROUP BY package_key, version) AS l \
                     JOIN attempts AS a ON a.id = l.last_id \
                     WHERE a.",
                    failed!(),
                    " ORDER BY a.package_key, a.version"
                ),
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), row.text(1)))
            .collect())
    }

    /// Successes and failures per build variant of one package, sorted by variant.
    pub fn variant_stats(&self, package: &str) -> Result<Vec<VariantStats>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT variant, ",
                    successes!(),
                    ", ",
                    failures!(),
                    " FROM attempts WHERE package_key = ?1 GROUP BY variant ORDER BY variant"
                ),
                &[normalize_name(package).into()],
            )?
            .iter()
            .map(|row| VariantStats {
                variant: row.text(0),
                successes: count(row, 1),
                failures: count(row, 2),
            })
            .collect())
    }

    /// Number of events per kind.
    pub fn status_counts(&self) -> Result<BTreeMap<String, u64>, HistoryError> {
        Ok(self
            .rows("SELECT kind, COUNT(*) FROM events GROUP BY kind", &[])?
            .iter()
            .map(|row| (row.text(0), count(row, 1)))
            .collect())
    }

    /// Records (or replaces) which CAS object holds the artifact `key`.
    pub fn record_artifact(
        &self,
        key: &str,
        filename: &str,
        sha256: &str,
    ) -> Result<(), HistoryError> {
        self.exec(
            "INSERT INTO artifacts (key, filename, sha256, recorded_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (key) DO UPDATE SET filename = excluded.filename, \
             sha256 = excluded.sha256, recorded_at = excluded.recorded_at",
            &[
                key.into(),
                filename.into(),
                sha256.into(),
                now_rfc3339().into(),
            ],
        )?;
        Ok(())
    }

    /// The `(filename, sha256)` recorded for the artifact `key`.
    pub fn lookup_artifact(&self, key: &str) -> Result<Option<(String, String)>, HistoryError> {
        Ok(self
            .rows(
                "SELECT filename, sha256 FROM artifacts WHERE key = ?1",
                &[key.into()],
            )?
            .first()
            .map(|row| (row.text(0), row.text(1))))
    }

    /// Every artifact of the index: `(key, filename, sha256)`, by filename.
    pub fn artifacts(&self) -> Result<Vec<(String, String, String)>, HistoryError> {
        Ok(self
            .rows(
                "SELECT key, filename, sha256 FROM artifacts ORDER BY filename",
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), row.text(1), row.text(2)))
            .collect())
    }

    /// Events newest first, optionally of one package (normalized) and/or one kind, older
    /// than `before_id` (for paging).
    pub fn events_page(
        &self,
        package: Option<&str>,
        kind: Option<&str>,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             WHERE (CAST(?1 AS TEXT) IS NULL OR package_key = ?1) \
             AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) \
             AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4",
            &[
                package.map(normalize_name).into(),
                kind.into(),
                before_id.into(),
                limit_param(limit),
            ],
        )
    }

    /// Packages by mean duration of their successful attempts (slowest first), with
    /// their failure counts.
    pub fn top_slowest(&self, limit: usize) -> Result<Vec<SlowSummary>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT MAX(package), \
                            AVG(CASE WHEN status = 'success' THEN duration_secs END), \
                            MAX(duration_secs), ",
                    successes!(),
                    ", ",
                    failures!(),
                    " FROM attempts GROUP BY package_key HAVING ",
                    successes!(),
                    " > 0 ORDER BY 2 DESC, package_key LIMIT ?1"
                ),
                &[limit_param(limit)],
            )?
            .iter()
            .map(|row| SlowSummary {
                package: row.text(0),
                average_secs: real(row, 1),
                max_secs: real(row, 2),
                successes: count(row, 3),
                failures: count(row, 4),
            })
            .collect())
    }

    /// Every package with attempts or events: counts and its latest attempt.
    pub fn packages(&self, limit: usize) -> Result<Vec<PackageSummary>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT a.package, s.attempts, s.successes, s.failures, a.version, \
                            a.status, a.timestamp \
                     FROM (SELECT package_key, COUNT(*) AS attempts, ",
                    successes!(),
                    " AS successes, ",
                    failures!(),
                    " AS failures, MAX(id) AS last_id \
                           FROM attempts GROUP BY package_key) AS s \
                     JOIN attempts AS a ON a.id = s.last_id \
                     ORDER BY s.package_key LIMIT ?1"
                ),
                &[limit_param(limit)],
            )?
            .iter()
            .map(|row| PackageSummary {
                package: row.text(0),
                attempts: count(row, 1),
                successes: count(row, 2),
                failures: count(row, 3),
                last_version: row.text(4),
                last_status: row.text(5),
                last_timestamp: row.text(6),
            })
            .collect())
    }

    /// Number of attempts per status.
    pub fn attempt_status_counts(&self) -> Result<BTreeMap<String, u64>, HistoryError> {
        Ok(self
            .rows("SELECT status, COUNT(*) FROM attempts GROUP BY status", &[])?
            .iter()
            .map(|row| (row.text(0), count(row, 1)))
            .collect())
    }

    /// A histogram of attempt durations: the cumulative count at or below each bound of
    /// `bounds` (ascending), the total count and the sum of seconds.
    pub fn duration_histogram(&self, bounds: &[f64]) -> Result<(Vec<u64>, u64, f64), HistoryError> {
        let durations: Vec<f64> = self
            .rows("SELECT duration_secs FROM attempts", &[])?
            .iter()
            .map(|row| real(row, 0))
            .collect();
        let cumulative = bounds
            .iter()
            .map(|b| durations.iter().filter(|d| **d <= *b).count() as u64)
            .collect();
        Ok((cumulative, durations.len() as u64, durations.iter().sum()))
    }
}

/// A PostgreSQL error as a history error.
fn pg_error(path: &Path, e: QueueError) -> HistoryError {
    let path = path.to_path_buf();
    match e {
        QueueError::Unavailable { message, .. } => HistoryError::Unavailable { path, message },
        QueueError::TooNew {
            found, supported, ..
        } => HistoryError::TooNew {
            path,
            found,
            supported,
        },
        QueueError::Database { message, .. } => HistoryError::Database { path, message },
        other => HistoryError::Database {
            path,
            message: other.to_string(),
        },
    }
}

/// A package's build speed (successful attempts) and failures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SlowSummary {
    pub package: String,
    pub average_secs: f64,
    pub max_secs: f64,
    pub successes: u64,
    pub failures: u64,
}

/// One package of the history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageSummary {
    pub package: String,
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
    pub last_version: String,
    pub last_status: String,
    pub last_timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A history on one backend; a PostgreSQL one has its own schema, dropped afterwards.
    struct Fixture {
        history: Option<History>,
        _dir: Option<tempfile::TempDir>,
        drop_schema: Option<(String, String)>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            // Close the handle first (its connection goes back to the idle pool, unused).
            drop(self.history.take());
            if let Some((url, schema)) = &self.drop_schema {
                if let Ok(mut client) = ::postgres::Client::connect(url, ::postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
                }
            }
        }
    }

    impl Fixture {
        fn history(&self) -> &History {
            self.history.as_ref().expect("open until dropped")
        }
    }

    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("cache/v1/history.db")).unwrap();
        Fixture {
            history: Some(history),
            _dir: Some(dir),
            drop_schema: None,
        }
    }

    /// The test server's URL and a fresh schema name, or `None` (with a message).
    fn postgres_schema() -> Option<(String, String)> {
        let url = refinery_test_support::test_database_url()?;
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "refinery_history_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            crate::queue::now_ms()
        );
        Some((url, schema))
    }

    fn postgres() -> Option<Fixture> {
        let (url, schema) = postgres_schema()?;
        let history = History::open_postgres(&url, Some(&schema))
            .unwrap_or_else(|e| panic!("REFINERY_TEST_DATABASE_URL is set but: {e}"));
        Some(Fixture {
            history: Some(history),
            _dir: None,
            drop_schema: Some((url, schema)),
        })
    }

    /// A fixture that only drops the schema (for tests that open handles themselves).
    fn schema_guard(url: &str, schema: &str) -> Fixture {
        Fixture {
            history: None,
            _dir: None,
            drop_schema: Some((url.to_string(), schema.to_string())),
        }
    }

    macro_rules! on_both {
        ($($name:ident),* $(,)?) => {
            mod sqlite_backend {
                $( #[test] fn $name() { super::$name(super::sqlite().history()); } )*
            }
            mod postgres_backend {
                $( #[test] fn $name() {
                    if let Some(f) = super::postgres() { super::$name(f.history()); }
                } )*
            }
        };
    }

    on_both!(
        events_round_trip_newest_first,
        events_are_append_only,
        status_counts_by_kind,
        attempts_round_trip_newest_first,
        top_failures_ordering_and_last_details,
        known_failures_only_when_last_attempt_failed,
        average_durations_only_count_successes,
        variant_stats_per_variant,
        artifact_index_upserts,
        corrupt_json_is_reported_with_row,
        pages_slowest_packages_and_histogram,
    );

    fn attempt(package: &str, version: &str, variant: &str, status: &str, secs: f64) -> Attempt {
        Attempt {
            package: package.into(),
            version: version.into(),
            python_tag: "cp311".into(),
            platform: "manylinux_2_17_s390x".into(),
            variant: variant.into(),
            attempt: 1,
            status: status.into(),
            duration_secs: secs,
            detail: format!("{package} {version} {status}"),
            ..Attempt::default()
        }
    }

    #[test]
    fn history_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<History>();
    }

    #[test]
    fn open_creates_parents_and_reopen_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/history.db");
        {
            let history = History::open(&path).unwrap();
            assert_eq!(history.schema_version().unwrap(), SCHEMA_VERSION);
            history.record_event(&Event::new("scan", "first")).unwrap();
        }
        assert!(path.is_file());
        let again = History::open(&path).unwrap();
        let third = History::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
        third.record_event(&Event::new("scan", "second")).unwrap();
        let events = again.recent_events(10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].detail, "second");
        let mode: String = again
            .sqlite()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(again.path(), path);
    }

    fn events_round_trip_newest_first(history: &History) {
        let first = history
            .record_event(
                &Event::new("build_start", "building")
                    .with_package("PyYAML", "6.0.2")
                    .with_run("run-1")
                    .with_data(json!({"variant": "default", "jobs": 2})),
            )
            .unwrap();
        let second = history
            .record_event(&Event::new("plan", "3 nodes"))
            .unwrap();
        let third = history
            .record_event(&Event::new("build_end", "ok").with_package("pyyaml", "6.0.2"))
            .unwrap();
        assert!(first < second && second < third);

        let recent = history.recent_events(10).unwrap();
        let ids: Vec<_> = recent.iter().map(|e| e.id).collect();
        assert_eq!(ids, [third, second, first]);
        assert_eq!(history.recent_events(1).unwrap().len(), 1);
        assert!(history.recent_events(0).unwrap().is_empty());

        let row = &recent[2];
        assert_eq!(row.kind, "build_start");
        assert_eq!(row.package.as_deref(), Some("PyYAML"));
        assert_eq!(row.version.as_deref(), Some("6.0.2"));
        assert_eq!(row.run_id.as_deref(), Some("run-1"));
        assert_eq!(row.data, json!({"variant": "default", "jobs": 2}));
        assert_eq!(recent[1].data, serde_json::Value::Null);
        // RFC 3339 UTC with milliseconds.
        assert_eq!(row.timestamp.len(), 24, "{}", row.timestamp);
        assert!(row.timestamp.ends_with('Z'));
        assert_eq!(&row.timestamp[10..11], "T");

        // Lookups by package are normalization-insensitive.
        let for_pkg = history.events_for("pyyaml", 10).unwrap();
        assert_eq!(
            for_pkg.iter().map(|e| e.id).collect::<Vec<_>>(),
            [third, first]
        );
        assert_eq!(history.events_for("PyYAML", 1).unwrap()[0].id, third);
        assert!(history.events_for("numpy", 10).unwrap().is_empty());

        // Serializes flat.
        let value = serde_json::to_value(row).unwrap();
        assert_eq!(value["kind"], "build_start");
        assert_eq!(value["id"], first);
    }

    fn events_are_append_only(history: &History) {
        history.record_event(&Event::new("scan", "x")).unwrap();
        let err = history
            .exec("UPDATE events SET detail = 'changed'", &[])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    fn status_counts_by_kind(history: &History) {
        assert!(history.status_counts().unwrap().is_empty());
        for kind in [
            "scan",
            "build_start",
            "build_end",
            "build_start",
            "failure",
            "scan",
            "scan",
        ] {
            history.record_event(&Event::new(kind, "")).unwrap();
        }
        let counts = history.status_counts().unwrap();
        let expected: BTreeMap<String, u64> = [
            ("build_end".to_string(), 1),
            ("build_start".to_string(), 2),
            ("failure".to_string(), 1),
            ("scan".to_string(), 3),
        ]
        .into_iter()
        .collect();
        assert_eq!(counts, expected);
    }

    fn attempts_round_trip_newest_first(history: &History) {
        let mut a = attempt("regex", "2024.11.6", "default", "failed", 12.0);
        a.hints = vec!["gcc".into(), "libffi-dev".into()];
        a.log_path = Some("logs/regex-1.log".into());
        a.worker = Some("worker-1".into());
        a.run_id = Some("run-7".into());
        let first = history.record_attempt(&a).unwrap();
        let mut b = attempt("regex", "2024.11.6", "cross", "success", 24.9);
        b.attempt = 2;
        let second = history.record_attempt(&b).unwrap();
        history
            .record_attempt(&attempt("other", "1", "default", "success", 1.0))
            .unwrap();

        let rows = history.attempts_for("Regex", 10).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            [second, first]
        );
        let old = &rows[1];
        assert_eq!(old.package, "regex");
        assert_eq!(old.version, "2024.11.6");
        assert_eq!(old.python_tag, "cp311");
        assert_eq!(old.platform, "manylinux_2_17_s390x");
        assert_eq!(old.variant, "default");
        assert_eq!(old.attempt, 1);
        assert_eq!(old.status, "failed");
        assert_eq!(old.duration_secs, 12.0);
        assert_eq!(old.log_path.as_deref(), Some("logs/regex-1.log"));
        assert_eq!(old.hints, ["gcc", "libffi-dev"]);
        assert_eq!(old.worker.as_deref(), Some("worker-1"));
        assert_eq!(old.run_id.as_deref(), Some("run-7"));
        assert_eq!(old.detail, "regex 2024.11.6 failed");
        assert_eq!(rows[0].attempt, 2);
        assert!(rows[0].hints.is_empty());
        assert_eq!(history.attempts_for("regex", 1).unwrap().len(), 1);
        assert!(history.attempts_for("nothing", 5).unwrap().is_empty());
    }

    fn top_failures_ordering_and_last_details(history: &History) {
        assert!(history.top_failures(10).unwrap().is_empty());
        // lxml: 3 failures (one a timeout), later success does not erase them.
        let mut f1 = attempt("lxml", "5.2.0", "default", "failed", 3.0);
        f1.hints = vec!["libxml2-dev".into()];
        history.record_attempt(&f1).unwrap();
        history
            .record_attempt(&attempt("lxml", "5.2.0", "default", "timeout", 3.0))
            .unwrap();
        let mut f3 = attempt("LXML", "5.3.0", "hinted", "failed", 3.0);
        f3.hints = vec!["libxml2-dev".into(), "libxslt1-dev".into()];
        f3.detail = "xslt-config not found".into();
        history.record_attempt(&f3).unwrap();
        history
            .record_attempt(&attempt("lxml", "5.3.0", "hinted", "success", 3.0))
            .unwrap();
        // cffi and bcrypt: 2 failures each (tie broken by name).
        for _ in 0..2 {
            history
                .record_attempt(&attempt("cffi", "1.17.1", "default", "failed", 1.0))
                .unwrap();
            history
                .record_attempt(&attempt("bcrypt", "4.2.0", "default", "failed", 1.0))
                .unwrap();
        }
        // psutil: 1 failure; six: only successes and a cancelled attempt.
        history
            .record_attempt(&attempt("psutil", "6.0.0", "default", "failed", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("six", "1.16.0", "default", "success", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("six", "1.16.0", "default", "cancelled", 1.0))
            .unwrap();

        let top = history.top_failures(10).unwrap();
        let order: Vec<_> = top
            .iter()
            .map(|f| (f.package.as_str(), f.failures))
            .collect();
        assert_eq!(
            order,
            [("LXML", 3), ("bcrypt", 2), ("cffi", 2), ("psutil", 1)]
        );
        assert_eq!(top[0].last_version, "5.3.0");
        assert_eq!(top[0].last_detail, "xslt-config not found");
        assert_eq!(top[0].last_hints, ["libxml2-dev", "libxslt1-dev"]);
        assert!(top[1].last_hints.is_empty());
        assert_eq!(history.top_failures(2).unwrap().len(), 2);
    }

    fn known_failures_only_when_last_attempt_failed(history: &History) {
        // Failed, then succeeded: not known.
        history
            .record_attempt(&attempt("regex", "1.0", "default", "failed", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("regex", "1.0", "default", "success", 1.0))
            .unwrap();
        // Succeeded, then failed: known (last attempt failed).
        history
            .record_attempt(&attempt("cffi", "1.0", "default", "success", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("cffi", "1.0", "default", "failed", 1.0))
            .unwrap();
        // Failed then cancelled: cancellations are neutral, still known.
        history
            .record_attempt(&attempt("Zstandard", "0.23.0", "default", "timeout", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("zstandard", "0.23.0", "default", "cancelled", 1.0))
            .unwrap();
        // Only another version of a package failed.
        history
            .record_attempt(&attempt("psutil", "5.0", "default", "failed", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("psutil", "6.0", "default", "success", 1.0))
            .unwrap();
        // Only successes.
        history
            .record_attempt(&attempt("six", "1.16.0", "default", "success", 1.0))
            .unwrap();

        assert_eq!(
            history.known_failures().unwrap(),
            [
                ("cffi".to_string(), "1.0".to_string()),
                ("psutil".to_string(), "5.0".to_string()),
                ("zstandard".to_string(), "0.23.0".to_string()),
            ]
        );
        // A later success clears it.
        history
            .record_attempt(&attempt("cffi", "1.0", "hinted", "success", 1.0))
            .unwrap();
        assert_eq!(history.known_failures().unwrap().len(), 2);
    }

    fn average_durations_only_count_successes(history: &History) {
        assert!(history.average_durations().unwrap().is_empty());
        history
            .record_attempt(&attempt("regex", "1", "default", "success", 20.0))
            .unwrap();
        history
            .record_attempt(&attempt("Regex", "1", "cross", "success", 30.0))
            .unwrap();
        history
            .record_attempt(&attempt("regex", "1", "default", "failed", 1000.0))
            .unwrap();
        history
            .record_attempt(&attempt("regex", "1", "default", "timeout", 3600.0))
            .unwrap();
        history
            .record_attempt(&attempt("only_fails", "1", "default", "failed", 5.0))
            .unwrap();
        history
            .record_attempt(&attempt("six", "1", "default", "success", 0.5))
            .unwrap();
        let averages = history.average_durations().unwrap();
        assert_eq!(averages.len(), 2);
        assert!((averages["regex"] - 25.0).abs() < 1e-9);
        assert!((averages["six"] - 0.5).abs() < 1e-9);
        assert!(!averages.contains_key("only-fails"));
    }

    fn variant_stats_per_variant(history: &History) {
        assert!(history.variant_stats("lxml").unwrap().is_empty());
        for (variant, status) in [
            ("default", "failed"),
            ("default", "failed"),
            ("default", "success"),
            ("hinted", "success"),
            ("hinted", "success"),
            ("cross", "timeout"),
            ("cross", "cancelled"),
        ] {
            history
                .record_attempt(&attempt("lxml", "5", variant, status, 1.0))
                .unwrap();
        }
        history
            .record_attempt(&attempt("other", "1", "default", "success", 1.0))
            .unwrap();
        let stats = history.variant_stats("LXML").unwrap();
        let stat = |variant: &str, successes, failures| VariantStats {
            variant: variant.into(),
            successes,
            failures,
        };
        assert_eq!(
            stats,
            [
                stat("cross", 0, 1),
                stat("default", 1, 2),
                stat("hinted", 2, 0)
            ]
        );
    }

    fn artifact_index_upserts(history: &History) {
        assert_eq!(history.lookup_artifact("regex-cp311").unwrap(), None);
        history
            .record_artifact("regex-cp311", "regex-1.whl", &"aa".repeat(32))
            .unwrap();
        assert_eq!(
            history.lookup_artifact("regex-cp311").unwrap(),
            Some(("regex-1.whl".to_string(), "aa".repeat(32)))
        );
        history
            .record_artifact("regex-cp311", "regex-2.whl", &"bb".repeat(32))
            .unwrap();
        assert_eq!(
            history.lookup_artifact("regex-cp311").unwrap(),
            Some(("regex-2.whl".to_string(), "bb".repeat(32)))
        );
        let count = history.rows("SELECT COUNT(*) FROM artifacts", &[]).unwrap()[0].int(0);
        assert_eq!(count, 1);
    }

    #[test]
    fn newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(History::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = History::open(&path).unwrap_err();
        assert!(
            matches!(err, HistoryError::TooNew { found: 99, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("is not a refinery history database (schema version 99 newer"),
            "{message}"
        );
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Not SQLite at all.
        let text = dir.path().join("notes.db");
        fs_err::write(&text, "this is a text file, not a database\n".repeat(20)).unwrap();
        let err = History::open(&text).unwrap_err();
        assert!(matches!(err, HistoryError::NotHistory { .. }), "{err:?}");
        assert!(err.to_string().contains("notes.db"), "{err}");
        // SQLite, but someone else's.
        let other = dir.path().join("other.db");
        {
            let conn = Connection::open(&other).unwrap();
            conn.execute_batch("CREATE TABLE users (id INTEGER)")
                .unwrap();
        }
        let err = History::open(&other).unwrap_err();
        assert!(matches!(err, HistoryError::NotHistory { .. }), "{err:?}");
        assert!(err.to_string().contains("other.db"), "{err}");
    }

    #[test]
    fn locked_database_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let history = History::open_with_timeout(&path, Duration::from_millis(100)).unwrap();
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = history.record_event(&Event::new("scan", "")).unwrap_err();
        assert!(matches!(err, HistoryError::Locked { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "history database {} is locked by another process",
                path.display()
            )),
            "{message}"
        );
        blocker.execute_batch("COMMIT").unwrap();
        history.record_event(&Event::new("scan", "")).unwrap();
    }

    fn corrupt_json_is_reported_with_row(history: &History) {
        history
            .exec(
                "INSERT INTO events (timestamp, kind, detail, data) VALUES ('t', 'scan', '', '{oops')",
                &[],
            )
            .unwrap();
        let err = history.recent_events(5).unwrap_err();
        assert!(
            matches!(err, HistoryError::Corrupt { column: "data", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("events.data of row 1"), "{err}");
    }

    /// `threads` threads open a history at the same moment with `open`, then each writes
    /// `per_thread` events for `pkg<t>` and an attempt for every tenth.
    fn race_writers(
        threads: usize,
        per_thread: usize,
        open: impl Fn() -> History + Clone + Send + 'static,
    ) {
        let start = std::sync::Arc::new(std::sync::Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (open, start) = (open.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let history = open();
                    for i in 0..per_thread {
                        history
                            .record_event(
                                &Event::new("build_start", format!("thread {t} event {i}"))
                                    .with_package(format!("pkg{t}"), "1.0")
                                    .with_data(json!({ "thread": t, "i": i })),
                            )
                            .unwrap();
                        if i % 10 == 0 {
                            history
                                .record_attempt(&attempt(
                                    &format!("pkg{t}"),
                                    "1.0",
                                    "default",
                                    "success",
                                    i as f64,
                                ))
                                .unwrap();
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }

    #[test]
    fn concurrent_writers_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared/history.db");
        const PER_THREAD: usize = 300;
        // Both threads open (and race to create and migrate) the same new file.
        let opened = path.clone();
        race_writers(2, PER_THREAD, move || History::open(&opened).unwrap());
        let history = History::open(&path).unwrap();
        let events = history.recent_events(10_000).unwrap();
        assert_eq!(events.len(), 2 * PER_THREAD);
        for t in 0..2 {
            assert_eq!(
                history
                    .events_for(&format!("pkg{t}"), 10_000)
                    .unwrap()
                    .len(),
                PER_THREAD
            );
            assert_eq!(
                history
                    .attempts_for(&format!("pkg{t}"), 10_000)
                    .unwrap()
                    .len(),
                PER_THREAD / 10
            );
        }
        assert_eq!(
            history.status_counts().unwrap()["build_start"],
            2 * PER_THREAD as u64
        );
        // Ids are unique and strictly decreasing (newest first).
        assert!(events.windows(2).all(|w| w[0].id > w[1].id));
    }

    fn pages_slowest_packages_and_histogram(history: &History) {
        for i in 0..5 {
            history
                .record_event(
                    &Event::new(
                        if i % 2 == 0 { "built" } else { "failure" },
                        format!("e{i}"),
                    )
                    .with_package("Six", "1"),
                )
                .unwrap();
        }
        history.record_event(&Event::new("plan", "p")).unwrap();
        let page = history.events_page(Some("six"), None, None, 2).unwrap();
        assert_eq!(
            page.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["e4", "e3"]
        );
        let next = history
            .events_page(Some("six"), None, Some(page[1].id), 10)
            .unwrap();
        assert_eq!(next.len(), 3);
        let built = history.events_page(None, Some("built"), None, 10).unwrap();
        assert_eq!(built.len(), 3);
        assert_eq!(history.events_page(None, None, None, 100).unwrap().len(), 6);

        history
            .record_attempt(&attempt("regex", "1", "default", "success", 30.0))
            .unwrap();
        history
            .record_attempt(&attempt("regex", "1", "default", "success", 10.0))
            .unwrap();
        history
            .record_attempt(&attempt("regex", "1", "default", "failed", 500.0))
            .unwrap();
        history
            .record_attempt(&attempt("six", "1", "default", "success", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("broken", "1", "default", "failed", 2.0))
            .unwrap();
        let slow = history.top_slowest(10).unwrap();
        assert_eq!(slow.len(), 2);
        assert_eq!(slow[0].package, "regex");
        assert!((slow[0].average_secs - 20.0).abs() < 1e-9);
        assert_eq!((slow[0].successes, slow[0].failures), (2, 1));
        let packages = history.packages(10).unwrap();
        assert_eq!(
            packages
                .iter()
                .map(|p| p.package.as_str())
                .collect::<Vec<_>>(),
            ["broken", "regex", "six"]
        );
        assert_eq!(packages[1].last_status, "failed");
        assert_eq!(history.attempt_status_counts().unwrap()["success"], 3);
        let (cumulative, count, sum) = history.duration_histogram(&[5.0, 60.0]).unwrap();
        assert_eq!(cumulative, [2, 4]);
        assert_eq!(count, 5);
        assert!((sum - 543.0).abs() < 1e-9);
        history
            .record_artifact("k", "regex-1.whl", &"aa".repeat(32))
            .unwrap();
        assert_eq!(history.artifacts().unwrap().len(), 1);
    }

    #[test]
    fn failure_status_classification() {
        assert!(!is_failure_status("success"));
        assert!(!is_failure_status("cancelled"));
        assert!(!is_failure_status("skipped"));
        assert!(is_failure_status("failed"));
        assert!(is_failure_status("timeout"));
        assert!(is_failure_status("verify_failed"));
    }

    #[test]
    fn urls_choose_the_backend() {
        assert!(is_postgres_url("postgres://u:p@h/db"));
        assert!(is_postgres_url(" postgresql://h/db"));
        assert!(!is_postgres_url("/var/cache/history.db"));
        assert!(!is_postgres_url("sqlite:/x.db"));
        assert_eq!(
            display_location(Path::new("postgres://u:secret@h/db")),
            "postgres://u:****@h/db"
        );
        assert_eq!(display_location(Path::new("/a/b.db")), "/a/b.db");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let history = History::open_url(&format!("sqlite:{}", path.display())).unwrap();
        assert!(!history.is_postgres());
        assert_eq!(history.path(), path);
        let plain = History::open_url(path.to_str().unwrap()).unwrap();
        assert_eq!(plain.schema_version().unwrap(), SCHEMA_VERSION);
        // An unreachable server is reported as such, without the password.
        let err = History::open(Path::new("postgres://u:secret@127.0.0.1:1/none")).unwrap_err();
        assert!(matches!(err, HistoryError::Unavailable { .. }), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("u:****@127.0.0.1:1"), "{err}");
    }

    #[test]
    fn postgres_reopen_shares_the_data() {
        let Some((url, schema)) = postgres_schema() else {
            return;
        };
        let _guard = schema_guard(&url, &schema);
        let first = History::open_postgres(&url, Some(&schema)).unwrap();
        assert!(first.is_postgres());
        assert_eq!(first.schema_version().unwrap(), PG_MIGRATIONS.len() as i64);
        assert!(!first.path().to_string_lossy().contains(":refinery@"));
        first.record_event(&Event::new("scan", "first")).unwrap();
        let second = History::open_postgres(&url, Some(&schema)).unwrap();
        second.record_event(&Event::new("scan", "second")).unwrap();
        drop(first);
        // The dropped handle's connection is reused.
        let third = History::open_postgres(&url, Some(&schema)).unwrap();
        let events = third.recent_events(10).unwrap();
        assert_eq!(
            events.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
            ["second", "first"]
        );
    }

    #[test]
    fn postgres_newer_schema_is_refused() {
        let Some((url, schema)) = postgres_schema() else {
            return;
        };
        let _guard = schema_guard(&url, &schema);
        // Held open so the next open connects afresh (and checks the schema).
        let history = History::open_postgres(&url, Some(&schema)).unwrap();
        history
            .exec(
                "INSERT INTO refinery_history_schema (version) VALUES (99)",
                &[],
            )
            .unwrap();
        let err = History::open_postgres(&url, Some(&schema)).unwrap_err();
        assert!(
            matches!(err, HistoryError::TooNew { found: 99, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn postgres_concurrent_writers() {
        let Some((url, schema)) = postgres_schema() else {
            return;
        };
        let _guard = schema_guard(&url, &schema);
        const PER_THREAD: usize = 100;
        // All threads race to create and migrate the same new schema.
        let (opened_url, opened_schema) = (url.clone(), schema.clone());
        race_writers(3, PER_THREAD, move || {
            History::open_postgres(&opened_url, Some(&opened_schema)).unwrap()
        });
        let history = History::open_postgres(&url, Some(&schema)).unwrap();
        let events = history.recent_events(10_000).unwrap();
        assert_eq!(events.len(), 3 * PER_THREAD);
        assert!(events.windows(2).all(|w| w[0].id > w[1].id));
        for t in 0..3 {
            assert_eq!(
                history
                    .attempts_for(&format!("pkg{t}"), 10_000)
                    .unwrap()
                    .len(),
                PER_THREAD / 10
            );
        }
    }
}
