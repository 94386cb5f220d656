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
pub mod plan_body;
mod postgres;
mod schema;
mod sql;
mod sqlite;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::clock::{Clock, ManualClock, SystemClock};
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

/// State of a build job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Pending,
    /// Claimed by a worker that has not started yet.
    Leased,
    /// A worker is building it.
    Building,
    /// Back in the queue (lease expired, or retried); claimable like `pending`.
    Retry,
    Built,
    Failed,
    Cached,
    Reused,
    Missing,
    SkippedKnownFailure,
    SystemRecipeFailed,
    /// Cancelled before a worker took it.
    Cancelled,
    /// The wheel installs but failed verification on the target (see
    /// [`crate::manifest::Status::Broken`]).
    Broken,
}

impl JobStatus {
    pub const ALL: [JobStatus; 13] = [
        JobStatus::Pending,
        JobStatus::Leased,
        JobStatus::Building,
        JobStatus::Retry,
        JobStatus::Built,
        JobStatus::Failed,
        JobStatus::Cached,
        JobStatus::Reused,
        JobStatus::Missing,
        JobStatus::SkippedKnownFailure,
        JobStatus::SystemRecipeFailed,
        JobStatus::Cancelled,
        JobStatus::Broken,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Leased => "leased",
            JobStatus::Building => "building",
            JobStatus::Retry => "retry",
            JobStatus::Built => "built",
            JobStatus::Failed => "failed",
            JobStatus::Cached => "cached",
            JobStatus::Reused => "reused",
            JobStatus::Missing => "missing",
            JobStatus::SkippedKnownFailure => "skipped_known_failure",
            JobStatus::SystemRecipeFailed => "system_recipe_failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Broken => "broken",
        }
    }

    /// Waiting for a worker: `pending` or `retry`.
    pub fn is_claimable(&self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Retry)
    }

    /// Held by a worker: `leased` or `building`.
    pub fn is_active(&self) -> bool {
        matches!(self, JobStatus::Leased | JobStatus::Building)
    }

    /// Finished, one way or another.
    pub fn is_terminal(&self) -> bool {
        !self.is_claimable() && !self.is_active()
    }

    /// Finished with a usable wheel.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            JobStatus::Built | JobStatus::Cached | JobStatus::Reused
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                QueueError::Invalid(format!(
                    "unknown job status `{s}`; expected one of: {}",
                    JobStatus::ALL.map(|s| s.as_str()).join(", ")
                ))
            })
    }
}

/// What a job may change about the build (the seeds' "recipe").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Recipe {
    /// Free-form recipe steps (shown, recorded; e.g. from hints).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Build variant to use, e.g. `no-isolation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(nullable = false))]
    pub variant: Option<String>,
    /// System packages to install in the build environment first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// Environment variables for the build.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// A job to enqueue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub package: String,
    pub version: String,
    /// Target CPython version, `3.11`.
    pub python: String,
    pub platform_tag: String,
    #[serde(default)]
    pub recipe: Recipe,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub input_id: Option<i64>,
    /// Higher first.
    #[serde(default)]
    pub priority: i64,
    /// A terminal status to record directly (e.g. `missing` from a plan), instead of
    /// `pending`.
    #[serde(default)]
    pub status: Option<JobStatus>,
    #[serde(default)]
    pub detail: String,
}

/// A job that ran outside the queue (a CLI run), to be recorded as finished so the
/// dashboard counts it like a worker's job. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedJob {
    /// What ran; `spec.status` must be a final status (`built`, `failed`, …).
    pub spec: JobSpec,
    /// When work on it started, if known (the dashboard counts a failure with a start
    /// time as a build that ran).
    pub started_ms: Option<i64>,
    pub finished_ms: i64,
    /// What the run reported, in the shape a worker reports it (`wheel`, `sha256`, …).
    pub result: serde_json::Value,
}

/// A stored job. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: i64,
    pub package: String,
    pub version: String,
    pub python: String,
    pub platform_tag: String,
    pub recipe: Recipe,
    pub status: JobStatus,
    pub priority: i64,
    /// The fencing token: how many times the job was claimed.
    pub attempt: i64,
    /// How many times its lease expired.
    pub restarts: i64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub lease_owner: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub lease_expires_ms: Option<i64>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub heartbeat_ms: Option<i64>,
    pub cancel_requested: bool,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub plan_id: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub input_id: Option<i64>,
    pub detail: String,
    /// What the worker reported: wheel file, sha256, log path, duration, …
    pub result: serde_json::Value,
    pub log_bytes: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub started_ms: Option<i64>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub finished_ms: Option<i64>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub statuses: Vec<JobStatus>,
    /// Compared after PEP 503 normalization.
    pub package: Option<String>,
    pub version: Option<String>,
    pub plan_id: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// What a worker reports when it finishes a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// A terminal status, or `retry` to put the job back in the queue.
    pub status: JobStatus,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub result: serde_json::Value,
}

/// The heartbeat's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Someone asked to cancel the job: stop and complete it as `failed`/`cancelled`.
    pub cancel: bool,
    pub lease_expires_ms: i64,
}

/// A job whose lease the reaper took back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReapedJob {
    pub id: i64,
    pub attempt: i64,
    pub worker: Option<String>,
    /// `true`: back in the queue; `false`: the restart cap was reached, it failed.
    pub requeued: bool,
}

/// One numbered piece of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LogChunk {
    pub job_id: i64,
    pub seq: i64,
    pub attempt: i64,
    pub created_ms: i64,
    pub data: String,
}

/// Queue depth and counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueStats {
    /// Jobs by status (every status present, zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// `pending` + `retry`.
    pub depth: u64,
    /// `leased` + `building`.
    pub active: u64,
    /// Lease expiries over all jobs.
    pub restarts: u64,
    pub total: u64,
}

/// A worker as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub last_seen_ms: i64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub current_job: Option<i64>,
}

/// State of a pending input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputStatus {
    Pending,
    Planning,
    Planned,
    BuildQueued,
    Failed,
}

impl InputStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            InputStatus::Pending => "pending",
            InputStatus::Planning => "planning",
            InputStatus::Planned => "planned",
            InputStatus::BuildQueued => "build_queued",
            InputStatus::Failed => "failed",
        }
    }
}

impl FromStr for InputStatus {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            InputStatus::Pending,
            InputStatus::Planning,
            InputStatus::Planned,
            InputStatus::BuildQueued,
            InputStatus::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| QueueError::Invalid(format!("unknown input status `{s}`")))
    }
}

/// An uploaded input to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInput {
    /// `requirements` or `wheel`.
    pub kind: String,
    pub filename: String,
    /// Where the file is stored, relative to the cache folder.
    pub path: String,
    pub size: i64,
    pub sha256: String,
}

/// A stored input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PendingInput {
    pub id: i64,
    pub kind: String,
    pub filename: String,
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub status: InputStatus,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub plan_id: Option<String>,
    pub error: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StoredPlan {
    pub id: String,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub input_id: Option<i64>,
    pub python: String,
    pub platform_tag: String,
    /// Counts: reuse, build, missing, rejected, skipped (shaped as `PlanSummary`).
    #[cfg_attr(feature = "schema", schema(value_type = plan_body::PlanSummary))]
    pub summary: serde_json::Value,
    /// The whole plan (nodes and edges, shaped as `PlanBody`); `null` in
    /// listings.
    #[cfg_attr(
        feature = "schema",
        schema(value_type = Option<plan_body::PlanBody>, required = true)
    )]
    pub body: serde_json::Value,
    pub created_ms: i64,
}

/// Runtime settings of the control plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Plan uploads as they arrive.
    pub auto_plan: bool,
    /// Enqueue the builds of new plans.
    pub auto_build: bool,
}

/// A wheel listed by the `/simple` index, stored in the content-addressed store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PublishedFile {
    pub filename: String,
    /// PEP 503 normalized project name.
    pub project: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub requires_python: Option<String>,
    /// sha256 of the wheel's METADATA (PEP 658), also in the store.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub metadata_sha256: Option<String>,
    /// `built`, `cached`, `reused`, `uploaded`.
    pub origin: String,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub job_id: Option<i64>,
    pub created_ms: i64,
}

/// A hint added through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = UserHint))]
pub struct Hint {
    pub id: i64,
    /// Regular expression matched against build log lines.
    pub pattern: String,
    /// Suggested system packages.
    pub packages: Vec<String>,
    pub note: String,
    pub created_ms: i64,
}

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
    /// Puts finished, unsuccessful jobs (these ids, or all failed ones) back in the queue.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] or [`QueueError::Database`] when the database cannot be
    /// reached or fails.
    fn retry(&self, ids: &[i64]) -> Result<u64, QueueError>;
    /// Deletes jobs that are not running (these ids, or all with these statuses).
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
    /// another sha256 it is refused ([`QueueError::Conflict`]): a published file never
    /// changes.
    ///
    /// # Errors
    ///
    /// [`QueueError::Conflict`] when the name is listed with another sha256;
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
