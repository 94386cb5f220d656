//! The history's record of an attempt lost with its worker (the reaper took its lease
//! back): neither a success nor a failure of the package.

use super::{Attempt, AttemptStatus, Variant};
use crate::queue::ReapedJob;

impl Attempt {
    /// The history's record of the attempt `job` lost with its worker: status `lost`
    /// (neutral, not a failure of the package), its duration from the start of the build
    /// to the worker's last heartbeat (seconds), the job's `job-<id>-attempt-<n>` run.
    #[must_use]
    pub fn lost(job: &ReapedJob) -> Attempt {
        let started = job.started_ms.unwrap_or(job.reaped_ms);
        let last_heard = job.heartbeat_ms.unwrap_or(started).max(started);
        Attempt {
            package: job.package.clone(),
            version: job.version.clone(),
            python_tag: format!("cp{}", job.python.replace('.', "")),
            platform: job.platform_tag.clone(),
            variant: Variant::default(),
            attempt: u32::try_from(job.attempt).unwrap_or(0),
            status: AttemptStatus::Lost,
            duration_secs: (last_heard - started) as f64 / 1000.0,
            log_path: None,
            hints: Vec::new(),
            worker: job.worker.clone(),
            run_id: Some(format!("job-{}-attempt-{}", job.id, job.attempt)),
            detail: format!(
                "worker {} stopped answering (no heartbeat until its lease expired): {}",
                job.worker.as_deref().unwrap_or("?"),
                job.detail
            ),
            environment: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_attempt_is_timed_to_the_last_heartbeat_and_names_its_worker() {
        let job = ReapedJob {
            id: 7,
            attempt: 2,
            worker: Some("worker-a".into()),
            requeued: true,
            package: "lxml".into(),
            version: "5.3.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            started_ms: Some(1_000),
            heartbeat_ms: Some(2_500),
            reaped_ms: 9_000,
            detail: "lease of worker worker-a expired; re-queued".into(),
        };
        let attempt = Attempt::lost(&job);
        assert_eq!(attempt.status, AttemptStatus::Lost);
        assert_eq!(attempt.duration_secs, 1.5);
        assert_eq!((attempt.python_tag.as_str(), attempt.attempt), ("cp311", 2));
        assert_eq!(attempt.run_id.as_deref(), Some("job-7-attempt-2"));
        assert!(
            attempt.detail.contains("worker worker-a stopped answering")
                && attempt.detail.contains("re-queued"),
            "{}",
            attempt.detail
        );
        // Never started building: no time.
        let unstarted = Attempt::lost(&ReapedJob {
            started_ms: None,
            heartbeat_ms: Some(500),
            ..job
        });
        assert_eq!(unstarted.duration_secs, 0.0);
    }
}
