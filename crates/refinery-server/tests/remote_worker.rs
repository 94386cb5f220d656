//! The remote worker's side of the contract ([`refinery_worker::remote::RemoteSource`])
//! against the real server: the bodies it sends are the ones the handlers take, and the
//! answers parse back into the contract's types, for a whole job (claim, start,
//! heartbeat, log, history, complete) and for the errors it must recognise.

mod common;

use std::time::Duration;

use common::*;
use refinery_store::queue::{JobSpec, JobStatus, Outcome, QueueError};
use refinery_store::{Attempt, AttemptStatus, Event, EventKind};
use refinery_worker::remote::RemoteSource;
use refinery_worker::worker::JobSource;

#[test]
fn a_remote_worker_runs_a_job_through_the_contract() {
    let t = TestServer::start(|c| c.worker_token = Some("s3cret".into()));
    let store = t.server.state.store.clone();
    store
        .enqueue(&JobSpec {
            package: "six".into(),
            version: "1.16.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            ..JobSpec::default()
        })
        .unwrap();
    let source = RemoteSource::new(
        &t.server.url(),
        Some("s3cret".into()),
        Duration::from_secs(30),
    )
    .unwrap();

    let job = source
        .claim("remote-1", Duration::from_secs(30))
        .unwrap()
        .expect("a job to claim");
    assert_eq!((job.package.as_str(), job.attempt), ("six", 1));
    assert_eq!(job.lease_owner.as_deref(), Some("remote-1"));
    source.start(&job).unwrap();
    let beat = source.heartbeat(&job, Duration::from_secs(30)).unwrap();
    assert!(!beat.cancel);
    assert!(beat.lease_expires_ms > job.created_ms);
    source.append_log(&job, "building six\n").unwrap();
    let mut event = Event::new(EventKind::Failure, "six 1.16.0");
    event.package = Some("six".into());
    // The build engine does not know who runs it: its attempts come without a worker, and
    // the server names the worker that holds the lease.
    let attempt = Attempt {
        package: "six".into(),
        version: "1.16.0".into(),
        status: AttemptStatus::Failed,
        worker: None,
        ..Attempt::default()
    };
    source.record_history(&job, &[event], &[attempt]).unwrap();
    let package = t.get_json("/api/packages/six");
    assert_eq!(package["attempts"][0]["worker"], "remote-1", "{package}");
    let done = source
        .complete(
            &job,
            &Outcome {
                status: JobStatus::Failed,
                detail: "no compiler".into(),
                result: serde_json::json!({"why": "test"}),
            },
        )
        .unwrap();
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.detail, "no compiler");
    assert_eq!(
        t.get_json(&format!("/api/jobs/{}/logs/chunks", job.id))["chunks"][0]["data"],
        "building six\n"
    );
    let events = t.get_json("/api/events?kind=failure");
    assert_eq!(events["events"][0]["package"], "six");
    // Counted under the kind's string form.
    assert_eq!(
        t.get_json("/api/status-counts")["events"],
        serde_json::json!({"failure": 1})
    );

    // The job is over: the fencing token no longer holds, and the worker knows why.
    match source.heartbeat(&job, Duration::from_secs(30)) {
        Err(QueueError::LeaseLost { job: id, attempt }) => {
            assert_eq!((id, attempt), (job.id, 1));
        }
        other => panic!("expected lease_lost, got {other:?}"),
    }
    // Nothing left to claim: 204.
    assert!(source
        .claim("remote-1", Duration::from_secs(30))
        .unwrap()
        .is_none());
    // A wrong token is refused with the server's message.
    let stranger = RemoteSource::new(
        &t.server.url(),
        Some("wrong".into()),
        Duration::from_secs(30),
    )
    .unwrap();
    let err = stranger
        .claim("remote-2", Duration::from_secs(30))
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
}
