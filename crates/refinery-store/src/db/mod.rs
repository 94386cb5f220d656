//! The storage layer both stores (the history and the queue) use: a connection that runs
//! `$1`-style statements with [`Value`] parameters and returns rows of [`Value`]s, over
//! SQLite ([`sqlite`]) or PostgreSQL ([`postgres`]). The queue logic in
//! [`crate::queue`] and the history's queries are written once against it.

mod migrate;
mod pool;
mod postgres;
pub(crate) mod sqlite;

pub(crate) use self::migrate::{migrate_sqlite, MigrateError, Migration, Schema};
pub(crate) use self::pool::{Pool, Pooled, POOL_SIZE};
pub use self::postgres::PgBackend;
pub(crate) use self::postgres::PgConn;
pub use self::sqlite::SqliteBackend;

use crate::queue_error::QueueError;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row.
pub type Row = Vec<Value>;

/// Typed access to a row's columns by position.
pub trait RowExt {
    fn int(&self, i: usize) -> i64;
    fn opt_int(&self, i: usize) -> Option<i64>;
    fn text(&self, i: usize) -> String;
    fn opt_text(&self, i: usize) -> Option<String>;
}

impl RowExt for Row {
    fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }

    fn opt_int(&self, i: usize) -> Option<i64> {
        match self.get(i) {
            Some(Value::Int(v)) => Some(*v),
            Some(Value::Real(v)) => Some(*v as i64),
            Some(Value::Text(t)) => t.parse().ok(),
            _ => None,
        }
    }

    fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    fn opt_text(&self, i: usize) -> Option<String> {
        match self.get(i) {
            Some(Value::Text(t)) => Some(t.clone()),
            Some(Value::Int(v)) => Some(v.to_string()),
            Some(Value::Real(v)) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// SQL dialect differences the queue logic has to know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A database connection.
pub trait Conn: Send {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError>;
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError>;
    fn batch(&mut self, sql: &str) -> Result<(), QueueError>;
    /// True when the connection cannot be used again (e.g. the server went away).
    fn is_broken(&self) -> bool;
    /// Checks that the connection still answers (one round trip where there is a server).
    fn ping(&mut self) -> Result<(), QueueError> {
        Ok(())
    }
}

/// How to reach a database.
pub trait Backend: Send + Sync + 'static {
    type C: Conn;
    const DIALECT: Dialect;
    /// Opens a connection; migrations are run by the first one.
    fn connect(&self) -> Result<Self::C, QueueError>;
    /// Where the database is, for messages (never with credentials).
    fn describe(&self) -> String;
    /// Fails when the database is no longer the one opened first (an SQLite file deleted
    /// or replaced under a running process), before any statement runs.
    fn check(&self) -> Result<(), QueueError> {
        Ok(())
    }
}
