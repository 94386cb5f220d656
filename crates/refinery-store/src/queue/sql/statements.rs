//! Statements the job operations share: recording a worker, reading a job, inserting
//! a job or a log chunk, and why a fenced update matched nothing.

use super::super::db::{Backend, Conn, RowExt};
use super::super::{Job, JobSpec, JobStatus, QueueError};
use super::rows::{job_from_row, ACTIVE_STATUSES, JOB_COLS};
use super::SqlQueue;
use crate::manifest::normalize_name;

impl<B: Backend> SqlQueue<B> {
    /// Worker `id` was seen now, on `host` (kept as it was when empty), with `job`.
    pub(super) fn record_worker(
        conn: &mut B::C,
        id: &str,
        host: &str,
        job: Option<i64>,
        now: i64,
    ) -> Result<(), QueueError> {
        conn.execute(
            "INSERT INTO workers (id, host, last_seen_ms, current_job) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, \
             current_job = excluded.current_job, \
             host = CASE WHEN excluded.host = '' THEN workers.host ELSE excluded.host END",
            &[id.into(), host.into(), now.into(), job.into()],
        )
        .map(|_| ())
    }

    pub(super) fn job_in(conn: &mut B::C, id: i64) -> Result<Job, QueueError> {
        let rows = conn.query(
            &format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"),
            &[id.into()],
        )?;
        rows.first()
            .map(job_from_row)
            .transpose()?
            .ok_or_else(|| QueueError::NotFound {
                what: "job",
                id: id.to_string(),
            })
    }

    /// Why a fenced update matched no row: the job is gone or the lease is lost.
    pub(super) fn fence_error(conn: &mut B::C, id: i64, attempt: i64) -> QueueError {
        match Self::job_in(conn, id) {
            Ok(_) => QueueError::LeaseLost { job: id, attempt },
            Err(e) => e,
        }
    }

    /// The waiting or running job with the same package, version and target.
    pub(super) fn active_twin(conn: &mut B::C, spec: &JobSpec) -> Result<Option<Job>, QueueError> {
        let rows = conn.query(
            &format!(
                "SELECT {JOB_COLS} FROM jobs WHERE package_key = $1 AND version = $2 \
                 AND python = $3 AND platform_tag = $4 AND status IN ({ACTIVE_STATUSES}) \
                 ORDER BY id LIMIT 1"
            ),
            &[
                normalize_name(&spec.package).into(),
                spec.version.trim().into(),
                spec.python.clone().into(),
                spec.platform_tag.clone().into(),
            ],
        )?;
        rows.first().map(job_from_row).transpose()
    }

    /// Inserts the job; with [`super::rows::UNLESS_ACTIVE_TWIN`] as `on_conflict`, an insert that would
    /// make a second waiting or running twin does nothing and answers `None`.
    pub(super) fn insert_job(
        conn: &mut B::C,
        spec: &JobSpec,
        status: JobStatus,
        on_conflict: &str,
        now: i64,
    ) -> Result<Option<Job>, QueueError> {
        let finished = (!status.is_claimable()).then_some(now);
        let recipe = serde_json::to_string(&spec.recipe).unwrap_or_else(|_| "{}".into());
        let rows = conn.query(
            &format!(
                "INSERT INTO jobs (package, package_key, version, python, platform_tag, \
                 recipe, status, priority, plan_id, input_id, detail, created_ms, \
                 updated_ms, finished_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) \
                 {on_conflict} RETURNING {JOB_COLS}"
            ),
            &[
                spec.package.trim().into(),
                normalize_name(&spec.package).into(),
                spec.version.trim().into(),
                spec.python.clone().into(),
                spec.platform_tag.clone().into(),
                recipe.into(),
                status.as_str().into(),
                spec.priority.into(),
                spec.plan_id.clone().into(),
                spec.input_id.into(),
                spec.detail.clone().into(),
                now.into(),
                finished.into(),
            ],
        )?;
        rows.first().map(job_from_row).transpose()
    }

    pub(super) fn insert_log(
        conn: &mut B::C,
        id: i64,
        attempt: i64,
        data: &str,
        now: i64,
    ) -> Result<i64, QueueError> {
        let rows = conn.query(
            "INSERT INTO job_logs (job_id, seq, attempt, created_ms, data) VALUES ($1, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_logs WHERE job_id = $1), $2, $3, $4) \
             RETURNING seq",
            &[id.into(), attempt.into(), now.into(), data.into()],
        )?;
        Ok(rows.first().map(|r| r.int(0)).unwrap_or(0))
    }
}
