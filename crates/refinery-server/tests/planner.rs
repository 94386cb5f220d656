//! The one planner (issue "Harden the control plane", item 6), alone in its test binary
//! so that the threads it counts are its server's only.

mod common;

use std::time::Duration;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

fn settings(t: &TestServer, auto_plan: bool) {
    let r = t
        .client
        .put(t.url("/api/settings"))
        .json(&json!({"auto_plan": auto_plan, "auto_build": false}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn upload_requirements(t: &TestServer, text: &str) -> reqwest::blocking::Response {
    t.upload(
        "/api/requirements/upload",
        "requirements.txt",
        "text/plain",
        text.as_bytes(),
    )
}

/// Distinct names of this process's threads that start with `prefix` (a thread's
/// unnamed children inherit its name, so names count the threads we started).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Many uploads with `AUTO_PLAN` against an index that never answers: one planner, a plan
/// that runs past its time fails and says so, a full queue answers 503, and a file with
/// too many requirements is refused.
#[test]
fn one_planner_with_a_queue_a_time_limit_and_caps() {
    // An index that accepts connections and never answers.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let index = format!("http://{}/simple", blackhole.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in blackhole.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let t = TestServer::start(|c| {
        c.index.index_url = index.clone();
        c.plan_timeout = Duration::from_secs(1);
        c.max_queued_plans = 40;
        c.max_requirements = 5;
    });
    settings(&t, true);
    let threads_before = std::fs::read_dir("/proc/self/task").unwrap().count();
    let mut ids = Vec::new();
    let mut busy = None;
    for i in 0..60 {
        let r = upload_requirements(&t, &format!("pkg{i}==1.0\n"));
        if r.status() == 503 {
            busy = Some(assert_error(r, 503));
            break;
        }
        assert_eq!(r.status(), 201);
        let body: Value = r.json().unwrap();
        ids.push(body["input"]["id"].as_i64().unwrap());
    }
    let busy = busy.expect("a full planner queue answers 503");
    assert_eq!(busy["error"]["code"], "planner_busy", "{busy}");
    // The refused upload stored nothing: the client sends it again later.
    let inputs = t.get_json("/api/pending-inputs?limit=1000");
    assert_eq!(inputs["inputs"].as_array().unwrap().len(), ids.len());
    // One planner thread and at most one plan computation, however many uploads.
    assert_eq!(threads_named("refinery-planne"), 1);
    assert!(threads_named("refinery-plan-") <= 2);
    let threads_now = std::fs::read_dir("/proc/self/task").unwrap().count();
    // Server threads for blocking work and the plan's HTTP client come and go; one
    // thread per queued plan would add 40.
    assert!(
        threads_now <= threads_before + 15,
        "{threads_before} threads before the uploads, {threads_now} after"
    );
    // The first plan runs past its second and fails with the reason.
    let first = ids[0];
    let failed = (0..300)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            t.get_json(&format!("/api/pending-inputs/{first}"))["input"].clone()
        })
        .find(|input| input["status"] == "failed")
        .expect("the first input fails after its plan's time");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("planning took longer than 1 s"),
        "{failed}"
    );
    // Too many requirements in one file.
    settings(&t, false);
    let e = assert_error(upload_requirements(&t, "a\nb\nc\nd\ne\nf\n"), 413);
    assert_eq!(e["error"]["code"], "too_many_requirements", "{e}");
    assert_eq!(upload_requirements(&t, "a\nb\nc\nd\ne\n").status(), 201);
}
