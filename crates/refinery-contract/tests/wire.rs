//! The JSON of the contract types is the JSON the server and the worker exchanged before
//! the types existed (the `json!` literals of `refinery-server`'s handlers and of the
//! remote worker): a field renamed or made optional here breaks a deployed worker.

use refinery_contract::{
    AttemptRequest, ClaimRequest, CompleteRequest, Done, ErrorBody, Health, HeartbeatReply,
    IdsRequest, LogAppended, LogRequest, SettingsPatch, WheelQuery,
};
use refinery_store::queue::JobStatus;
use serde_json::{json, Value};

fn wire<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn worker_requests_are_the_json_the_worker_sent() {
    let claim = ClaimRequest {
        worker: "w1".into(),
        host: "h".into(),
        lease_secs: Some(60),
    };
    assert_eq!(
        wire(&claim),
        json!({"worker": "w1", "host": "h", "lease_secs": 60})
    );
    // `start` sends the attempt alone; `heartbeat` adds the lease.
    let start = AttemptRequest {
        attempt: 3,
        lease_secs: None,
    };
    assert_eq!(wire(&start), json!({"attempt": 3}));
    let beat = AttemptRequest {
        attempt: 3,
        lease_secs: Some(30),
    };
    assert_eq!(wire(&beat), json!({"attempt": 3, "lease_secs": 30}));
    let log = LogRequest {
        attempt: 3,
        data: "line\n".into(),
    };
    assert_eq!(wire(&log), json!({"attempt": 3, "data": "line\n"}));
    let complete = CompleteRequest {
        attempt: 3,
        status: JobStatus::Failed,
        detail: "no compiler".into(),
        result: json!({"wheel": null}),
    };
    assert_eq!(
        wire(&complete),
        json!({"attempt": 3, "status": "failed", "detail": "no compiler", "result": {"wheel": null}})
    );
}

#[test]
fn replies_are_the_json_the_server_sent() {
    assert_eq!(
        wire(&HeartbeatReply {
            cancel: true,
            lease_expires_ms: 1_700_000_000_000
        }),
        json!({"cancel": true, "lease_expires_ms": 1_700_000_000_000i64})
    );
    assert_eq!(wire(&LogAppended { seq: Some(4) }), json!({"seq": 4}));
    assert_eq!(wire(&LogAppended { seq: None }), json!({"seq": null}));
    assert_eq!(wire(&Done::default()), json!({"ok": true}));
    assert_eq!(
        wire(&ErrorBody::new(
            "lease_lost",
            "job 1 attempt 2 lost its lease"
        )),
        json!({"error": {"code": "lease_lost", "message": "job 1 attempt 2 lost its lease"}})
    );
    assert_eq!(
        wire(&Health {
            status: "ok".into(),
            queue: "sqlite".into(),
            version: "0.1.0".into()
        }),
        json!({"status": "ok", "queue": "sqlite", "version": "0.1.0"})
    );
}

#[test]
fn requests_read_what_clients_send_and_refuse_unknown_fields() {
    let claim: ClaimRequest = serde_json::from_value(json!({"worker": "w1"})).unwrap();
    assert_eq!((claim.host.as_str(), claim.lease_secs), ("", None));
    let ids: IdsRequest =
        serde_json::from_value(json!({"statuses": ["failed", "cancelled"]})).unwrap();
    assert_eq!(ids.statuses, vec![JobStatus::Failed, JobStatus::Cancelled]);
    assert!(ids.ids.is_empty());
    let settings: SettingsPatch = serde_json::from_value(json!({"auto_build": true})).unwrap();
    assert_eq!(
        (settings.auto_plan, settings.auto_build),
        (None, Some(true))
    );
    let query: WheelQuery =
        serde_json::from_value(json!({"attempt": 2, "filename": "six-1.16.0-py3-none-any.whl"}))
            .unwrap();
    assert_eq!(query.origin, None);
    let err = serde_json::from_value::<SettingsPatch>(json!({"auto_bild": true})).unwrap_err();
    assert!(err.to_string().contains("auto_bild"), "{err}");
    let err =
        serde_json::from_value::<ClaimRequest>(json!({"worker": "w", "lease": 5})).unwrap_err();
    assert!(err.to_string().contains("lease"), "{err}");
}
