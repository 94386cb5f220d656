//! The history database: append-only events, one row per finished build attempt, and the
//! artifact index of the content-addressed store.
//!
//! SQLite in WAL mode with a 5 s busy timeout, so several processes and threads (each with
//! its own [`History`]) can write to the same file. The schema is created and migrated at
//! open by the storage layer (`crate::db`) from the history's one list of migrations,
//! numbered by `PRAGMA user_version`; the file is marked as ours with
//! `PRAGMA application_id`.
//!
//! Or PostgreSQL, for a control plane whose workers on several hosts share one history:
//! [`History::open_url`] with `postgres://…` (or [`History::open`] with a path whose string
//! form is such a URL). The tables are the same, created by the same list of migrations
//! (numbered in `refinery_history_schema`, next to the queue's tables); each handle holds
//! a connection lent by the database's pool, which keeps it when the handle is dropped.
//!
//! Package names are stored as given, plus a PEP 503 normalized key used for lookups and
//! grouping, so `events_for("PyYAML")` finds events recorded for `pyyaml`.
//!
//! Attempt statuses are an [`AttemptStatus`]: `success` is a success, `cancelled` and
//! `lost` are neutral (neither success nor failure), `failed` and `timeout` are failures.

mod attempt_status;
mod db;
mod error;
mod event_kind;
mod lost_attempt;
mod query;
mod record;
mod records;
mod schema;
#[cfg(test)]
mod tests;
mod variant;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

use crate::db::{PgBackend, Pool, Pooled};

pub use self::attempt_status::{AttemptStatus, ParseAttemptStatusError};
pub use self::db::{display_location, is_postgres_url};
pub use self::error::HistoryError;
pub use self::event_kind::{EventKind, ParseEventKindError};
pub use self::records::{
    Attempt, AttemptRow, Event, EventRow, FailureSummary, PackageSummary, SlowSummary, VariantStats,
};
pub use self::schema::SCHEMA_VERSION;
pub use self::variant::{ParseVariantError, Variant};

/// `PRAGMA application_id` of refinery history databases ("RFNY").
pub const APPLICATION_ID: i32 = 0x5246_4E59;

/// How long a writer waits for another one before giving up with [`HistoryError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Lent by the database's pool for the life of the handle (back to the pool when the
    /// handle is dropped); `None` only while a broken one is replaced.
    conn: RefCell<Option<Pooled<PgBackend>>>,
    pool: Pool<PgBackend>,
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
