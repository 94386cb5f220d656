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

/// The data of a live log's `end` event (SSE, `/api/jobs/{id}/logs/stream` and its
/// aliases): the job finished, or it is gone (deleted while it was followed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogEnd {
    pub job_id: i64,
    /// The job's final status, or `gone`.
    pub status: LogEndStatus,
    /// Why the job ended as it did; absent when the job is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
}

impl LogEnd {
    /// The `end` of a job that finished with `status` and `detail`.
    pub fn finished(job_id: i64, status: JobStatus, detail: String) -> LogEnd {
        LogEnd {
            job_id,
            status: LogEndStatus::Job(status),
            detail: Some(detail),
        }
    }

    /// The `end` of a job that no longer exists.
    pub fn gone(job_id: i64) -> LogEnd {
        LogEnd {
            job_id,
            status: LogEndStatus::Gone(JobGone::Gone),
            detail: None,
        }
    }
}

/// The `status` of a `LogEnd`: a job status, or `gone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LogEndStatus {
    Job(JobStatus),
    Gone(JobGone),
}

/// The job a live log followed no longer exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobGone {
    Gone,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn log_end_keeps_the_event_keys() {
        let finished = LogEnd::finished(7, JobStatus::Built, "ok".into());
        let value = serde_json::to_value(&finished).unwrap();
        assert_eq!(
            value,
            json!({"job_id": 7, "status": "built", "detail": "ok"})
        );
        assert_eq!(serde_json::from_value::<LogEnd>(value).unwrap(), finished);
        let gone = serde_json::to_value(LogEnd::gone(8)).unwrap();
        assert_eq!(gone, json!({"job_id": 8, "status": "gone"}));
        assert_eq!(
            serde_json::from_value::<LogEnd>(gone).unwrap(),
            LogEnd::gone(8)
        );
    }
}
