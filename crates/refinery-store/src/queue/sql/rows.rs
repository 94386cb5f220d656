//! The queue's column lists and the mapping of rows to its types.

use super::super::db::{Row, RowExt, Value};
use super::super::{Hint, Job, JobStatus, PendingInput, PublishedFile, QueueError, Recipe};

pub(super) const JOB_COLS: &str =
    "id, package, version, python, platform_tag, recipe, status, priority, \
    attempt, restarts, lease_owner, lease_expires_ms, heartbeat_ms, cancel_requested, plan_id, \
    input_id, detail, result, log_bytes, created_ms, updated_ms, started_ms, finished_ms, cleared_ms";

pub(super) const INPUT_COLS: &str =
    "id, kind, filename, path, size, sha256, status, plan_id, error, created_ms, updated_ms";

pub(super) const PUBLISHED_COLS: &str =
    "filename, project, version, sha256, size, requires_python, \
    metadata_sha256, origin, job_id, created_ms";

/// Statuses of waiting or running jobs: at most one such job per package, version and
/// target (the unique index `jobs_one_active`).
pub(super) const ACTIVE_STATUSES: &str = "'pending', 'retry', 'leased', 'building'";

/// The conflict clause that makes an insert of a second waiting or running twin do
/// nothing (its target and predicate are those of `jobs_one_active`).
pub(super) const UNLESS_ACTIVE_TWIN: &str =
    "ON CONFLICT (package_key, version, python, platform_tag) \
    WHERE status IN ('pending', 'retry', 'leased', 'building') DO NOTHING";

/// `twin` is a job with the same package, version and target as the row of `jobs`.
pub(super) const TWIN_OF_JOBS: &str =
    "twin.package_key = jobs.package_key AND twin.version = jobs.version \
    AND twin.python = jobs.python AND twin.platform_tag = jobs.platform_tag";

pub(super) fn limit(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(super) fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Strips NUL characters and cuts at `max` bytes (on a character boundary).
pub(super) fn clean_chunk(data: &str, max: usize) -> (String, bool) {
    let mut text: String = data.chars().filter(|c| *c != '\0').collect();
    if text.len() <= max {
        return (text, false);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    (text, true)
}

pub(super) fn status_list(statuses: &[JobStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn job_from_row(row: &Row) -> Result<Job, QueueError> {
    Ok(Job {
        id: row.int(0),
        package: row.text(1),
        version: row.text(2),
        python: row.text(3),
        platform_tag: row.text(4),
        recipe: serde_json::from_str::<Recipe>(&row.text(5)).unwrap_or_default(),
        status: row.text(6).parse()?,
        priority: row.int(7),
        attempt: row.int(8),
        restarts: row.int(9),
        lease_owner: row.opt_text(10),
        lease_expires_ms: row.opt_int(11),
        heartbeat_ms: row.opt_int(12),
        cancel_requested: row.int(13) != 0,
        plan_id: row.opt_text(14),
        input_id: row.opt_int(15),
        detail: row.text(16),
        result: parse_json(&row.text(17)),
        log_bytes: row.int(18),
        created_ms: row.int(19),
        updated_ms: row.int(20),
        started_ms: row.opt_int(21),
        finished_ms: row.opt_int(22),
        cleared_ms: row.opt_int(23),
    })
}

pub(super) fn input_from_row(row: &Row) -> Result<PendingInput, QueueError> {
    Ok(PendingInput {
        id: row.int(0),
        kind: row.text(1),
        filename: row.text(2),
        path: row.text(3),
        size: row.int(4),
        sha256: row.text(5),
        status: row.text(6).parse()?,
        plan_id: row.opt_text(7),
        error: row.text(8),
        created_ms: row.int(9),
        updated_ms: row.int(10),
    })
}

pub(super) fn published_from_row(row: &Row) -> PublishedFile {
    PublishedFile {
        filename: row.text(0),
        project: row.text(1),
        version: row.text(2),
        sha256: row.text(3),
        size: row.int(4),
        requires_python: row.opt_text(5),
        metadata_sha256: row.opt_text(6),
        origin: row.text(7),
        job_id: row.opt_int(8),
        created_ms: row.int(9),
    }
}

pub(super) fn hint_from_row(r: &Row) -> Hint {
    Hint {
        id: r.int(0),
        pattern: r.text(1),
        packages: serde_json::from_str(&r.text(2)).unwrap_or_default(),
        note: r.text(3),
        created_ms: r.int(4),
    }
}

pub(super) fn hint_not_found(id: i64) -> QueueError {
    QueueError::NotFound {
        what: "hint",
        id: id.to_string(),
    }
}
