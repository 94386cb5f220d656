//! Opening a history and running its queries on either backend.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use serde::{Deserialize, Serialize};

use super::error::pg_error;
use super::schema::{SCHEMA, SCHEMA_VERSION};
use super::{Db, History, HistoryError, PgHistory, DEFAULT_BUSY_TIMEOUT};
use crate::db::{
    migrate_sqlite, sqlite, Conn as _, MigrateError, PgBackend, PgConn, Pool, Row, RowExt, Value,
};
use crate::queue::QueueError;

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

pub(super) fn limit_param(limit: usize) -> Value {
    Value::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// `?N` placeholders (SQLite) to `$N` (PostgreSQL). The queries hold no `?` otherwise.
fn pg_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

pub(super) fn real(row: &Row, i: usize) -> f64 {
    match row.get(i) {
        Some(Value::Real(v)) => *v,
        Some(Value::Int(v)) => *v as f64,
        Some(Value::Text(t)) => t.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

pub(super) fn count(row: &Row, i: usize) -> u64 {
    u64::try_from(row.int(i)).unwrap_or(0)
}

/// History handles of one PostgreSQL database (and schema) at most hold a connection
/// each at a time; a further open waits for one to come back.
const PG_POOL_SIZE: u32 = 32;

/// The pool of each PostgreSQL database (and schema) a history was opened on in this
/// process: handles come and go (one per thread or request), their connections stay.
static PG_POOLS: Mutex<Vec<(String, Pool<PgBackend>)>> = Mutex::new(Vec::new());

/// The pool of `url` and `schema`, made (connecting once and migrating) on first use.
fn pg_pool(url: &str, schema: Option<&str>) -> Result<Pool<PgBackend>, QueueError> {
    let key = format!("{url}\u{0}{}", schema.unwrap_or(""));
    let mut pools = PG_POOLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, pool)) = pools.iter().find(|(k, _)| *k == key) {
        return Ok(pool.clone());
    }
    let pool = Pool::open(PgBackend::new(url, schema, &SCHEMA)?, PG_POOL_SIZE)?;
    pools.push((key, pool.clone()));
    Ok(pool)
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
    /// `postgresql://…` is a PostgreSQL database (tables created by the history's migrations,
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
        let pool = pg_pool(url, schema).map_err(|e| pg_error(&path, e))?;
        let conn = pool.get().map_err(|e| pg_error(&path, e))?;
        let history = History {
            db: Db::Postgres(Box::new(PgHistory {
                conn: RefCell::new(Some(conn)),
                pool,
            })),
            path,
        };
        // The pool migrated once; another process may have moved the database on since.
        let found = history.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(history.too_new(found));
        }
        Ok(history)
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
        let history = History {
            db: Db::Sqlite(conn),
            path: path.to_path_buf(),
        };
        history
            .sqlite()
            .busy_timeout(busy_timeout)
            .map_err(|e| history.err(e))?;
        let migrated = migrate_sqlite(history.sqlite(), &SCHEMA, busy_timeout);
        migrated.map_err(|e| match e {
            MigrateError::NotOurs(reason) => HistoryError::NotHistory {
                path: history.path.clone(),
                reason,
            },
            MigrateError::TooNew { found, .. } => history.too_new(found),
            MigrateError::Sqlite(e) => history.err(e),
            MigrateError::Postgres(e) => pg_error(&history.path, e),
        })?;
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
    pub(super) fn sqlite(&self) -> &Connection {
        match &self.db {
            Db::Sqlite(conn) => conn,
            Db::Postgres(_) => unreachable!("an SQLite-only step on a PostgreSQL history"),
        }
    }

    pub(super) fn err(&self, source: rusqlite::Error) -> HistoryError {
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
    pub(super) fn rows(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, HistoryError> {
        match &self.db {
            Db::Sqlite(conn) => sqlite::query_rows(conn, sql, params).map_err(|e| self.err(e)),
            Db::Postgres(_) => {
                let sql = pg_placeholders(sql);
                self.with_pg(|conn| conn.query(&sql, params))
            }
        }
    }

    /// Runs a statement (`?N` placeholders); returns the number of rows changed.
    pub(super) fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, HistoryError> {
        match &self.db {
            Db::Sqlite(conn) => sqlite::execute(conn, sql, params).map_err(|e| self.err(e)),
            Db::Postgres(_) => {
                let sql = pg_placeholders(sql);
                self.with_pg(|conn| conn.execute(&sql, params))
            }
        }
    }

    /// Runs `f` on the PostgreSQL connection; a connection that broke (server restarted,
    /// idle connection closed) is replaced and `f` tried once more.
    pub(super) fn with_pg<T>(
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
        let fresh = slot.insert(pg.pool.get().map_err(|e| pg_error(&self.path, e))?);
        f(fresh).map_err(|e| pg_error(&self.path, e))
    }

    pub(super) fn encode_json<T: Serialize>(
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

    pub(super) fn decode_json<T: for<'de> Deserialize<'de>>(
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

    /// Parses a text column into its typed form ([`HistoryError::Invalid`] names the row).
    pub(super) fn parse_column<T>(
        &self,
        table: &'static str,
        column: &'static str,
        id: i64,
        text: String,
    ) -> Result<T, HistoryError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        text.parse().map_err(|e: T::Err| HistoryError::Invalid {
            path: self.path.clone(),
            table,
            column,
            id,
            reason: e.to_string(),
            value: text,
        })
    }

    /// Runs an `INSERT … RETURNING id`.
    pub(super) fn insert(&self, sql: &str, params: &[Value]) -> Result<i64, HistoryError> {
        Ok(self.rows(sql, params)?.first().map_or(0, |r| r.int(0)))
    }
}
