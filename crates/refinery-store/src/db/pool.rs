//! The one connection pool of the storage layer ([`r2d2`]), for either backend: the queue
//! takes a connection per call, the history keeps one for the life of its handle.

use std::sync::Arc;
use std::time::Duration;

use super::{Backend, Conn};
use crate::queue_error::QueueError;

/// Connections a queue's pool opens at most; further callers wait for one to come back
/// (PostgreSQL's own default limit is 100 connections for all clients).
pub(crate) const POOL_SIZE: u32 = 16;

/// How long a caller waits for a free connection before the store answers unavailable.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// A connection lent by a [`Pool`]; it goes back to the pool when dropped.
pub(crate) type Pooled<B> = r2d2::PooledConnection<Connections<B>>;

/// The connections of one database (and, for PostgreSQL, one schema).
pub(crate) struct Pool<B: Backend> {
    backend: Arc<B>,
    pool: r2d2::Pool<Connections<B>>,
}

impl<B: Backend> Clone for Pool<B> {
    fn clone(&self) -> Self {
        Pool {
            backend: Arc::clone(&self.backend),
            pool: self.pool.clone(),
        }
    }
}

/// Makes, checks and discards the connections of the pool.
pub(crate) struct Connections<B>(Arc<B>);

impl<B: Backend> r2d2::ManageConnection for Connections<B> {
    type Connection = B::C;
    type Error = QueueError;

    fn connect(&self) -> Result<B::C, QueueError> {
        self.0.connect()
    }

    /// Run when a connection leaves the pool, so one the server closed while it was idle
    /// (e.g. a database restart) is replaced instead of failing a request.
    fn is_valid(&self, conn: &mut B::C) -> Result<(), QueueError> {
        conn.ping()
    }

    fn has_broken(&self, conn: &mut B::C) -> bool {
        conn.is_broken()
    }
}

impl<B: Backend> Pool<B> {
    /// Connects once, which runs the migrations and reports a database that is not ours
    /// or too new with its own error; later connections (at most `max_size` at a time)
    /// are made on demand.
    pub(crate) fn open(backend: B, max_size: u32) -> Result<Self, QueueError> {
        drop(backend.connect()?);
        let backend = Arc::new(backend);
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .connection_timeout(POOL_WAIT)
            .build_unchecked(Connections(Arc::clone(&backend)));
        Ok(Pool { backend, pool })
    }

    /// The database the pool connects to.
    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }

    /// A connection; fails when the database is no longer the one opened (see
    /// [`Backend::check`]) or none comes free within 30 s.
    pub(crate) fn get(&self) -> Result<Pooled<B>, QueueError> {
        // A replaced database file would take writes that vanish: refuse them all.
        self.backend.check()?;
        self.pool.get().map_err(|e| QueueError::Unavailable {
            location: self.backend.describe(),
            message: format!(
                "no database connection within {} s ({e}); all {} may be busy",
                POOL_WAIT.as_secs(),
                self.pool.max_size()
            ),
        })
    }
}
