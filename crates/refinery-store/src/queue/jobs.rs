//! The queue's records: a job's status, what is enqueued (a [`JobSpec`], a CLI run's
//! [`FinishedJob`]), the stored [`Job`], what a worker reports and is told (outcome,
//! heartbeat reply), reaped jobs, log chunks, the queue's counts and the workers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::queue_error::QueueError;

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
    /// When the job was cleared from the Builds list (`POST /api/queue/clear`); it still
    /// counts everywhere else, as the history does.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub cleared_ms: Option<i64>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub statuses: Vec<JobStatus>,
    /// Compared after PEP 503 normalization.
    pub package: Option<String>,
    pub version: Option<String>,
    pub plan_id: Option<String>,
    /// Leave out jobs cleared from the Builds list.
    pub hide_cleared: bool,
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

/// A job whose lease the reaper took back: the attempt its worker lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReapedJob {
    pub id: i64,
    pub attempt: i64,
    pub worker: Option<String>,
    /// `true`: back in the queue; `false`: the restart cap was reached (it failed) or it
    /// had been cancelled (it ended `cancelled`).
    pub requeued: bool,
    pub package: String,
    pub version: String,
    /// `3.11`, as the job holds it.
    pub python: String,
    pub platform_tag: String,
    /// Unix milliseconds: when the attempt started building (`None`: it never did), when
    /// its worker was last heard of, and when the lease was taken back.
    pub started_ms: Option<i64>,
    pub heartbeat_ms: Option<i64>,
    pub reaped_ms: i64,
    /// What the job says now (`lease of worker w1 expired; re-queued`).
    pub detail: String,
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
    /// Of `by_status`, the jobs cleared from the Builds list (statuses with none left out).
    #[serde(default)]
    pub cleared_by_status: BTreeMap<String, u64>,
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
