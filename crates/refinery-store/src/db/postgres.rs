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

use super::{Backend, Conn, Dialect, Row, Value};
use crate::queue::QueueError;

/// A numbered list of migrations, the table that records how many ran and the advisory
/// lock taken while running them. The queue has its own; the history (see
/// [`crate::history`]) has another, in the same database.
#[derive(Debug)]
pub(crate) struct PgMigrations {
    pub table: &'static str,
    pub lock: i64,
    pub list: &'static [&'static str],
}

/// A PostgreSQL server and database.
#[derive(Clone)]
pub struct PgBackend {
    config: postgres::Config,
    location: String,
    schema: Option<String>,
    migrations: &'static PgMigrations,
    /// Set once a connection of this backend ran (or found) every migration: later
    /// connections skip the advisory lock, which would serialize every new connection.
    migrated: Arc<AtomicBool>,
}

impl PgBackend {
    /// Parses `url` (never echoing its password); `schema` (created if missing) keeps the
    /// tables apart from others in the same database.
    pub(crate) fn new(
        url: &str,
        schema: Option<&str>,
        migrations: &'static PgMigrations,
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
            schema: schema.map(str::to_string),
            migrations,
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

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
            if let Some(schema) = &self.schema {
                conn.batch(&format!("SET search_path TO {}", quote_ident(schema)))?;
            }
            return Ok(conn);
        }
        conn.batch("BEGIN")?;
        let migrated = (|| {
            let PgMigrations { table, lock, list } = self.migrations;
            conn.batch(&format!("SELECT pg_advisory_xact_lock({lock})"))?;
            // Under the lock: concurrent `CREATE SCHEMA IF NOT EXISTS` can fail on a
            // unique violation. The (session-wide) search path holds once committed.
            if let Some(schema) = &self.schema {
                let schema = quote_ident(schema);
                conn.batch(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
                ))?;
            }
            conn.batch(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL)"
            ))?;
            let rows = conn.query(&format!("SELECT MAX(version) FROM {table}"), &[])?;
            let version = rows
                .first()
                .and_then(|r| match r.first() {
                    Some(Value::Int(v)) => Some(*v),
                    _ => None,
                })
                .unwrap_or(0);
            if version > list.len() as i64 {
                return Err(QueueError::TooNew {
                    location: self.location.clone(),
                    found: version,
                    supported: list.len() as i64,
                });
            }
            for (i, sql) in list.iter().enumerate().skip(version as usize) {
                conn.batch(sql)?;
                conn.execute(
                    &format!("INSERT INTO {table} (version) VALUES ($1)"),
                    &[Value::Int(i as i64 + 1)],
                )?;
            }
            Ok(())
        })();
        match migrated {
            Ok(()) => conn.batch("COMMIT")?,
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
        // Statements prepared before the migration may describe old tables.
        conn.statements.clear();
        self.migrated.store(true, Ordering::Release);
        Ok(conn)
    }

    fn describe(&self) -> String {
        self.location.clone()
    }
}
