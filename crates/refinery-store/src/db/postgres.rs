//! PostgreSQL backend of the storage layer: a server and database reached by URL (the
//! password never shown), connections with their prepared statements, and the migrations
//! of a store run under an advisory lock by the first connection of a process, so several
//! processes may start at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Statement};
use refinery_pep::redact_url as redact;

use super::migrate::{migrate_postgres, quote_ident, MigrateError, Schema};
use super::{Backend, Conn, Dialect, Row, Value};
use crate::queue_error::QueueError;

/// A PostgreSQL server and database.
#[derive(Clone)]
pub struct PgBackend {
    config: postgres::Config,
    location: String,
    search_schema: Option<String>,
    schema: &'static Schema,
    /// Set once a connection of this backend ran (or found) every migration: later
    /// connections skip the advisory lock, which would serialize every new connection.
    migrated: Arc<AtomicBool>,
}

impl PgBackend {
    /// Parses `url` (never echoing its password); `search_schema` (created if missing)
    /// keeps the tables apart from others in the same database; the first connection
    /// applies the migrations of the store `schema`.
    pub(crate) fn new(
        url: &str,
        search_schema: Option<&str>,
        schema: &'static Schema,
    ) -> Result<Self, QueueError> {
        let location = redact(url);
        let mut config: postgres::Config = url.parse().map_err(|e| {
            QueueError::Invalid(format!(
                "database URL {location} is not a PostgreSQL URL: {e}"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        Ok(PgBackend {
            config,
            location,
            search_schema: search_schema.map(str::to_string),
            schema,
            migrated: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location)
    }
}

/// A PostgreSQL connection with its prepared statements.
pub struct PgConn {
    /// Always `Some` until dropped.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    location: String,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // The synchronous client blocks on its own runtime when it closes, which panics
        // inside an async runtime (e.g. when a server's state is dropped at shutdown):
        // close it on a thread of its own.
        if let Some(client) = self.client.take() {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

fn pg_err(location: &str, e: postgres::Error) -> QueueError {
    match e.as_db_error() {
        // Connection exceptions (08…) and operator intervention (57P…: shutdown, crash
        // recovery, cannot connect now): the database is away, not the request wrong.
        Some(db) if db.code().code().starts_with("08") || db.code().code().starts_with("57P") => {
            QueueError::Unavailable {
                location: location.to_string(),
                message: format!("{} ({})", db.message(), db.code().code()),
            }
        }
        // A unique violation: a concurrent request made the row first (e.g. a second
        // waiting job of the same package); the request may be repeated.
        Some(db) if db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION => {
            QueueError::Conflict(format!(
                "{} ({}); another request changed the same rows at the same moment, try again",
                db.message(),
                db.code().code()
            ))
        }
        Some(db) => QueueError::Database {
            location: location.to_string(),
            message: format!("{} ({})", db.message(), db.code().code()),
        },
        None => QueueError::Unavailable {
            location: location.to_string(),
            message: e.to_string(),
        },
    }
}

fn param(value: &Value, ty: &Type) -> Box<dyn ToSql + Sync> {
    let is = |t: &Type| ty == t;
    match value {
        Value::Null if is(&Type::INT8) => Box::new(None::<i64>),
        Value::Null if is(&Type::INT4) => Box::new(None::<i32>),
        Value::Null if is(&Type::FLOAT8) => Box::new(None::<f64>),
        Value::Null => Box::new(None::<String>),
        Value::Int(v) if is(&Type::INT4) => Box::new(*v as i32),
        Value::Int(v) if is(&Type::INT2) => Box::new(*v as i16),
        Value::Int(v) if is(&Type::FLOAT8) => Box::new(*v as f64),
        Value::Int(v) if is(&Type::TEXT) || is(&Type::VARCHAR) => Box::new(v.to_string()),
        Value::Int(v) => Box::new(*v),
        Value::Real(v) => Box::new(*v),
        Value::Text(s) if is(&Type::INT8) => Box::new(s.parse::<i64>().unwrap_or(0)),
        Value::Text(s) => Box::new(s.clone()),
    }
}

fn column(row: &postgres::Row, i: usize) -> Value {
    let ty = row.columns()[i].type_();
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
    if *ty == Type::INT8 {
        int(row.get::<_, Option<i64>>(i))
    } else if *ty == Type::INT4 {
        int(row.get::<_, Option<i32>>(i).map(i64::from))
    } else if *ty == Type::INT2 {
        int(row.get::<_, Option<i16>>(i).map(i64::from))
    } else if *ty == Type::BOOL {
        int(row.get::<_, Option<bool>>(i).map(i64::from))
    } else if *ty == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i)
            .map_or(Value::Null, Value::Real)
    } else {
        row.try_get::<_, Option<String>>(i)
            .ok()
            .flatten()
            .map_or(Value::Null, Value::Text)
    }
}

impl PgConn {
    fn client(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("the client lives until the connection is dropped")
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, QueueError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client()
            .prepare(sql)
            .map_err(|e| pg_err(&self.location, e))?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

impl Conn for PgConn {
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        let stmt = self.statement(sql)?;
        let boxed: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .zip(stmt.params())
            .map(|(v, t)| param(v, t))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self
            .client()
            .query(&stmt, &refs)
            .map_err(|e| pg_err(&self.location, e))?;
        Ok(rows
            .iter()
            .map(|row| (0..row.len()).map(|i| column(row, i)).collect())
            .collect())
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError> {
        let stmt = self.statement(sql)?;
        let boxed: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .zip(stmt.params())
            .map(|(v, t)| param(v, t))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.client()
            .execute(&stmt, &refs)
            .map_err(|e| pg_err(&self.location, e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), QueueError> {
        self.client()
            .batch_execute(sql)
            .map_err(|e| pg_err(&self.location, e))
    }

    fn is_broken(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }

    fn ping(&mut self) -> Result<(), QueueError> {
        self.batch("")
    }
}

impl Backend for PgBackend {
    type C = PgConn;
    const DIALECT: Dialect = Dialect::Postgres;

    fn connect(&self) -> Result<PgConn, QueueError> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| pg_err(&self.location, e))?;
        let mut conn = PgConn {
            client: Some(client),
            statements: HashMap::new(),
            location: self.location.clone(),
        };
        if self.migrated.load(Ordering::Acquire) {
            if let Some(name) = &self.search_schema {
                conn.batch(&format!("SET search_path TO {}", quote_ident(name)))?;
            }
            return Ok(conn);
        }
        migrate_postgres(&mut conn, self.schema, self.search_schema.as_deref()).map_err(
            |e| match e {
                MigrateError::TooNew { found, supported } => QueueError::TooNew {
                    location: self.location.clone(),
                    found,
                    supported,
                },
                MigrateError::NotOurs(reason) => QueueError::NotOurs {
                    location: self.location.clone(),
                    reason,
                },
                MigrateError::Sqlite(e) => QueueError::Database {
                    location: self.location.clone(),
                    message: e.to_string(),
                },
                MigrateError::Postgres(e) => e,
            },
        )?;
        // Statements prepared before the migration may describe old tables.
        conn.statements.clear();
        self.migrated.store(true, Ordering::Release);
        Ok(conn)
    }

    fn describe(&self) -> String {
        self.location.clone()
    }
}
