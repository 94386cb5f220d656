//! One test suite, run against both backends. The PostgreSQL half needs
//! `REFINERY_TEST_DATABASE_URL` (CI sets it) and says so when it is unset; each test gets
//! its own schema, dropped afterwards.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

mod open;

struct Fixture {
    store: Arc<dyn QueueStore>,
    /// The store's clock: lease tests move it instead of sleeping.
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
    drop_schema: Option<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.drop_schema {
            if let Ok(mut client) = ::postgres::Client::connect(url, ::postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        }
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::default());
    let store = SqliteQueue::open_sqlite(&dir.path().join("cache/queue.db"))
        .unwrap()
        .with_clock(clock.clone());
    Fixture {
        store: Arc::new(store),
        clock,
        _dir: Some(dir),
        drop_schema: None,
    }
}

/// A fresh schema on the test server, or `None` (with a message) without one.
fn postgres() -> Option<Fixture> {
    let url = refinery_test_support::test_database_url()?;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "refinery_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        now_ms()
    );
    let clock = Arc::new(ManualClock::default());
    let store = PgQueue::open_postgres(&url, Some(&schema))
        .unwrap_or_else(|e| panic!("REFINERY_TEST_DATABASE_URL is set but: {e}"))
        .with_clock(clock.clone());
    Some(Fixture {
        store: Arc::new(store),
        clock,
        _dir: None,
        drop_schema: Some((url, schema)),
    })
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[test] fn $name() { let f = super::sqlite(); super::$name(&*f.store, &f.clock); } )*
        }
        mod postgres_backend {
            $( #[test] fn $name() {
                if let Some(f) = super::postgres() { super::$name(&*f.store, &f.clock); }
            } )*
        }
    };
}

on_both!(
    enqueue_dedupes_and_claims_by_priority,
    fencing_after_lease_expiry,
    restart_cap_fails_the_job,
    concurrent_claims_never_share_a_job,
    heartbeat_carries_cancellation,
    a_cancelled_job_whose_worker_vanished_ends_cancelled,
    logs_are_numbered_cleaned_and_capped,
    retry_clear_and_stats,
    inputs_plans_settings_index_and_hints,
    completion_rules,
    concurrent_enqueues_make_one_job,
    retry_never_makes_a_second_active_twin,
    finished_jobs_from_elsewhere_keep_their_times,
);

fn spec(package: &str, version: &str) -> JobSpec {
    JobSpec {
        package: package.into(),
        version: version.into(),
        python: "3.11".into(),
        platform_tag: "manylinux2014_s390x".into(),
        ..JobSpec::default()
    }
}

const LEASE: Duration = Duration::from_secs(60);

/// A job that ran outside the queue (a CLI run): recorded finished, never claimed, and
/// beside a waiting twin of the same package.
fn finished_jobs_from_elsewhere_keep_their_times(q: &dyn QueueStore, _clock: &ManualClock) {
    let (waiting, _) = q.enqueue(&spec("six", "1.16.0")).unwrap();
    let mut done = spec("six", "1.16.0");
    done.status = Some(JobStatus::Built);
    done.plan_id = Some("plan-cli".into());
    let job = q
        .record_finished(&FinishedJob {
            spec: done.clone(),
            started_ms: Some(1_000),
            finished_ms: 5_000,
            result: serde_json::json!({"wheel": "six-1.16.0-py2.py3-none-any.whl"}),
        })
        .unwrap();
    assert_ne!(job.id, waiting.id);
    assert_eq!(job.status, JobStatus::Built);
    assert_eq!(
        (job.started_ms, job.finished_ms),
        (Some(1_000), Some(5_000))
    );
    assert_eq!(job.attempt, 1);
    assert_eq!(job.lease_owner, None);
    assert_eq!(job.plan_id.as_deref(), Some("plan-cli"));
    assert_eq!(job.result["wheel"], "six-1.16.0-py2.py3-none-any.whl");
    let stats = q.stats().unwrap();
    assert_eq!((stats.by_status["built"], stats.depth), (1, 1));
    // The claim takes the waiting job, never the finished one.
    assert_eq!(q.claim("w1", LEASE).unwrap().unwrap().id, waiting.id);
    assert!(q.claim("w1", LEASE).unwrap().is_none());
    // Only final statuses.
    done.status = Some(JobStatus::Pending);
    let err = q
        .record_finished(&FinishedJob {
            spec: done.clone(),
            started_ms: None,
            finished_ms: 1,
            result: serde_json::Value::Null,
        })
        .unwrap_err();
    assert!(matches!(err, QueueError::Invalid(_)), "{err}");
    // A version is needed, unless the package never resolved (missing).
    let mut unresolved = spec("no-such-project", "");
    unresolved.status = Some(JobStatus::Missing);
    let finished = |spec: &JobSpec| FinishedJob {
        spec: spec.clone(),
        started_ms: None,
        finished_ms: 2,
        result: serde_json::Value::Null,
    };
    let job = q.record_finished(&finished(&unresolved)).unwrap();
    assert_eq!((job.status, job.version.as_str()), (JobStatus::Missing, ""));
    unresolved.status = Some(JobStatus::Failed);
    let err = q.record_finished(&finished(&unresolved)).unwrap_err();
    assert!(matches!(err, QueueError::Invalid(_)), "{err}");
}

fn enqueue_dedupes_and_claims_by_priority(q: &dyn QueueStore, _clock: &ManualClock) {
    let (a, created) = q.enqueue(&spec("Six", "1.16.0")).unwrap();
    assert!(created);
    assert_eq!(a.status, JobStatus::Pending);
    assert_eq!(a.attempt, 0);
    // Same package (normalized), version, python and platform: the same job.
    let (again, created) = q.enqueue(&spec("six", "1.16.0")).unwrap();
    assert!(!created);
    assert_eq!(again.id, a.id);
    let mut urgent = spec("regex", "2024.11.6");
    urgent.priority = 10;
    urgent.recipe.variant = Some("no-isolation".into());
    urgent.recipe.env.insert("CFLAGS".into(), "-O1".into());
    let (b, _) = q.enqueue(&urgent).unwrap();
    let mut missing = spec("nothing", "1");
    missing.status = Some(JobStatus::Missing);
    missing.detail = "no sdist".into();
    let (m, _) = q.enqueue(&missing).unwrap();
    assert_eq!(m.status, JobStatus::Missing);
    assert!(m.finished_ms.is_some());

    let first = q.claim("w1", LEASE).unwrap().unwrap();
    assert_eq!(first.id, b.id, "higher priority first");
    assert_eq!(first.status, JobStatus::Leased);
    assert_eq!(first.attempt, 1);
    assert_eq!(first.lease_owner.as_deref(), Some("w1"));
    assert_eq!(first.recipe.variant.as_deref(), Some("no-isolation"));
    assert_eq!(first.recipe.env["CFLAGS"], "-O1");
    assert!(first.lease_expires_ms.unwrap() > now_ms() + 50_000);
    let second = q.claim("w2", LEASE).unwrap().unwrap();
    assert_eq!(second.id, a.id);
    assert!(
        q.claim("w3", LEASE).unwrap().is_none(),
        "missing is not claimable"
    );
    // A running job still dedupes.
    assert!(!q.enqueue(&spec("six", "1.16.0")).unwrap().1);
    // Another python is another job.
    let mut other = spec("six", "1.16.0");
    other.python = "3.13".into();
    assert!(q.enqueue(&other).unwrap().1);

    q.start(first.id, 1).unwrap();
    assert_eq!(q.job(first.id).unwrap().status, JobStatus::Building);
    // Every claimant is recorded, the one that got nothing too (it still polls).
    let workers = q.workers().unwrap();
    assert_eq!(workers.len(), 3);
    assert_eq!(workers[0].current_job, Some(first.id));
    assert_eq!(
        (workers[2].id.as_str(), workers[2].current_job),
        ("w3", None)
    );

    let listed = q
        .jobs(&JobFilter {
            statuses: vec![JobStatus::Building, JobStatus::Leased],
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 2);
    let by_pkg = q
        .jobs(&JobFilter {
            package: Some("SIX".into()),
            limit: 10,
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(by_pkg.len(), 2);
    assert_eq!(
        q.latest_job("six", "1.16.0").unwrap().unwrap().python,
        "3.13"
    );
    assert!(q.latest_job("six", "0").unwrap().is_none());
    assert!(matches!(q.job(9999), Err(QueueError::NotFound { .. })));
}

fn fencing_after_lease_expiry(q: &dyn QueueStore, clock: &ManualClock) {
    let (job, _) = q.enqueue(&spec("lxml", "5.3.0")).unwrap();
    let short = Duration::from_secs(2);
    let a = q.claim("worker-a", short).unwrap().unwrap();
    q.start(a.id, a.attempt).unwrap();
    q.append_log(a.id, a.attempt, "line from a\n").unwrap();
    clock.advance(Duration::from_millis(1500));
    q.heartbeat(a.id, a.attempt, short).unwrap();
    // Not expired yet: nothing to reap.
    assert!(q.reap(3).unwrap().is_empty());
    clock.advance(Duration::from_millis(1999));
    assert!(
        q.reap(3).unwrap().is_empty(),
        "a lease holds to its last millisecond"
    );
    clock.advance(Duration::from_millis(2));
    let reaped = q.reap(3).unwrap();
    assert_eq!(reaped.len(), 1);
    let lost = &reaped[0];
    assert_eq!(
        (lost.id, lost.attempt, lost.worker.as_deref(), lost.requeued),
        (job.id, 1, Some("worker-a"), true)
    );
    assert_eq!(
        (
            lost.package.as_str(),
            lost.version.as_str(),
            lost.python.as_str()
        ),
        ("lxml", "5.3.0", "3.11")
    );
    assert_eq!(lost.started_ms, Some(lost.heartbeat_ms.unwrap() - 1500));
    let back = q.job(job.id).unwrap();
    assert_eq!(back.status, JobStatus::Retry);
    assert_eq!(back.restarts, 1);
    assert_eq!(back.lease_owner, None);
    assert_eq!(q.stats().unwrap().depth, 1);

    let b = q.claim("worker-b", LEASE).unwrap().unwrap();
    assert_eq!(b.id, job.id);
    assert_eq!(b.attempt, 2);
    // Claimed, not started: the last attempt's start is not this one's.
    assert_eq!(b.started_ms, None);
    // The old owner is fenced out everywhere.
    for err in [
        q.heartbeat(a.id, 1, LEASE).map(|_| ()).unwrap_err(),
        q.start(a.id, 1).unwrap_err(),
        q.append_log(a.id, 1, "late line").map(|_| ()).unwrap_err(),
        q.complete(
            a.id,
            1,
            &Outcome {
                status: JobStatus::Failed,
                detail: "stale".into(),
                result: serde_json::Value::Null,
            },
        )
        .map(|_| ())
        .unwrap_err(),
    ] {
        assert!(
            matches!(err, QueueError::LeaseLost { attempt: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("no longer held"), "{err}");
    }
    q.heartbeat(b.id, 2, LEASE).unwrap();
    let done = q
        .complete(
            b.id,
            2,
            &Outcome {
                status: JobStatus::Built,
                detail: "built".into(),
                result: serde_json::json!({"wheel": "lxml-5.3.0-cp311-cp311-manylinux2014_s390x.whl"}),
            },
        )
        .unwrap();
    assert_eq!(done.status, JobStatus::Built);
    assert_eq!(
        done.result["wheel"],
        "lxml-5.3.0-cp311-cp311-manylinux2014_s390x.whl"
    );
    assert!(done.finished_ms.is_some());
    assert_eq!(done.lease_owner, None);
    // The log says what happened, in order.
    let log: String = q
        .log_chunks(job.id, 0, 100)
        .unwrap()
        .iter()
        .map(|c| c.data.clone())
        .collect();
    assert!(log.starts_with("line from a\n"), "{log}");
    assert!(
        log.contains("lease of worker worker-a on attempt 1 expired"),
        "{log}"
    );
    assert!(!log.contains("late line"));
    // Finished: the stale owner's completion is still refused.
    assert!(matches!(
        q.complete(
            b.id,
            2,
            &Outcome {
                status: JobStatus::Failed,
                detail: String::new(),
                result: serde_json::Value::Null
            }
        ),
        Err(QueueError::LeaseLost { .. })
    ));
}

fn restart_cap_fails_the_job(q: &dyn QueueStore, clock: &ManualClock) {
    let (job, _) = q.enqueue(&spec("flaky", "1")).unwrap();
    let short = Duration::from_millis(50);
    for round in 0..2 {
        let claimed = q.claim("w", short).unwrap().unwrap();
        assert_eq!(claimed.attempt, round + 1);
        clock.advance(Duration::from_millis(51));
        let reaped = q.reap(1).unwrap();
        assert_eq!(reaped.len(), 1);
        assert_eq!(reaped[0].requeued, round == 0, "round {round}");
    }
    let failed = q.job(job.id).unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(
        failed.detail.contains("lease expired 2 times"),
        "{}",
        failed.detail
    );
    assert_eq!(q.stats().unwrap().restarts, 2);
    assert!(q.claim("w", short).unwrap().is_none());
}

fn concurrent_claims_never_share_a_job(q: &dyn QueueStore, _clock: &ManualClock) {
    const JOBS: usize = 40;
    for i in 0..JOBS {
        q.enqueue(&spec(&format!("pkg{i}"), "1.0")).unwrap();
    }
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..6 {
            let claimed = &claimed;
            scope.spawn(move || {
                while let Some(job) = q.claim(&format!("w{w}"), LEASE).unwrap() {
                    q.start(job.id, job.attempt).unwrap();
                    claimed.lock().unwrap().push((job.id, w));
                }
            });
        }
    });
    let claimed = claimed.into_inner().unwrap();
    let ids: BTreeSet<i64> = claimed.iter().map(|(id, _)| *id).collect();
    assert_eq!(claimed.len(), JOBS, "every job claimed exactly once");
    assert_eq!(ids.len(), JOBS);
    let stats = q.stats().unwrap();
    assert_eq!(stats.active, JOBS as u64);
    assert_eq!(stats.by_status["building"], JOBS as u64);
    assert_eq!(stats.depth, 0);
}

fn heartbeat_carries_cancellation(q: &dyn QueueStore, _clock: &ManualClock) {
    let (running, _) = q.enqueue(&spec("slow", "1")).unwrap();
    let (waiting, _) = q.enqueue(&spec("waiting", "1")).unwrap();
    let job = q.claim("w", LEASE).unwrap().unwrap();
    assert_eq!(job.id, running.id);
    let reply = q.heartbeat(job.id, job.attempt, LEASE).unwrap();
    assert!(!reply.cancel);
    assert!(reply.lease_expires_ms > now_ms());
    let after = q.cancel(job.id).unwrap();
    assert!(after.cancel_requested);
    assert_eq!(after.status, JobStatus::Leased);
    assert!(q.heartbeat(job.id, job.attempt, LEASE).unwrap().cancel);
    let cancelled = q.cancel(waiting.id).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.detail, "cancelled before a worker took it");
    assert!(q.claim("w", LEASE).unwrap().is_none());
}

/// A cancelled job whose worker stops answering ends `cancelled` when its lease runs out,
/// at most [`CANCEL_GRACE_MS`] after the cancellation however long the lease was; it never
/// goes back to the queue. One cancelled between attempts says so.
fn a_cancelled_job_whose_worker_vanished_ends_cancelled(q: &dyn QueueStore, clock: &ManualClock) {
    let (job, _) = q.enqueue(&spec("ghosted", "1")).unwrap();
    let held = q
        .claim("ghost", Duration::from_secs(3600))
        .unwrap()
        .unwrap();
    q.start(held.id, held.attempt).unwrap();
    let asked = q.cancel(job.id).unwrap();
    assert!(asked.cancel_requested);
    assert!(asked.lease_expires_ms.unwrap() <= clock.now_ms() + CANCEL_GRACE_MS);
    clock.advance(Duration::from_millis(CANCEL_GRACE_MS as u64 + 1));
    let reaped = q.reap(3).unwrap();
    assert_eq!(reaped.len(), 1);
    assert!(!reaped[0].requeued);
    let ended = q.job(job.id).unwrap();
    assert_eq!(ended.status, JobStatus::Cancelled, "{}", ended.detail);
    assert!(ended.detail.contains("ghost"), "{}", ended.detail);
    assert!(ended.finished_ms.is_some());
    assert!(q.claim("w", LEASE).unwrap().is_none(), "never re-queued");

    // Lost its lease (back in the queue), then cancelled before another attempt.
    let (again, _) = q.enqueue(&spec("requeued", "1")).unwrap();
    q.claim("gone", Duration::from_secs(2)).unwrap().unwrap();
    clock.advance(Duration::from_secs(3));
    assert!(q.reap(3).unwrap()[0].requeued);
    let cancelled = q.cancel(again.id).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(
        cancelled.detail,
        "cancelled while waiting for another attempt"
    );
}

fn logs_are_numbered_cleaned_and_capped(q: &dyn QueueStore, _clock: &ManualClock) {
    q.enqueue(&spec("noisy", "1")).unwrap();
    let job = q.claim("w", LEASE).unwrap().unwrap();
    assert_eq!(q.append_log(job.id, 1, "one\n").unwrap(), Some(1));
    assert_eq!(q.append_log(job.id, 1, "t\0w\0o\n").unwrap(), Some(2));
    assert_eq!(q.append_log(job.id, 1, "").unwrap(), None);
    q.append_system_log(job.id, "[refinery] note").unwrap();
    let chunks = q.log_chunks(job.id, 0, 10).unwrap();
    assert_eq!(
        chunks
            .iter()
            .map(|c| (c.seq, c.data.as_str()))
            .collect::<Vec<_>>(),
        [(1, "one\n"), (2, "two\n"), (3, "[refinery] note\n")]
    );
    assert_eq!(q.log_chunks(job.id, 2, 10).unwrap().len(), 1);
    assert_eq!(q.log_chunks(job.id, 1, 1).unwrap()[0].seq, 2);
    // A huge chunk is cut with a note; the job log stops at its cap.
    let big = "x".repeat(MAX_CHUNK_BYTES + 10);
    q.append_log(job.id, 1, &big).unwrap();
    let last = q.log_chunks(job.id, 3, 10).unwrap();
    assert!(last[0].data.len() < MAX_CHUNK_BYTES + 100);
    assert!(last[0].data.ends_with("longer than 256 KiB\n"));
    let chunk = "y".repeat(MAX_CHUNK_BYTES - 1);
    let mut appended = 0;
    while q.append_log(job.id, 1, &chunk).unwrap().is_some() {
        appended += 1;
        assert!(appended < 100, "the cap never stopped the log");
    }
    let total: usize = q
        .log_chunks(job.id, 0, 1000)
        .unwrap()
        .iter()
        .map(|c| c.data.len())
        .sum();
    assert!(total <= MAX_JOB_LOG_BYTES as usize + 200, "{total}");
    let all = q.log_chunks(job.id, 0, 1000).unwrap();
    assert!(all.last().unwrap().data.contains("log cut at"));
    assert_eq!(q.append_log(job.id, 1, "more").unwrap(), None);
}

fn retry_clear_and_stats(q: &dyn QueueStore, _clock: &ManualClock) {
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(q.enqueue(&spec(name, "1")).unwrap().0.id);
    }
    for status in [JobStatus::Failed, JobStatus::Built] {
        let job = q.claim("w", LEASE).unwrap().unwrap();
        q.complete(
            job.id,
            job.attempt,
            &Outcome {
                status,
                detail: String::new(),
                result: serde_json::Value::Null,
            },
        )
        .unwrap();
    }
    let stats = q.stats().unwrap();
    assert_eq!(stats.by_status["failed"], 1);
    assert_eq!(stats.by_status["built"], 1);
    assert_eq!(stats.by_status["pending"], 1);
    assert_eq!(stats.depth, 1);
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_status.len(), JobStatus::ALL.len());
    // Built jobs are not retried; failed ones are.
    assert_eq!(q.retry(&[ids[1]]).unwrap(), 0);
    assert_eq!(q.retry(&[]).unwrap(), 1);
    assert_eq!(q.job(ids[0]).unwrap().status, JobStatus::Retry);
    let again = q.claim("w", LEASE).unwrap().unwrap();
    assert_eq!(again.id, ids[0]);
    assert_eq!(again.attempt, 2);
    // Running jobs cannot be cleared.
    assert!(matches!(
        q.clear(&[], &[JobStatus::Leased]),
        Err(QueueError::Invalid(_))
    ));
    assert_eq!(q.clear(&[again.id], &[]).unwrap(), 0);
    let pending = ids[2];
    q.append_system_log(ids[1], "built it\n").unwrap();
    assert_eq!(
        q.clear(&[], &[JobStatus::Pending, JobStatus::Built])
            .unwrap(),
        2
    );
    // Cleared, not deleted: the waiting job is cancelled, the built one keeps its log,
    // both still count; only a list that hides cleared jobs leaves them out.
    assert_eq!(q.clear(&[ids[1]], &[]).unwrap(), 0, "cleared once");
    let stats = q.stats().unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_status["built"], 1);
    assert_eq!(stats.cleared_by_status["built"], 1);
    assert_eq!(stats.cleared_by_status["cancelled"], 1);
    assert!(!stats.cleared_by_status.contains_key("building"));
    let cancelled = q.job(pending).unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.cleared_ms.is_some() && cancelled.finished_ms.is_some());
    assert_eq!(q.log_chunks(ids[1], 0, 10).unwrap().len(), 1);
    let listed = |hide_cleared| {
        q.jobs(&JobFilter {
            hide_cleared,
            limit: 10,
            ..JobFilter::default()
        })
        .unwrap()
        .len()
    };
    assert_eq!((listed(false), listed(true)), (3, 1));
    // A retried job is back in the list.
    assert_eq!(q.retry(&[pending]).unwrap(), 1);
    assert_eq!(q.job(pending).unwrap().cleared_ms, None);
    assert_eq!(listed(true), 2);
}

fn inputs_plans_settings_index_and_hints(q: &dyn QueueStore, _clock: &ManualClock) {
    let input = q
        .create_input(&NewInput {
            kind: "requirements".into(),
            filename: "requirements.txt".into(),
            path: "inputs/v1/1/requirements.txt".into(),
            size: 12,
            sha256: "ab".repeat(32),
        })
        .unwrap();
    assert_eq!(input.status, InputStatus::Pending);
    let planning = q
        .transition_input(
            input.id,
            &[InputStatus::Pending, InputStatus::Failed],
            InputStatus::Planning,
            None,
            "",
        )
        .unwrap();
    assert_eq!(planning.status, InputStatus::Planning);
    // Only one planner wins.
    let err = q
        .transition_input(
            input.id,
            &[InputStatus::Pending],
            InputStatus::Planning,
            None,
            "",
        )
        .unwrap_err();
    assert!(matches!(err, QueueError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("is `planning`"), "{err}");
    let planned = q
        .transition_input(
            input.id,
            &[InputStatus::Planning],
            InputStatus::Planned,
            Some("p1"),
            "",
        )
        .unwrap();
    assert_eq!(planned.plan_id.as_deref(), Some("p1"));
    assert_eq!(q.inputs(10, 0).unwrap().len(), 1);
    assert!(matches!(q.input(42), Err(QueueError::NotFound { .. })));

    // A server that stopped mid-plan left one input `planning`: recovery gives it back.
    let stranded = q
        .create_input(&NewInput {
            kind: "requirements".into(),
            filename: "requirements.txt".into(),
            path: "inputs/v1/2/requirements.txt".into(),
            size: 12,
            sha256: "cd".repeat(32),
        })
        .unwrap();
    q.transition_input(
        stranded.id,
        &[InputStatus::Pending],
        InputStatus::Planning,
        None,
        "",
    )
    .unwrap();
    let recovered = q.recover_planning_inputs("interrupted").unwrap();
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0].id, stranded.id);
    assert_eq!(recovered[0].status, InputStatus::Pending);
    assert_eq!(recovered[0].error, "interrupted");
    assert_eq!(q.input(input.id).unwrap().status, InputStatus::Planned);
    assert!(q.recover_planning_inputs("again").unwrap().is_empty());

    let plan = StoredPlan {
        id: "p1".into(),
        input_id: Some(input.id),
        python: "3.11".into(),
        platform_tag: "manylinux2014_s390x".into(),
        summary: serde_json::json!({"build": 1}),
        body: serde_json::json!({"nodes": [{"id": "six==1.16.0", "name": "six"},
            {"id": "PyYAML==6.0.2", "name": "PyYAML"},
            {"id": "ruamel.yaml==0.18.6", "name": "ruamel.yaml"}],
            "skipped": [{"name": "idna"}]}),
        created_ms: 0,
    };
    q.save_plan(&plan).unwrap();
    let holding = |name: &str| q.plans_with_package(name, 5).unwrap();
    assert_eq!(holding("Six")[0].body["nodes"][0]["id"], "six==1.16.0");
    assert!(holding("idna").is_empty(), "a skipped package is no node");
    assert!(holding("si").is_empty());
    // Nodes keep the project's spelling; the name asked for is compared normalized.
    assert_eq!(holding("pyyaml").len(), 1);
    assert_eq!(holding("ruamel-yaml").len(), 1);
    assert_eq!(holding("Ruamel_Yaml").len(), 1);
    // Newer plans that name six only where no node is (skipped) fill no place of the
    // limit: the plan that holds it is still found.
    // (Their ids sort first too, in case the clock gives them p1's millisecond.)
    for id in ["o2", "o3", "o4"] {
        q.save_plan(&StoredPlan {
            id: id.into(),
            body: serde_json::json!({"nodes": [], "skipped": [{"name": "six"}]}),
            created_ms: 1,
            ..plan.clone()
        })
        .unwrap();
    }
    let newest_holding = q.plans_with_package("six", 1).unwrap();
    assert_eq!(newest_holding.len(), 1);
    assert_eq!(newest_holding[0].id, "p1");
    q.save_plan(&plan).unwrap();
    let stored = q.plan("p1").unwrap();
    assert_eq!(stored.body["nodes"][0]["id"], "six==1.16.0");
    assert_eq!(stored.input_id, Some(input.id));
    let listed = q.plans(10, 0).unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|p| p.body == serde_json::Value::Null));
    assert!(matches!(q.plan("nope"), Err(QueueError::NotFound { .. })));

    assert_eq!(q.settings().unwrap(), Settings::default());
    let on = Settings {
        auto_plan: true,
        auto_build: false,
    };
    q.put_settings(&on).unwrap();
    assert_eq!(q.settings().unwrap(), on);

    let (count, _) = q.published_generation().unwrap();
    assert_eq!(count, 0);
    let file = PublishedFile {
        filename: "Six-1.16.0-py2.py3-none-any.whl".into(),
        project: "Six".into(),
        version: "1.16.0".into(),
        sha256: "CD".repeat(32),
        size: 11,
        requires_python: Some(">=3.8".into()),
        metadata_sha256: None,
        origin: "reused".into(),
        job_id: None,
        created_ms: 0,
    };
    q.publish(&file).unwrap();
    q.publish(&file).unwrap();
    // A published name never gets other bytes (hardening item 7).
    let other = PublishedFile {
        sha256: "ef".repeat(32),
        origin: "built".into(),
        ..file.clone()
    };
    match q.publish(&other) {
        Err(QueueError::NameTaken(message)) => {
            assert!(message.contains("already published"), "{message}");
        }
        other => panic!("other bytes under a published name: {other:?}"),
    }
    let published = q.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].project, "six");
    assert_eq!(published[0].sha256, "cd".repeat(32));
    assert_eq!(published[0].origin, "reused");
    assert_eq!(q.published_generation().unwrap().0, 1);

    let hint = q
        .add_hint("ffi.h: No such file", &["libffi-dev".into()], "cffi")
        .unwrap();
    assert!(hint.id > 0);
    assert_eq!(q.hints().unwrap(), std::slice::from_ref(&hint));
    let edited = q
        .update_hint(
            hint.id,
            "ffi\\.h",
            &["libffi-dev".into(), "pkg-config".into()],
            "",
        )
        .unwrap();
    assert_eq!(
        (edited.id, edited.created_ms, edited.pattern.as_str()),
        (hint.id, hint.created_ms, "ffi\\.h")
    );
    assert_eq!(q.hints().unwrap(), [edited]);
    assert!(matches!(
        q.update_hint(hint.id + 100, "x", &[], ""),
        Err(QueueError::NotFound { what: "hint", .. })
    ));
    q.delete_hint(hint.id).unwrap();
    assert!(q.hints().unwrap().is_empty());
    assert!(matches!(
        q.delete_hint(hint.id),
        Err(QueueError::NotFound { what: "hint", .. })
    ));
    q.ping().unwrap();
}

fn completion_rules(q: &dyn QueueStore, _clock: &ManualClock) {
    let (job, _) = q.enqueue(&spec("x", "1")).unwrap();
    let claimed = q.claim("w", LEASE).unwrap().unwrap();
    let bad = q.complete(
        job.id,
        claimed.attempt,
        &Outcome {
            status: JobStatus::Building,
            detail: String::new(),
            result: serde_json::Value::Null,
        },
    );
    assert!(matches!(bad, Err(QueueError::Invalid(_))));
    // `retry` puts it back.
    let back = q
        .complete(
            job.id,
            claimed.attempt,
            &Outcome {
                status: JobStatus::Retry,
                detail: "hint applied".into(),
                result: serde_json::Value::Null,
            },
        )
        .unwrap();
    assert_eq!(back.status, JobStatus::Retry);
    assert!(back.finished_ms.is_none());
    assert_eq!(q.claim("w", LEASE).unwrap().unwrap().attempt, 2);
    assert!(matches!(
        q.enqueue(&JobSpec::default()),
        Err(QueueError::Invalid(_))
    ));
}

/// Hardening item 8: enqueues of the same package that race (released together by a
/// barrier, round after round) make one job; PostgreSQL under READ COMMITTED made 2 to 4.
fn concurrent_enqueues_make_one_job(q: &dyn QueueStore, _clock: &ManualClock) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 20;
    let barrier = std::sync::Barrier::new(THREADS);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            let (barrier, results) = (&barrier, &results);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let (job, created) = q.enqueue(&spec(&format!("race{round}"), "1")).unwrap();
                    results.lock().unwrap().push((round, job.id, created));
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    for round in 0..ROUNDS {
        let ids: BTreeSet<i64> = results
            .iter()
            .filter(|r| r.0 == round)
            .map(|r| r.1)
            .collect();
        let created = results.iter().filter(|r| r.0 == round && r.2).count();
        assert_eq!(ids.len(), 1, "round {round}: jobs {ids:?}");
        assert_eq!(created, 1, "round {round}");
    }
    assert_eq!(q.stats().unwrap().total, ROUNDS as u64);
}

/// Retrying never puts a second job of a package, version and target in the queue: not
/// next to a waiting twin, and of several failed twins only the newest.
fn retry_never_makes_a_second_active_twin(q: &dyn QueueStore, _clock: &ManualClock) {
    let fail = |q: &dyn QueueStore| {
        let job = q.claim("w", LEASE).unwrap().unwrap();
        let outcome = Outcome {
            status: JobStatus::Failed,
            detail: String::new(),
            result: serde_json::Value::Null,
        };
        q.complete(job.id, job.attempt, &outcome).unwrap().id
    };
    q.enqueue(&spec("six", "1.16.0")).unwrap();
    let first = fail(q);
    q.enqueue(&spec("six", "1.16.0")).unwrap();
    let second = fail(q);
    let (waiting, created) = q.enqueue(&spec("six", "1.16.0")).unwrap();
    assert!(created);
    assert_eq!(q.retry(&[first, second]).unwrap(), 0, "a twin is waiting");
    assert_eq!(q.retry(&[]).unwrap(), 0, "a twin is waiting");
    q.cancel(waiting.id).unwrap();
    assert_eq!(q.retry(&[]).unwrap(), 1, "only the newest failed twin");
    assert_eq!(q.job(second).unwrap().status, JobStatus::Retry);
    assert_eq!(q.job(first).unwrap().status, JobStatus::Failed);
    assert_eq!(q.retry(&[first]).unwrap(), 0);
    assert_eq!(q.stats().unwrap().depth, 1);
}
