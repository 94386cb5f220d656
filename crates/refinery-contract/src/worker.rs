//! The worker protocol: what a remote worker (`refinery worker --server URL`) sends to the
//! control plane and what it gets back. Every call after the claim carries the job's
//! `attempt`, the fencing token: a worker that lost its lease gets `409 lease_lost`.
//! A wheel whose file name is already published with other bytes gets `409 name_taken`:
//! the worker uploads it again under the next free build number.

use refinery_store::queue::{Job, JobStatus, PublishedFile};

/// The error code of a wheel upload refused because its file name is already published
/// with other bytes (a published file never changes).
pub const NAME_TAKEN: &str = "name_taken";
use refinery_store::{Attempt, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /api/worker/claim`: lease the next job. Answer: [`ClaimReply`], or `204` when the
/// queue has nothing to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The worker's id: 1 to 200 printable characters.
    pub worker: String,
    /// The machine it runs on (shown on the dashboard).
    #[serde(default)]
    pub host: String,
    /// Lease length in seconds, 5 to 3600 (default 60).
    pub lease_secs: Option<u64>,
}

/// The answer of `POST /api/worker/claim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimReply {
    /// The leased job; its `attempt` fences every later call.
    pub job: Job,
}

/// `POST /api/jobs/{id}/start` (leased → building) and `POST /api/jobs/{id}/heartbeat`
/// (extend the lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptRequest {
    /// The fencing token from the claim.
    pub attempt: i64,
    /// Heartbeat only: the new lease length in seconds, 5 to 3600 (default 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u64>,
}

/// The answer of `POST /api/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatReply {
    /// Someone asked to cancel the job: stop and complete it as `cancelled`.
    pub cancel: bool,
    /// When the extended lease runs out, milliseconds since the Unix epoch.
    pub lease_expires_ms: i64,
}

/// `POST /api/jobs/{id}/logs`: append a chunk of the build log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogRequest {
    pub attempt: i64,
    /// UTF-8 text, appended as one numbered chunk.
    pub data: String,
}

/// The answer of `POST /api/jobs/{id}/logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogAppended {
    /// The chunk's sequence number (1, 2, …); `null` once the log reached its cap and
    /// nothing more is stored.
    #[schema(required = true)]
    pub seq: Option<i64>,
}

/// `POST /api/jobs/{id}/complete`: finish the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub attempt: i64,
    /// A terminal job status (`built`, `failed`, `cached`, `reused`, …).
    pub status: JobStatus,
    /// A one-line reason, shown on the dashboard.
    #[serde(default)]
    pub detail: String,
    /// What the build produced (the manifest entry), free-form JSON.
    #[serde(default)]
    pub result: Value,
}

/// The answer of `POST /api/jobs/{id}/complete` and `GET /api/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobReply {
    pub job: Job,
}

/// `POST /api/jobs/{id}/history`: the history a remote worker's build wrote locally,
/// forwarded into the control plane's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    pub attempt: i64,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

/// The query of `PUT /api/jobs/{id}/wheel` (the body is the wheel's bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WheelQuery {
    pub attempt: i64,
    /// The wheel's file name (PEP 427).
    pub filename: String,
    /// How the wheel came to be: `built`, `cached`, `reused`.
    #[serde(default)]
    pub origin: Option<String>,
}

/// The answer of the wheel uploads: the file the index now lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublishedReply {
    pub published: PublishedFile,
}

/// The answer of `POST /api/jobs/{id}/history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryRecorded {
    /// How many events and attempts were recorded.
    pub recorded: u64,
}

/// The answer of `POST /api/worker/trigger` (`202`): how the drain was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum DrainTriggered {
    /// `WORKER_WEBHOOK_URL` was called; `webhook_status` is the HTTP status it answered.
    Webhook { webhook_status: u16 },
    /// A worker in the server's process drains the queue; `started: false` (with a
    /// `reason`) when a drain was already running.
    Local {
        started: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        reason: Option<String>,
    },
}
