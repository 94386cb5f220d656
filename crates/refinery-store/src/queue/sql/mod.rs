//! The queue logic, written once for both backends.

use std::sync::Arc;
use std::time::Duration;

use super::db::{Backend, Conn, Dialect, Pool, Row, RowExt, Value, POOL_SIZE};
use super::{
    Clock, FinishedJob, HeartbeatReply, Hint, InputStatus, Job, JobFilter, JobSpec, JobStatus,
    LogChunk, NewInput, Outcome, PendingInput, PublishedFile, QueueError, QueueStats, QueueStore,
    ReapedJob, Settings, StoredPlan, SystemClock, WorkerInfo, CANCEL_GRACE_MS, MAX_CHUNK_BYTES,
    MAX_JOB_LOG_BYTES,
};
use crate::manifest::normalize_name;

mod catalog;
mod clearing;
mod rows;
mod statements;

use self::rows::{
    clean_chunk, job_from_row, json_text, limit, status_list, ACTIVE_STATUSES, JOB_COLS,
    TWIN_OF_JOBS, UNLESS_ACTIVE_TWIN,
};

/// The queue store over a backend: [`SqliteBackend`](super::SqliteBackend) or [`PgBackend`](super::PgBackend).
pub struct SqlQueue<B: Backend> {
    pool: Pool<B>,
    clock: Arc<dyn Clock>,
}

impl<B: Backend> std::fmt::Debug for SqlQueue<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlQueue")
            .field("location", &self.pool.backend().describe())
            .finish()
    }
}

impl<B: Backend> SqlQueue<B> {
    /// Opens the pool (its first connection runs the migrations and reports a database
    /// that is not ours or too new with its own error).
    pub(crate) fn with_backend(backend: B) -> Result<Self, QueueError> {
        let pool = Pool::open(backend, POOL_SIZE)?;
        Ok(SqlQueue {
            pool,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same store reading time from `clock` (leases, heartbeats, reaping, the
    /// instants it records): tests move a [`super::ManualClock`] instead of sleeping.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut B::C) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// Runs `f` in a transaction (SQLite: `BEGIN IMMEDIATE`, so writers queue up).
    fn tx<T>(&self, f: impl FnOnce(&mut B::C) -> Result<T, QueueError>) -> Result<T, QueueError> {
        self.with_conn(|conn| {
            conn.batch(match B::DIALECT {
                Dialect::Sqlite => "BEGIN IMMEDIATE",
                Dialect::Postgres => "BEGIN",
            })?;
            match f(conn) {
                Ok(value) => {
                    conn.batch("COMMIT")?;
                    Ok(value)
                }
                Err(e) => {
                    let _ = conn.batch("ROLLBACK");
                    Err(e)
                }
            }
        })
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        self.with_conn(|c| c.query(sql, params))
    }
}

impl<B: Backend> QueueStore for SqlQueue<B> {
    fn backend(&self) -> &'static str {
        match B::DIALECT {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    fn location(&self) -> String {
        self.pool.backend().describe()
    }

    fn ping(&self) -> Result<(), QueueError> {
        self.query("SELECT 1", &[]).map(|_| ())
    }

    fn enqueue(&self, spec: &JobSpec) -> Result<(Job, bool), QueueError> {
        let status = spec.status.unwrap_or(JobStatus::Pending);
        // A package that never resolved (`missing`) has no version to record.
        let needs_version = status != JobStatus::Missing;
        if spec.package.trim().is_empty() || (needs_version && spec.version.trim().is_empty()) {
            return Err(QueueError::Invalid(
                "a job needs a package name and a version (unless it is missing)".into(),
            ));
        }
        if status.is_active() {
            return Err(QueueError::Invalid(format!(
                "a new job cannot start as `{status}`"
            )));
        }
        self.tx(|conn| {
            if !status.is_claimable() {
                let job = Self::insert_job(conn, spec, status, "", self.now_ms())?
                    .ok_or_else(|| QueueError::Conflict("the insert returned no row".into()))?;
                return Ok((job, true));
            }
            // The unique index `jobs_one_active` (migration 2) admits one waiting or running
            // job per package, version and target, so two enqueues racing past the look-up
            // (PostgreSQL under READ COMMITTED) still make one job: the later insert does
            // nothing and the look-up then sees the winner. A twin that finished in between
            // frees the slot, hence the second round.
            for _ in 0..3 {
                if let Some(existing) = Self::active_twin(conn, spec)? {
                    return Ok((existing, false));
                }
                if let Some(job) =
                    Self::insert_job(conn, spec, status, UNLESS_ACTIVE_TWIN, self.now_ms())?
                {
                    return Ok((job, true));
                }
            }
            Err(QueueError::Conflict(format!(
                "{} {} was enqueued and finished by others while this enqueue ran; try again",
                spec.package.trim(),
                spec.version.trim()
            )))
        })
    }

    fn record_finished(&self, finished: &FinishedJob) -> Result<Job, QueueError> {
        let spec = &finished.spec;
        let status = spec.status.unwrap_or(JobStatus::Pending);
        // A package that never resolved (`missing`) has no version to record.
        let needs_version = status != JobStatus::Missing;
        if !status.is_terminal()
            || spec.package.trim().is_empty()
            || (needs_version && spec.version.trim().is_empty())
        {
            return Err(QueueError::Invalid(format!(
                "a finished job needs a package, a version (unless missing) and a final status (got `{status}` for `{}` `{}`)",
                spec.package, spec.version
            )));
        }
        self.tx(|c| {
            let job = Self::insert_job(c, spec, status, "", self.now_ms())?
                .ok_or_else(|| QueueError::Conflict("the insert returned no row".into()))?;
            // It ran once, elsewhere: its own times and result, no lease.
            let rows = c.query(
                &format!(
                    "UPDATE jobs SET attempt = 1, result = $2, started_ms = $3, \
                     finished_ms = $4, created_ms = $5, updated_ms = $4 WHERE id = $1 \
                     RETURNING {JOB_COLS}"
                ),
                &[
                    job.id.into(),
                    json_text(&finished.result).into(),
                    finished.started_ms.into(),
                    finished.finished_ms.into(),
                    finished
                        .started_ms
                        .unwrap_or(finished.finished_ms)
                        .min(finished.finished_ms)
                        .into(),
                ],
            )?;
            rows.first()
                .map(job_from_row)
                .transpose()?
                .ok_or_else(|| QueueError::Conflict("the update returned no row".into()))
        })
    }

    fn job(&self, id: i64) -> Result<Job, QueueError> {
        self.with_conn(|c| Self::job_in(c, id))
    }

    fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, QueueError> {
        let mut sql = format!("SELECT {JOB_COLS} FROM jobs WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        if !filter.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                status_list(&filter.statuses)
            ));
        }
        if let Some(package) = &filter.package {
            params.push(normalize_name(package).into());
            sql.push_str(&format!(" AND package_key = ${}", params.len()));
        }
        if let Some(version) = &filter.version {
            params.push(version.into());
            sql.push_str(&format!(" AND version = ${}", params.len()));
        }
        if let Some(plan) = &filter.plan_id {
            params.push(plan.into());
            sql.push_str(&format!(" AND plan_id = ${}", params.len()));
        }
        if filter.hide_cleared {
            sql.push_str(" AND cleared_ms IS NULL");
        }
        params.push(limit(if filter.limit == 0 { 100 } else { filter.limit }));
        params.push(limit(filter.offset));
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ));
        self.query(&sql, &params)?
            .iter()
            .map(job_from_row)
            .collect()
    }

    fn latest_job(&self, package: &str, version: &str) -> Result<Option<Job>, QueueError> {
        let rows = self.query(
            &format!(
                "SELECT {JOB_COLS} FROM jobs WHERE package_key = $1 AND version = $2 \
                 ORDER BY id DESC LIMIT 1"
            ),
            &[normalize_name(package).into(), version.into()],
        )?;
        rows.first().map(job_from_row).transpose()
    }

    fn claim_as(
        &self,
        worker: &str,
        host: &str,
        lease: Duration,
    ) -> Result<Option<Job>, QueueError> {
        // SQLite: the transaction (BEGIN IMMEDIATE) serializes claimers by the write lock;
        // PostgreSQL: SKIP LOCKED lets concurrent claimers pass each other.
        let lock = match B::DIALECT {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        // `started_ms` is set by `start`; cleared here so that a lease lost before it does
        // not carry the previous attempt's start into its lost-attempt record.
        let sql = format!(
            "UPDATE jobs SET status = 'leased', attempt = attempt + 1, lease_owner = $1, \
             lease_expires_ms = $2, heartbeat_ms = $3, updated_ms = $3, cancel_requested = 0, \
             started_ms = NULL \
             WHERE id = (SELECT id FROM jobs WHERE status IN ('pending', 'retry') \
             ORDER BY priority DESC, id LIMIT 1{lock}) \
             RETURNING {JOB_COLS}"
        );
        let now = self.now_ms();
        let expires = now + lease.as_millis() as i64;
        self.tx(|c| {
            let rows = c.query(&sql, &[worker.into(), expires.into(), now.into()])?;
            let job = rows.first().map(job_from_row).transpose()?;
            Self::record_worker(c, worker, host, job.as_ref().map(|j| j.id), self.now_ms())?;
            Ok(job)
        })
    }

    fn start(&self, id: i64, attempt: i64) -> Result<(), QueueError> {
        self.with_conn(|c| {
            let now = self.now_ms();
            let n = c.execute(
                "UPDATE jobs SET status = 'building', started_ms = $3, updated_ms = $3 \
                 WHERE id = $1 AND attempt = $2 AND status IN ('leased', 'building')",
                &[id.into(), attempt.into(), now.into()],
            )?;
            if n == 0 {
                return Err(Self::fence_error(c, id, attempt));
            }
            Ok(())
        })
    }

    fn heartbeat(
        &self,
        id: i64,
        attempt: i64,
        lease: Duration,
    ) -> Result<HeartbeatReply, QueueError> {
        self.tx(|c| {
            let now = self.now_ms();
            let expires = now + lease.as_millis() as i64;
            let rows = c.query(
                "UPDATE jobs SET lease_expires_ms = $3, heartbeat_ms = $4 \
                 WHERE id = $1 AND attempt = $2 AND status IN ('leased', 'building') \
                 RETURNING cancel_requested, lease_owner",
                &[id.into(), attempt.into(), expires.into(), now.into()],
            )?;
            let Some(row) = rows.first() else {
                return Err(Self::fence_error(c, id, attempt));
            };
            if let Some(owner) = row.opt_text(1) {
                Self::record_worker(c, &owner, "", Some(id), self.now_ms())?;
            }
            Ok(HeartbeatReply {
                cancel: row.int(0) != 0,
                lease_expires_ms: expires,
            })
        })
    }

    fn complete(&self, id: i64, attempt: i64, outcome: &Outcome) -> Result<Job, QueueError> {
        if outcome.status.is_active() || outcome.status == JobStatus::Pending {
            return Err(QueueError::Invalid(format!(
                "a job cannot be completed as `{}`; use a final status or `retry`",
                outcome.status
            )));
        }
        let owner = self.with_conn(|c| {
            let now = self.now_ms();
            let finished = (!outcome.status.is_claimable()).then_some(now);
            let rows = c.query(
                &format!(
                    "UPDATE jobs SET status = $3, detail = $4, result = $5, finished_ms = $6, \
                     updated_ms = $7, lease_expires_ms = NULL, lease_owner = NULL \
                     WHERE id = $1 AND attempt = $2 AND status IN ('leased', 'building') \
                     RETURNING {JOB_COLS}"
                ),
                &[
                    id.into(),
                    attempt.into(),
                    outcome.status.as_str().into(),
                    outcome.detail.clone().into(),
                    json_text(&outcome.result).into(),
                    finished.into(),
                    now.into(),
                ],
            )?;
            match rows.first() {
                Some(row) => job_from_row(row),
                None => Err(Self::fence_error(c, id, attempt)),
            }
        })?;
        Ok(owner)
    }

    fn reap(&self, max_restarts: i64) -> Result<Vec<ReapedJob>, QueueError> {
        let now = self.now_ms();
        let expired = self.query(
            "SELECT id, attempt, lease_owner, restarts, cancel_requested, package, version, \
             python, platform_tag, started_ms, heartbeat_ms FROM jobs \
             WHERE status IN ('leased', 'building') AND lease_expires_ms < $1 ORDER BY id",
            &[now.into()],
        )?;
        let mut reaped = Vec::new();
        for row in expired {
            let (id, attempt, owner, restarts) =
                (row.int(0), row.int(1), row.opt_text(2), row.int(3));
            // Someone cancelled it: it ends cancelled, it does not go back to the queue.
            let cancelled = row.int(4) != 0;
            let requeue = restarts < max_restarts && !cancelled;
            let who = owner.clone().unwrap_or_else(|| "?".into());
            let line = if cancelled {
                format!(
                    "[refinery] the lease of worker {who} on attempt {attempt} expired (no heartbeat) after the job was cancelled: it ends cancelled\n"
                )
            } else if requeue {
                format!(
                    "[refinery] the lease of worker {who} on attempt {attempt} expired (no heartbeat); the job goes back to the queue (restart {} of {max_restarts})\n",
                    restarts + 1
                )
            } else {
                format!(
                    "[refinery] the lease of worker {who} on attempt {attempt} expired (no heartbeat) and the job already lost {restarts} leases: it fails\n"
                )
            };
            let detail = if cancelled {
                format!("cancelled; worker {who} stopped answering before it stopped the build")
            } else if requeue {
                format!("lease of worker {who} expired; re-queued")
            } else {
                format!("lease expired {} times; giving up", restarts + 1)
            };
            let done = self.tx(|c| {
                let n = c.execute(
                    "UPDATE jobs SET status = $4, restarts = restarts + 1, lease_owner = NULL, \
                     lease_expires_ms = NULL, updated_ms = $3, detail = $5, finished_ms = $6 \
                     WHERE id = $1 AND attempt = $2 AND status IN ('leased', 'building') \
                     AND lease_expires_ms < $3",
                    &[
                        id.into(),
                        attempt.into(),
                        now.into(),
                        match (cancelled, requeue) {
                            (true, _) => "cancelled",
                            (false, true) => "retry",
                            (false, false) => "failed",
                        }
                        .into(),
                        detail.clone().into(),
                        (!requeue).then_some(now).into(),
                    ],
                )?;
                if n == 1 {
                    Self::insert_log(c, id, attempt, &line, now)?;
                }
                Ok(n == 1)
            })?;
            if done {
                reaped.push(ReapedJob {
                    id,
                    attempt,
                    worker: owner,
                    requeued: requeue,
                    package: row.text(5),
                    version: row.text(6),
                    python: row.text(7),
                    platform_tag: row.text(8),
                    started_ms: row.opt_int(9),
                    heartbeat_ms: row.opt_int(10),
                    reaped_ms: now,
                    detail,
                });
            }
        }
        Ok(reaped)
    }

    fn retry(&self, ids: &[i64]) -> Result<u64, QueueError> {
        let retryable = status_list(&[
            JobStatus::Failed,
            JobStatus::Missing,
            JobStatus::SystemRecipeFailed,
            JobStatus::SkippedKnownFailure,
            JobStatus::Cancelled,
            JobStatus::Broken,
        ]);
        // A job whose twin is already waiting or running stays as it is: one active job
        // per package, version and target.
        let no_active_twin = format!(
            "NOT EXISTS (SELECT 1 FROM jobs AS twin WHERE {TWIN_OF_JOBS} \
             AND twin.status IN ({ACTIVE_STATUSES}))"
        );
        let now = self.now_ms();
        if ids.is_empty() {
            // The newest failed job of each package, version and target.
            return self.with_conn(|c| {
                c.execute(
                    &format!(
                        "UPDATE jobs SET status = 'retry', updated_ms = $1, finished_ms = NULL, \
                         cancel_requested = 0, cleared_ms = NULL \
                         WHERE status = 'failed' AND {no_active_twin} \
                         AND id = (SELECT MAX(twin.id) FROM jobs AS twin WHERE {TWIN_OF_JOBS} \
                         AND twin.status = 'failed')"
                    ),
                    &[now.into()],
                )
            });
        }
        self.tx(|c| {
            let mut n = 0;
            for id in ids {
                n += c.execute(
                    &format!(
                        "UPDATE jobs SET status = 'retry', updated_ms = $2, finished_ms = NULL, \
                         cancel_requested = 0, cleared_ms = NULL \
                         WHERE id = $1 AND status IN ({retryable}) AND {no_active_twin}"
                    ),
                    &[(*id).into(), now.into()],
                )?;
            }
            Ok(n)
        })
    }

    fn clear(&self, ids: &[i64], statuses: &[JobStatus]) -> Result<u64, QueueError> {
        clearing::clear(self, ids, statuses)
    }

    fn cancel(&self, id: i64) -> Result<Job, QueueError> {
        self.tx(|c| {
            let now = self.now_ms();
            c.execute(
                "UPDATE jobs SET status = 'cancelled', updated_ms = $2, finished_ms = $2, \
                 detail = CASE WHEN attempt = 0 THEN 'cancelled before a worker took it' \
                 ELSE 'cancelled while waiting for another attempt' END \
                 WHERE id = $1 AND status IN ('pending', 'retry')",
                &[id.into(), now.into()],
            )?;
            // A live worker learns it at its next heartbeat and stops; a lease that is not
            // renewed ends within the grace instead of the up to an hour it was granted.
            c.execute(
                "UPDATE jobs SET cancel_requested = 1, updated_ms = $2, \
                 lease_expires_ms = CASE WHEN lease_expires_ms > $3 THEN $3 \
                 ELSE lease_expires_ms END \
                 WHERE id = $1 AND status IN ('leased', 'building')",
                &[id.into(), now.into(), (now + CANCEL_GRACE_MS).into()],
            )?;
            Self::job_in(c, id)
        })
    }

    fn stats(&self) -> Result<QueueStats, QueueError> {
        let rows = self.query(
            "SELECT status, COUNT(*), CAST(COALESCE(SUM(restarts), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN cleared_ms IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) \
             FROM jobs GROUP BY status",
            &[],
        )?;
        let mut stats = QueueStats::default();
        for status in JobStatus::ALL {
            stats.by_status.insert(status.as_str().to_string(), 0);
        }
        for row in rows {
            let (status, count, restarts) = (row.text(0), row.int(1) as u64, row.int(2) as u64);
            if row.int(3) > 0 {
                stats
                    .cleared_by_status
                    .insert(status.clone(), row.int(3) as u64);
            }
            stats.restarts += restarts;
            stats.total += count;
            if let Ok(parsed) = status.parse::<JobStatus>() {
                if parsed.is_claimable() {
                    stats.depth += count;
                }
                if parsed.is_active() {
                    stats.active += count;
                }
            }
            *stats.by_status.entry(status).or_default() += count;
        }
        Ok(stats)
    }

    fn append_log(&self, id: i64, attempt: i64, data: &str) -> Result<Option<i64>, QueueError> {
        let (mut text, cut) = clean_chunk(data, MAX_CHUNK_BYTES);
        if cut {
            text.push_str("\n[refinery] chunk cut: it was longer than 256 KiB\n");
        }
        if text.is_empty() {
            return Ok(None);
        }
        self.tx(|c| {
            let rows = c.query(
                "UPDATE jobs SET log_bytes = log_bytes + $3 \
                 WHERE id = $1 AND attempt = $2 AND status IN ('leased', 'building') \
                 RETURNING log_bytes",
                &[id.into(), attempt.into(), (text.len() as i64).into()],
            )?;
            let Some(total) = rows.first().map(|r| r.int(0)) else {
                return Err(Self::fence_error(c, id, attempt));
            };
            let before = total - text.len() as i64;
            if before >= MAX_JOB_LOG_BYTES {
                return Ok(None);
            }
            let mut text = text.clone();
            if total > MAX_JOB_LOG_BYTES {
                let (cut, _) = clean_chunk(&text, (MAX_JOB_LOG_BYTES - before) as usize);
                text = cut;
                text.push_str(&format!(
                    "\n[refinery] log cut at {MAX_JOB_LOG_BYTES} bytes; the rest of the output was dropped\n"
                ));
            }
            Self::insert_log(c, id, attempt, &text, self.now_ms()).map(Some)
        })
    }

    fn append_system_log(&self, id: i64, line: &str) -> Result<(), QueueError> {
        let (mut text, _) = clean_chunk(line, MAX_CHUNK_BYTES);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.tx(|c| {
            let job = Self::job_in(c, id)?;
            // Counted like a worker's output: the job has a log (a CLI run's job too).
            c.query(
                "UPDATE jobs SET log_bytes = log_bytes + $2 WHERE id = $1",
                &[id.into(), (text.len() as i64).into()],
            )?;
            Self::insert_log(c, id, job.attempt, &text, self.now_ms()).map(|_| ())
        })
    }

    fn log_chunks(&self, id: i64, after: i64, limit_n: usize) -> Result<Vec<LogChunk>, QueueError> {
        let rows = self.query(
            "SELECT job_id, seq, attempt, created_ms, data FROM job_logs \
             WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[
                id.into(),
                after.into(),
                limit(if limit_n == 0 { 1000 } else { limit_n }),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|r| LogChunk {
                job_id: r.int(0),
                seq: r.int(1),
                attempt: r.int(2),
                created_ms: r.int(3),
                data: r.text(4),
            })
            .collect())
    }

    fn worker_seen(&self, id: &str, host: &str, job: Option<i64>) -> Result<(), QueueError> {
        self.with_conn(|c| Self::record_worker(c, id, host, job, self.now_ms()))
    }

    fn workers(&self) -> Result<Vec<WorkerInfo>, QueueError> {
        Ok(self
            .query(
                "SELECT id, host, last_seen_ms, current_job FROM workers ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| WorkerInfo {
                id: r.text(0),
                host: r.text(1),
                last_seen_ms: r.int(2),
                current_job: r.opt_int(3),
            })
            .collect())
    }

    fn create_input(&self, input: &NewInput) -> Result<PendingInput, QueueError> {
        catalog::create_input(self, input)
    }

    fn input(&self, id: i64) -> Result<PendingInput, QueueError> {
        catalog::input(self, id)
    }

    fn inputs(&self, limit_n: usize, offset: usize) -> Result<Vec<PendingInput>, QueueError> {
        catalog::inputs(self, limit_n, offset)
    }

    fn transition_input(
        &self,
        id: i64,
        from: &[InputStatus],
        to: InputStatus,
        plan_id: Option<&str>,
        error: &str,
    ) -> Result<PendingInput, QueueError> {
        catalog::transition_input(self, id, from, to, plan_id, error)
    }

    fn recover_planning_inputs(&self, note: &str) -> Result<Vec<PendingInput>, QueueError> {
        catalog::recover_planning_inputs(self, note)
    }

    fn save_plan(&self, plan: &StoredPlan) -> Result<(), QueueError> {
        catalog::save_plan(self, plan)
    }

    fn plan(&self, id: &str) -> Result<StoredPlan, QueueError> {
        catalog::plan(self, id)
    }

    fn plans(&self, limit_n: usize, offset: usize) -> Result<Vec<StoredPlan>, QueueError> {
        catalog::plans(self, limit_n, offset)
    }

    fn plans_with_package(
        &self,
        name: &str,
        limit_n: usize,
    ) -> Result<Vec<StoredPlan>, QueueError> {
        catalog::plans_with_package(self, name, limit_n)
    }

    fn settings(&self) -> Result<Settings, QueueError> {
        catalog::settings(self)
    }

    fn put_settings(&self, settings: &Settings) -> Result<(), QueueError> {
        catalog::put_settings(self, settings)
    }

    fn publish(&self, file: &PublishedFile) -> Result<(), QueueError> {
        catalog::publish(self, file)
    }

    fn published(&self) -> Result<Vec<PublishedFile>, QueueError> {
        catalog::published(self)
    }

    fn published_generation(&self) -> Result<(i64, i64), QueueError> {
        catalog::published_generation(self)
    }

    fn add_hint(&self, pattern: &str, packages: &[String], note: &str) -> Result<Hint, QueueError> {
        catalog::add_hint(self, pattern, packages, note)
    }

    fn hints(&self) -> Result<Vec<Hint>, QueueError> {
        catalog::hints(self)
    }

    fn update_hint(
        &self,
        id: i64,
        pattern: &str,
        packages: &[String],
        note: &str,
    ) -> Result<Hint, QueueError> {
        catalog::update_hint(self, id, pattern, packages, note)
    }

    fn delete_hint(&self, id: i64) -> Result<(), QueueError> {
        catalog::delete_hint(self, id)
    }
}
