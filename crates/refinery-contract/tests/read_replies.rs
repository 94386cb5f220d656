//! The read endpoints' answers keep the JSON their `json!` literals built before they had
//! types: the same keys, `null` where a key was always written, absent where it was left
//! out. (Key order is not part of the contract: the literals sorted keys, the types keep
//! their declaration order.)

use std::collections::BTreeMap;

use refinery_contract::{
    Access, DrainTriggered, EventsPage, HintValidation, HistoryRecorded, InputPlanReply,
    InputUploaded, LogChunks, PackageRow, PlanEnqueued, ScanDecision, SessionSet, SessionState,
    StatusCounts, WorkerState, WorkerView,
};
use refinery_store::queue::{InputStatus, JobStatus, PendingInput, WorkerInfo};
use refinery_store::{AttemptStatus, EventKind};
use serde_json::{json, Value};

fn wire<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn input() -> PendingInput {
    PendingInput {
        id: 7,
        kind: "requirements".into(),
        filename: "requirements.txt".into(),
        path: "inputs/7.txt".into(),
        size: 12,
        sha256: "ab".repeat(32),
        status: InputStatus::Planning,
        plan_id: None,
        error: String::new(),
        created_ms: 1,
        updated_ms: 2,
    }
}

#[test]
fn optional_keys_are_left_out_where_the_literals_left_them_out() {
    assert_eq!(
        wire(&HintValidation {
            valid: true,
            message: None
        }),
        json!({"valid": true})
    );
    assert_eq!(
        wire(&HintValidation {
            valid: false,
            message: Some("bad".into())
        }),
        json!({"valid": false, "message": "bad"})
    );
    let planning = InputPlanReply {
        input: input(),
        plan: None,
        jobs: None,
        planning: Some(true),
    };
    assert_eq!(
        wire(&planning),
        json!({"input": wire(&input()), "planning": true})
    );
    let requirements = InputUploaded {
        input: input(),
        decision: None,
        reason: None,
        auto_plan: false,
    };
    assert_eq!(
        wire(&requirements),
        json!({"input": wire(&input()), "auto_plan": false})
    );
    let wheel = InputUploaded {
        decision: Some(ScanDecision::Rebuild),
        reason: Some("no s390x wheel".into()),
        ..requirements
    };
    assert_eq!(
        wire(&wheel),
        json!({"input": wire(&input()), "decision": "rebuild", "reason": "no s390x wheel",
               "auto_plan": false})
    );
    assert_eq!(
        wire(&DrainTriggered::Webhook {
            webhook_status: 204
        }),
        json!({"mode": "webhook", "webhook_status": 204})
    );
    assert_eq!(
        wire(&DrainTriggered::Local {
            started: true,
            reason: None
        }),
        json!({"mode": "local", "started": true})
    );
    assert_eq!(
        wire(&DrainTriggered::Local {
            started: false,
            reason: Some("a drain is already running".into())
        }),
        json!({"mode": "local", "started": false, "reason": "a drain is already running"})
    );
}

#[test]
fn absent_values_are_null_where_the_literals_wrote_null() {
    assert_eq!(
        wire(&EventsPage {
            events: vec![],
            next_before: None
        }),
        json!({"events": [], "next_before": null})
    );
    let row = PackageRow {
        package: "six".into(),
        version: "1.17.0".into(),
        status: JobStatus::Reused,
        job: None,
        attempts: 0,
        successes: 0,
        failures: 0,
        last_timestamp: "2026-01-01T00:00:00.000Z".into(),
        verification: None,
    };
    assert_eq!(
        wire(&row),
        json!({"package": "six", "version": "1.17.0", "status": "reused", "job": null,
               "attempts": 0, "successes": 0, "failures": 0,
               "last_timestamp": "2026-01-01T00:00:00.000Z", "verification": null})
    );
    // The worker's record is flattened into the view, as before.
    let view = WorkerView {
        info: WorkerInfo {
            id: "w1".into(),
            host: "h".into(),
            last_seen_ms: 5,
            current_job: None,
        },
        state: WorkerState::Idle,
        job: None,
    };
    assert_eq!(
        wire(&view),
        json!({"id": "w1", "host": "h", "last_seen_ms": 5, "current_job": null,
               "state": "idle", "job": null})
    );
}

#[test]
fn counts_and_small_answers_keep_their_words() {
    let counts = StatusCounts {
        events: BTreeMap::from([(EventKind::Built, 2), (EventKind::Failure, 1)]),
        attempts: BTreeMap::from([(AttemptStatus::Success, 3), (AttemptStatus::Timeout, 1)]),
    };
    assert_eq!(
        wire(&counts),
        json!({"events": {"built": 2, "failure": 1}, "attempts": {"success": 3, "timeout": 1}})
    );
    assert_eq!(
        wire(&LogChunks {
            job_id: 4,
            status: JobStatus::Building,
            done: false,
            chunks: vec![],
            next_after: 9
        }),
        json!({"job_id": 4, "status": "building", "done": false, "chunks": [], "next_after": 9})
    );
    assert_eq!(
        wire(&PlanEnqueued {
            jobs: vec![],
            created: 0
        }),
        json!({"jobs": [], "created": 0})
    );
    assert_eq!(
        wire(&SessionState {
            worker_token: true,
            read_token: false,
            access: Access::None
        }),
        json!({"worker_token": true, "read_token": false, "access": "none"})
    );
    assert_eq!(
        wire(&SessionSet {
            ok: true,
            access: Access::Read
        }),
        json!({"ok": true, "access": "read"})
    );
    assert_eq!(
        wire(&HistoryRecorded { recorded: 3 }),
        json!({"recorded": 3})
    );
}
