//! SQLite backend of the storage layer: a database file (in WAL mode, marked with its
//! store's application id, migrated through `PRAGMA user_version`) and a connection that
//! runs `$1`-style statements.
//!
//! The file is the store: deleted or replaced under a running process, the open
//! connections keep writing into the old file (gone at exit) while new ones would start a
//! new one. So the backend remembers which file it opened (device and inode) and refuses
//! every statement once the path names another file or none ([`QueueError::Replaced`]);
//! later connections never create the file again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::migrate::{migrate_sqlite, MigrateError, Schema};
use super::{Backend, Conn, Dialect, Row, Value};
use crate::file_id::FileId;
use crate::queue_error::QueueError;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    path: PathBuf,
    /// The store whose file this is.
    schema: &'static Schema,
    /// The file the first connection opened.
    opened: Arc<OnceLock<FileId>>,
}

impl SqliteBackend {
    /// The file at `path`, holding the store `schema` (created and migrated by the first
    /// connection).
    pub(crate) fn new(path: &Path, schema: &'static Schema) -> Self {
        SqliteBackend {
            path: path.to_path_buf(),
            schema,
            opened: Arc::new(OnceLock::new()),
        }
    }

    /// Fails unless the path still names the file opened first (nothing to compare
    /// before the first connection).
    fn check_same_file(&self) -> Result<(), QueueError> {
        let Some(opened) = self.opened.get() else {
            return Ok(());
        };
        let replaced = |what| QueueError::Replaced {
            location: self.path.display().to_string(),
            what,
        };
        match FileId::of(&self.path) {
            Ok(now) if now == *opened => Ok(()),
            Ok(_) => Err(replaced("was replaced by another file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(replaced("was deleted")),
            Err(e) => Err(QueueError::Unavailable {
                location: self.path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
}

/// A SQLite connection.
pub struct SqliteConn {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

/// `$1` → `?1` (SQLite's numbered parameters).
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

impl SqliteConn {
    pub(crate) fn err(&self, e: rusqlite::Error) -> QueueError {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => QueueError::Database {
                location: self.path.display().to_string(),
                message: "the database is locked by another process (busy for 10 s); retry".into(),
            },
            Some(ErrorCode::CannotOpen | ErrorCode::NotADatabase | ErrorCode::SystemIoFailure) => {
                QueueError::Unavailable {
                    location: self.path.display().to_string(),
                    message: e.to_string(),
                }
            }
            _ => QueueError::Database {
                location: self.path.display().to_string(),
                message: e.to_string(),
            },
        }
    }
}

/// Runs a query (`$N` or `?N` placeholders) on `conn` and returns its rows; the one
/// reader of SQLite rows, for the queue's pooled connections and the history's own.
pub(crate) fn query_rows(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(sql))?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns).map(|i| match row.get_ref(i) {
            Ok(ValueRef::Integer(v)) => Value::Int(v),
            Ok(ValueRef::Real(v)) => Value::Real(v),
            Ok(ValueRef::Text(t) | ValueRef::Blob(t)) => {
                Value::Text(String::from_utf8_lossy(t).into_owned())
            }
            Ok(ValueRef::Null) | Err(_) => Value::Null,
        });
        out.push(values.collect());
    }
    Ok(out)
}

/// Runs a statement (`$N` or `?N` placeholders) on `conn`; returns the rows changed.
pub(crate) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(sql))?;
    stmt.execute(rusqlite::params_from_iter(params.iter()))
        .map(|n| n as u64)
}

impl Conn for SqliteConn {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        query_rows(&self.conn, sql, params).map_err(|e| self.err(e))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError> {
        execute(&self.conn, sql, params).map_err(|e| self.err(e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), QueueError> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    fn is_broken(&self) -> bool {
        !self.conn.is_autocommit()
    }
}

impl Backend for SqliteBackend {
    type C = SqliteConn;
    const DIALECT: Dialect = Dialect::Sqlite;

    fn connect(&self) -> Result<SqliteConn, QueueError> {
        let location = self.path.display().to_string();
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs_err::create_dir_all(parent).map_err(|e| QueueError::Unavailable {
                location: location.clone(),
                message: e.to_string(),
            })?;
        }
        // Once a file was opened, never create another one in its place.
        self.check_same_file()?;
        let flags = if self.opened.get().is_some() {
            OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE)
        } else {
            OpenFlags::default()
        };
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            QueueError::Unavailable {
                location: location.clone(),
                message: e.to_string(),
            }
        })?;
        let conn = SqliteConn {
            conn,
            path: self.path.clone(),
        };
        conn.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| conn.err(e))?;
        migrate_sqlite(&conn.conn, self.schema, BUSY_TIMEOUT).map_err(|e| match e {
            MigrateError::NotOurs(reason) => QueueError::NotOurs {
                location: location.clone(),
                reason,
            },
            MigrateError::TooNew { found, supported } => QueueError::TooNew {
                location: location.clone(),
                found,
                supported,
            },
            MigrateError::Sqlite(e) => conn.err(e),
            MigrateError::Postgres(e) => e,
        })?;
        let opened = FileId::of(&self.path).map_err(|e| QueueError::Unavailable {
            location: location.clone(),
            message: e.to_string(),
        })?;
        if *self.opened.get_or_init(|| opened) != opened {
            return Err(QueueError::Replaced {
                location,
                what: "was replaced by another file",
            });
        }
        Ok(conn)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn check(&self) -> Result<(), QueueError> {
        self.check_same_file()
    }
}
