//! The answer of the log chunk endpoints (`GET /api/logs/{name}/{version}/chunks`,
//! `/api/jobs/{id}/logs/chunks`).

use refinery_store::queue::{JobStatus, LogChunk};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Numbered pieces of a job's log after `?after`, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogChunks {
    pub job_id: i64,
    /// The job's status now.
    pub status: JobStatus,
    /// The job is finished: no more chunks will come.
    pub done: bool,
    pub chunks: Vec<LogChunk>,
    /// The `?after` of the next call: the last chunk's `seq`, or the given `?after` when
    /// there was none.
    pub next_after: i64,
}
