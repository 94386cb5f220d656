//! The queue on PostgreSQL (the `postgres` crate, synchronous): the scale-out engine that
//! many workers on many hosts share; see [`crate::db`] for the backend and its migrations.

use super::schema::SCHEMA;
use super::{PgBackend, QueueError, SqlQueue};

impl SqlQueue<PgBackend> {
    /// Connects to PostgreSQL at `url` and migrates; `schema` (created if missing) keeps
    /// the tables apart from others in the same database, e.g. per test.
    pub fn open_postgres(url: &str, schema: Option<&str>) -> Result<Self, QueueError> {
        SqlQueue::with_backend(PgBackend::new(url, schema, &SCHEMA)?)
    }
}
