//! The control plane's store: the build queue (jobs with leases, fencing and heartbeats),
//! job logs as numbered chunks, workers, pending inputs, plans, runtime settings, the
//! published wheels of the `/simple` index, and user hints.
//!
//! One trait, [`QueueStore`], with one implementation written against the storage layer
//! (`crate::db`, shared with the history: one pool, one migration runner per backend; the
//! queue's one list of migrations is in `schema.rs`) and two backends:
//!
//! * SQLite (the embedded default, `<cache>/queue.db`, WAL mode): a claim is one
//!   `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …` inside `BEGIN IMMEDIATE`;
//! * PostgreSQL (scale-out, many workers on many hosts): a claim is one
//!   `WITH peek AS (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1) UPDATE … RETURNING …`.
//!
//! [`open_queue`] picks the backend by the URL scheme.
//!
//! **One active job per package.** A partial unique index admits one waiting or running
//! job (`pending`, `retry`, `leased`, `building`) per package, version, python and
//! platform; enqueue inserts with `ON CONFLICT DO NOTHING` and retry skips jobs with an
//! active twin, so no race (PostgreSQL runs them under READ COMMITTED) makes two.
//!
//! **Leases and fencing.** A claim increments the job's `attempt`; that number is the
//! fencing token. Every later call of the worker (`start`, `heartbeat`, `append_log`,
//! `complete`) says `WHERE id = $1 AND attempt = $2 AND status IN ('leased','building')`,
//! so a worker that lost its lease (and whose job was claimed again) gets
//! [`QueueError::LeaseLost`] and cannot overwrite the new owner's state. The heartbeat's
//! reply carries cancellation. [`QueueStore::reap`] puts jobs whose lease expired back in
//! the queue (status `retry`) up to a restart cap, then fails them; it writes why into the
//! job's log.

mod clock;
mod control_plane;
mod jobs;
pub mod plan_body;
mod postgres;
mod schema;
mod sql;
mod sqlite;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use self::clock::{Clock, ManualClock, SystemClock};
pub use self::control_plane::{
    Hint, InputStatus, NewInput, PendingInput, PublishedFile, Settings, StoredPlan,
};
pub use self::jobs::{
    FinishedJob, HeartbeatReply, Job, JobFilter, JobSpec, JobStatus, LogChunk, Outcome, QueueStats,
    ReapedJob, Recipe, WorkerInfo,
};
pub use self::sql::SqlQueue;
use crate::db;
pub use crate::db::PgBackend;
pub use crate::db::SqliteBackend;
pub use crate::queue_error::QueueError;

/// The queue on SQLite.
pub type SqliteQueue = SqlQueue<SqliteBackend>;
/// The queue on PostgreSQL.
pub type PgQueue = SqlQueue<PgBackend>;

/// Log chunks longer than this are cut (with a note).
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;
/// A job's log stops growing at this size (with a note).
pub const MAX_JOB_LOG_BYTES: i64 = 16 * 1024 * 1024;
/// How often a job may lose its lease before it is failed instead of re-queued.
pub const DEFAULT_MAX_RESTARTS: i64 = 3;
/// Milliseconds a leased job may still run after it is cancelled without a heartbeat (a
/// live worker heartbeats every few seconds, learns of the cancellation and stops); then
/// the reaper ends it `cancelled`.
pub const CANCEL_GRACE_MS: i64 = 60_000;

/// The control plane's store. Every method is blocking; from async code call it through
/// `spawn_blocking`.
pub trait QueueStore: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Where the database is (no credentials).
    fn location(&self) -> String;
    /// A cheap round trip to the database.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn ping(&self) -> Result<(), QueueError>;

    // Jobs.
    /// Adds a job; an identical job (same package, version, python and platform) that is
    /// still waiting or running is returned instead (`false`). The database holds at most
    /// one such job (a unique index), so concurrent enqueues of one package make one job.
    ///
    /// # Errors
    ///
    /// [`QueueError::Invalid`] without a package name or a version, or for a status a new
    /// job cannot start in; [`QueueError::Conflict`] when twins kept being enqueued and
    /// finished by others during the call (try again); [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn enqueue(&self, spec: &JobSpec) -> Result<(Job, bool), QueueError>;
    /// Adds a job that already ran elsewhere (attempt 1, no lease), with its times and
    /// result; [`QueueError::Invalid`] unless its status is final.
    ///
    /// # Errors
    ///
    /// [`QueueError::Invalid`] unless the job's status is final, and
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn record_finished(&self, job: &FinishedJob) -> Result<Job, QueueError>;
    /// One job.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no job has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn job(&self, id: i64) -> Result<Job, QueueError>;
    /// The jobs `filter` selects.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, QueueError>;
    /// The newest job of a package version.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn latest_job(&self, package: &str, version: &str) -> Result<Option<Job>, QueueError>;
    /// Claims the next job (highest priority, oldest first) for `worker`.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Job>, QueueError> {
        self.claim_as(worker, "", lease)
    }
    /// [`QueueStore::claim`], recording in the same transaction that `worker` (on `host`,
    /// kept as it was when empty) was seen, with the job it got or none: one commit, where
    /// a separate [`QueueStore::worker_seen`] would cost a second (the bound of a busy
    /// PostgreSQL queue is the disk's commit rate).
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn claim_as(
        &self,
        worker: &str,
        host: &str,
        lease: Duration,
    ) -> Result<Option<Job>, QueueError>;
    /// `leased` → `building` (fenced).
    ///
    /// # Errors
    ///
    /// [`QueueError::LeaseLost`] when `attempt` no longer holds the job's lease,
    /// [`QueueError::NotFound`] when there is no such job; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn start(&self, id: i64, attempt: i64) -> Result<(), QueueError>;
    /// Extends the lease (fenced); the reply says whether to cancel.
    ///
    /// # Errors
    ///
    /// [`QueueError::LeaseLost`] when `attempt` no longer holds the job's lease,
    /// [`QueueError::NotFound`] when there is no such job; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn heartbeat(
        &self,
        id: i64,
        attempt: i64,
        lease: Duration,
    ) -> Result<HeartbeatReply, QueueError>;
    /// Finishes the job (fenced).
    ///
    /// # Errors
    ///
    /// [`QueueError::LeaseLost`] when `attempt` no longer holds the job's lease,
    /// [`QueueError::NotFound`] when there is no such job; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn complete(&self, id: i64, attempt: i64, outcome: &Outcome) -> Result<Job, QueueError>;
    /// Takes back expired leases: re-queue up to `max_restarts`, then fail.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn reap(&self, max_restarts: i64) -> Result<Vec<ReapedJob>, QueueError>;
    /// Puts finished, unsuccessful jobs (these ids, or all failed ones) back in the queue
    /// (and back in the Builds list, if they were cleared from it).
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn retry(&self, ids: &[i64]) -> Result<u64, QueueError>;
    /// Clears jobs that are not running (these ids, and all with these statuses) from the
    /// Builds list: nothing is deleted, a cleared job keeps its result and log and still
    /// counts in [`QueueStore::stats`]; a waiting one is cancelled. Returns how many it
    /// cleared (not those cleared before).
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn clear(&self, ids: &[i64], statuses: &[JobStatus]) -> Result<u64, QueueError>;
    /// Cancels a waiting job, or asks the worker of a running one to stop.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no job has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn cancel(&self, id: i64) -> Result<Job, QueueError>;
    /// Queue depth, counts by status, workers.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn stats(&self) -> Result<QueueStats, QueueError>;

    // Logs.
    /// Appends a chunk to the job's log (fenced); `None` once the log reached its cap.
    ///
    /// # Errors
    ///
    /// [`QueueError::LeaseLost`] when `attempt` no longer holds the job's lease,
    /// [`QueueError::NotFound`] when there is no such job; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn append_log(&self, id: i64, attempt: i64, data: &str) -> Result<Option<i64>, QueueError>;
    /// Appends a line from the control plane itself (not fenced).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no job has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn append_system_log(&self, id: i64, line: &str) -> Result<(), QueueError>;
    /// Chunks with `seq > after`, oldest first.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn log_chunks(&self, id: i64, after: i64, limit: usize) -> Result<Vec<LogChunk>, QueueError>;

    // Workers.
    /// Records that worker `id` (on `host`) was seen, holding `job` or none.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn worker_seen(&self, id: &str, host: &str, job: Option<i64>) -> Result<(), QueueError>;
    /// Every worker seen, newest first.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn workers(&self) -> Result<Vec<WorkerInfo>, QueueError>;

    // Inputs.
    /// Stores a pending input.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn create_input(&self, input: &NewInput) -> Result<PendingInput, QueueError>;
    /// One input.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no input has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn input(&self, id: i64) -> Result<PendingInput, QueueError>;
    /// Inputs, newest first.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn inputs(&self, limit: usize, offset: usize) -> Result<Vec<PendingInput>, QueueError>;
    /// Moves an input to `to` if its status is one of `from` (else [`QueueError::Conflict`]).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no input has this id, [`QueueError::Conflict`] when
    /// its status is not one of `from`; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn transition_input(
        &self,
        id: i64,
        from: &[InputStatus],
        to: InputStatus,
        plan_id: Option<&str>,
        error: &str,
    ) -> Result<PendingInput, QueueError>;
    /// Moves every input left `planning` (by a server that stopped mid-plan) back to
    /// `pending` with `note` as its error text, oldest first, so it can be planned again.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn recover_planning_inputs(&self, note: &str) -> Result<Vec<PendingInput>, QueueError>;

    // Plans.
    /// Stores a plan (replacing one with the same id).
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn save_plan(&self, plan: &StoredPlan) -> Result<(), QueueError>;
    /// One plan, with its body.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no plan has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn plan(&self, id: &str) -> Result<StoredPlan, QueueError>;
    /// Newest first, without bodies.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn plans(&self, limit: usize, offset: usize) -> Result<Vec<StoredPlan>, QueueError>;
    /// The newest `limit` plans, with bodies, that have a node of package `name`
    /// (compared normalized), newest first.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn plans_with_package(&self, name: &str, limit: usize) -> Result<Vec<StoredPlan>, QueueError>;

    // Settings.
    /// `AUTO_PLAN` and `AUTO_BUILD`.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn settings(&self) -> Result<Settings, QueueError>;
    /// Changes the settings.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn put_settings(&self, settings: &Settings) -> Result<(), QueueError>;

    // The index.
    /// Lists a file. A name already listed with the same sha256 is left as it is; with
    /// another sha256 it is refused ([`QueueError::NameTaken`]): a published file never
    /// changes.
    ///
    /// # Errors
    ///
    /// [`QueueError::NameTaken`] when the name is listed with another sha256;
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn publish(&self, file: &PublishedFile) -> Result<(), QueueError>;
    /// Every listed file.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn published(&self) -> Result<Vec<PublishedFile>, QueueError>;
    /// Changes whenever a file is published (cheap; for caches).
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn published_generation(&self) -> Result<(i64, i64), QueueError>;

    // Hints.
    /// Adds a hint.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails (the pattern is checked by the caller).
    fn add_hint(&self, pattern: &str, packages: &[String], note: &str) -> Result<Hint, QueueError>;
    /// The hints added through the API.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn hints(&self) -> Result<Vec<Hint>, QueueError>;
    /// Replace an added hint's pattern, packages and note (its id and age stay).
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no hint has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn update_hint(
        &self,
        id: i64,
        pattern: &str,
        packages: &[String],
        note: &str,
    ) -> Result<Hint, QueueError>;
    /// Deletes an added hint.
    ///
    /// # Errors
    ///
    /// [`QueueError::NotFound`] when no hint has this id; [`QueueError::Unavailable`] or
    /// [`QueueError::Database`] when the database cannot be reached or fails.
    fn delete_hint(&self, id: i64) -> Result<(), QueueError>;
}

/// Opens the queue store named by `url`:
/// * empty: `SQLite` at `<cache>/queue.db`;
/// * `sqlite:PATH` or `sqlite://PATH`: `SQLite` at `PATH`;
/// * `postgres://…` or `postgresql://…`: `PostgreSQL`.
///
/// # Errors
///
/// [`QueueError::Invalid`] for another kind of URL, [`QueueError::Unavailable`] when the
/// database cannot be reached, [`QueueError::NotOurs`] or [`QueueError::TooNew`] when it
/// is not a queue database this refinery can use, and [`QueueError::Database`] when its
/// migrations fail.
pub fn open_queue(url: Option<&str>, cache: &Path) -> Result<Arc<dyn QueueStore>, QueueError> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Arc::new(SqliteQueue::open_sqlite(&cache.join("queue.db"))?)),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Arc::new(PgQueue::open_postgres(u, None)?))
        }
        Some(u) => {
            if let Some(path) = u
                .strip_prefix("sqlite://")
                .or_else(|| u.strip_prefix("sqlite:"))
            {
                Ok(Arc::new(SqliteQueue::open_sqlite(Path::new(path))?))
            } else {
                Err(QueueError::Invalid(format!(
                    "database URL `{}` has an unknown scheme; use postgres://USER@HOST/DB or sqlite:PATH (or leave it out for <cache>/queue.db)",
                    refinery_pep::redact_url(u)
                )))
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
