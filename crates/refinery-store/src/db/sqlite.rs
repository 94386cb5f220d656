//! SQLite backend of the storage layer: a connection that runs `$1`-style statements.

use std::path::PathBuf;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode};

use super::{Conn, Row, Value};
use crate::queue::QueueError;

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
        if c == '$' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
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

impl Conn for SqliteConn {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        let sql = sqlite_sql(sql);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    drop(rows);
                    return Err(self.err(e));
                }
            };
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i) {
                    Ok(ValueRef::Integer(v)) => Value::Int(v),
                    Ok(ValueRef::Real(v)) => Value::Real(v),
                    Ok(ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    Ok(ValueRef::Blob(b)) => Value::Text(String::from_utf8_lossy(b).into_owned()),
                    Ok(ValueRef::Null) | Err(_) => Value::Null,
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError> {
        let sql = sqlite_sql(sql);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        stmt.execute(rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), QueueError> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    fn is_broken(&self) -> bool {
        !self.conn.is_autocommit()
    }
}
