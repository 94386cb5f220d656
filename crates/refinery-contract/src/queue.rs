//! The answers of the build queue's endpoints (`GET /api/queue`, `/api/queue/stats`,
//! `/api/workers`, `POST /api/queue/enqueue`, `/api/queue/retry`, `/api/queue/clear`).
//! Jobs and the store's counts are the store's own records ([`refinery_store::queue`]).

use std::collections::BTreeMap;

use refinery_store::glossary::StatusClass;
use refinery_store::queue::{Job, QueueStats, WorkerInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/queue`: the jobs the filter selects, and the counts of the whole queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueList {
    pub jobs: Vec<Job>,
    pub stats: QueueStats,
}

/// `GET /api/queue/stats`: the queue's depth and counts, and its workers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueueStatsReply {
    /// `pending` + `retry`.
    pub depth: u64,
    /// `leased` + `building`.
    pub active: u64,
    /// Jobs per glossary class, every class present (zeros included).
    pub by_class: BTreeMap<StatusClass, u64>,
    /// Jobs per status, every status present (zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// Lease expiries over all jobs.
    pub restarts: u64,
    pub total: u64,
    pub workers: Vec<WorkerView>,
    /// An in-process drain (`POST /api/worker/trigger`) is running.
    pub draining: bool,
    /// Of `total`, the finished jobs cleared from the Builds list (they still count).
    pub cleared: u64,
    /// What `POST /api/worker/trigger` can do on this server.
    pub trigger: DrainTrigger,
}

/// How this server can drain the queue on request (`POST /api/worker/trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrainTrigger {
    /// A worker in the server's process (`serve --local-worker`).
    Local,
    /// `WORKER_WEBHOOK_URL` starts one.
    Webhook,
    /// Neither: the trigger answers 409; only separate `refinery worker`s build.
    None,
}

/// `GET /api/workers`: every worker with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkersReply {
    pub workers: Vec<WorkerView>,
    /// How long a worker may stay silent and still count as alive.
    pub liveness_window_secs: i64,
}

/// What a worker is doing, decided by the server: `offline` when not seen (no claim, no
/// heartbeat) within the liveness window, `building` when seen and the lease owner of a
/// `leased` or `building` job, `idle` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    Building,
    Idle,
    Offline,
}

/// A worker as `/api/workers` shows it: what the store recorded plus its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    /// The store's record: `id`, `host`, `last_seen_ms`, `current_job` (the last job
    /// it reported; may be long finished: use `state` and `job`).
    #[serde(flatten)]
    pub info: WorkerInfo,
    pub state: WorkerState,
    /// The job it is building (only with `state: building`).
    #[schema(required = true)]
    pub job: Option<i64>,
}

/// The answer of `POST /api/queue/enqueue`: `201` with the new job, or `200` with the
/// identical job already waiting or running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnqueueReply {
    pub job: Job,
    /// `true` when this request made the job.
    pub created: bool,
}

/// The answer of `POST /api/queue/retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Retried {
    /// How many jobs went back to the queue.
    pub retried: u64,
}

/// The answer of `POST /api/queue/clear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cleared {
    /// How many jobs were cleared from the Builds list (none is deleted).
    pub cleared: u64,
}
