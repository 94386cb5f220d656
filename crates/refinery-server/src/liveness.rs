//! What each worker is doing, decided once on the server so that `/api/workers`,
//! `/api/queue/stats`, `/metrics` and the dashboard tell the same story.
//!
//! A worker's state (the `state` field of `/api/workers`):
//!
//! * `offline`: not seen (no claim, no heartbeat) within [`LIVENESS_WINDOW_MS`]. Idle
//!   workers poll the queue every 2 s and building ones heartbeat every 10 s, so a worker
//!   silent for a minute has stopped or lost the server, whatever its last job was.
//! * `building`: seen within the window and the lease owner of a job that is `leased` or
//!   `building` in the queue (`job` names it).
//! * `idle`: seen within the window and holding no active job (its last job finished, was
//!   cancelled or went back to the queue).

pub use refinery_contract::{WorkerState, WorkerView};
use refinery_store::queue::{Job, WorkerInfo};

/// How long a worker may stay silent and still count as alive, in milliseconds.
pub const LIVENESS_WINDOW_MS: i64 = 60_000;

/// The state of `worker` at `now_ms`, given the queue's `active` jobs (`leased` or
/// `building`; others are ignored).
pub fn worker_view(worker: &WorkerInfo, active: &[Job], now_ms: i64) -> WorkerView {
    let held = || {
        active
            .iter()
            .filter(|j| j.status.is_active() && j.lease_owner.as_deref() == Some(&worker.id))
            // The job it last reported first, then the newest.
            .max_by_key(|j| (Some(j.id) == worker.current_job, j.id))
            .map(|j| j.id)
    };
    let (state, job) = if now_ms - worker.last_seen_ms > LIVENESS_WINDOW_MS {
        (WorkerState::Offline, None)
    } else {
        match held() {
            Some(id) => (WorkerState::Building, Some(id)),
            None => (WorkerState::Idle, None),
        }
    };
    WorkerView {
        info: worker.clone(),
        state,
        job,
    }
}

/// Every worker with its state, from the store.
pub fn worker_views(
    store: &dyn refinery_store::QueueStore,
) -> Result<Vec<WorkerView>, refinery_store::queue::QueueError> {
    let workers = store.workers()?;
    let active = store.jobs(&refinery_store::queue::JobFilter {
        statuses: vec![
            refinery_store::queue::JobStatus::Leased,
            refinery_store::queue::JobStatus::Building,
        ],
        limit: 100_000,
        ..Default::default()
    })?;
    let now = refinery_store::queue::now_ms();
    Ok(workers
        .iter()
        .map(|w| worker_view(w, &active, now))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::queue::JobStatus;

    fn worker(id: &str, seen: i64, current: Option<i64>) -> WorkerInfo {
        WorkerInfo {
            id: id.into(),
            host: "h".into(),
            last_seen_ms: seen,
            current_job: current,
        }
    }

    fn job(id: i64, status: JobStatus, owner: &str) -> Job {
        Job {
            id,
            package: "six".into(),
            version: "1.16.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            recipe: Default::default(),
            status,
            priority: 0,
            attempt: 1,
            restarts: 0,
            lease_owner: Some(owner.into()),
            lease_expires_ms: None,
            heartbeat_ms: None,
            cancel_requested: false,
            plan_id: None,
            input_id: None,
            detail: String::new(),
            result: serde_json::Value::Null,
            log_bytes: 0,
            created_ms: 0,
            updated_ms: 0,
            started_ms: None,
            finished_ms: None,
            cleared_ms: None,
        }
    }

    const NOW: i64 = 10_000_000;

    #[test]
    fn a_silent_worker_is_offline_whatever_its_last_job() {
        let w = worker("w1", NOW - LIVENESS_WINDOW_MS - 1, Some(7));
        let v = worker_view(&w, &[job(7, JobStatus::Building, "w1")], NOW);
        assert_eq!((v.state, v.job), (WorkerState::Offline, None));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["state"], "offline");
        assert_eq!(json["id"], "w1");
    }

    #[test]
    fn a_worker_whose_job_finished_is_idle() {
        let w = worker("w1", NOW - 1_000, Some(7));
        let v = worker_view(&w, &[], NOW);
        assert_eq!((v.state, v.job), (WorkerState::Idle, None));
        // A job another worker holds now is not this worker's.
        let v = worker_view(&w, &[job(7, JobStatus::Building, "w2")], NOW);
        assert_eq!(v.state, WorkerState::Idle);
        // Finished jobs do not count even if the owner is still recorded.
        let v = worker_view(&w, &[job(7, JobStatus::Built, "w1")], NOW);
        assert_eq!(v.state, WorkerState::Idle);
    }

    #[test]
    fn a_live_worker_holding_an_active_lease_is_building() {
        let w = worker("w1", NOW - LIVENESS_WINDOW_MS, Some(7));
        let v = worker_view(
            &w,
            &[
                job(7, JobStatus::Leased, "w1"),
                job(9, JobStatus::Building, "w1"),
            ],
            NOW,
        );
        assert_eq!((v.state, v.job), (WorkerState::Building, Some(7)));
    }
}
