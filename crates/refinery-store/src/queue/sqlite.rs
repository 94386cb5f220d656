//! The queue on SQLite: `<cache>/queue.db`; see [`crate::db`] for the backend and its
//! migrations.

use std::path::Path;

use super::schema::SCHEMA;
use super::{QueueError, SqlQueue, SqliteBackend};

impl SqlQueue<SqliteBackend> {
    /// Opens (creating and migrating) the SQLite queue database at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self, QueueError> {
        SqlQueue::with_backend(SqliteBackend::new(path, &SCHEMA))
    }
}
