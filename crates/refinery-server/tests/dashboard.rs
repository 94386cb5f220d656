//! What the dashboard relies on (issue 21), on the real server: worker states, the status
//! glossary and its class counts, packages in the glossary's words, hint validation with
//! Rust's regex, the guide's log endpoint spellings and the session probe that never
//! errors. (How many jobs a plan enqueue created is checked by the browser tests.)

mod common;

use common::*;
use refinery_store::queue::{JobSpec, JobStatus, Outcome};
use serde_json::{json, Value};

fn spec(package: &str, version: &str, status: Option<JobStatus>) -> JobSpec {
    JobSpec {
        package: package.into(),
        version: version.into(),
        python: "3.11".into(),
        platform_tag: "manylinux2014_s390x".into(),
        status,
        ..JobSpec::default()
    }
}

#[test]
fn workers_are_building_idle_or_offline_as_the_server_decides() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    store.enqueue(&spec("six", "1.16.0", None)).unwrap();
    store.enqueue(&spec("idna", "3.7", None)).unwrap();
    let a = store
        .claim("busy", std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    let b = store
        .claim("done", std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    store
        .complete(
            b.id,
            b.attempt,
            &Outcome {
                status: JobStatus::Built,
                detail: String::new(),
                result: Value::Null,
            },
        )
        .unwrap();
    // A worker that last reported a job long ago: gone, whatever that job was.
    store.worker_seen("gone", "old", Some(a.id)).unwrap();
    let answer = t.get_json("/api/workers");
    assert_eq!(answer["liveness_window_secs"], 60);
    let by: std::collections::BTreeMap<String, Value> = answer["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["id"].as_str().unwrap().to_string(), w.clone()))
        .collect();
    assert_eq!(by["busy"]["state"], "building");
    assert_eq!(by["busy"]["job"], a.id);
    assert_eq!(by["done"]["state"], "idle", "{}", by["done"]);
    assert_eq!(by["done"]["current_job"], b.id, "the raw field stays");
    assert_eq!(by["done"]["job"], Value::Null);
    // "gone" was seen just now (worker_seen), so it is live but holds no lease of its own.
    assert_eq!(by["gone"]["state"], "idle");
    // The queue stats carry the same view.
    let stats = t.get_json("/api/queue/stats");
    assert!(stats["workers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == "busy" && w["state"] == "building"));
}

#[test]
fn the_glossary_and_class_counts_agree_with_the_queue() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    store
        .enqueue(&spec("a", "1", Some(JobStatus::Reused)))
        .unwrap();
    store
        .enqueue(&spec("b", "1", Some(JobStatus::Missing)))
        .unwrap();
    store.enqueue(&spec("c", "1", None)).unwrap();
    let glossary = t.get_json("/api/statuses");
    let statuses = glossary["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), JobStatus::ALL.len());
    for (entry, status) in statuses.iter().zip(JobStatus::ALL) {
        assert_eq!(entry["status"], status.as_str());
        assert!(!entry["meaning"].as_str().unwrap().is_empty());
    }
    let missing = statuses.iter().find(|e| e["status"] == "missing").unwrap();
    assert_eq!(missing["class"], "failed");
    let stats = t.get_json("/api/queue/stats");
    assert_eq!(stats["by_class"]["reused"], 1);
    assert_eq!(stats["by_class"]["failed"], 1, "missing counts as failed");
    assert_eq!(stats["by_class"]["waiting"], 1);
    assert_eq!(stats["by_class"]["built"], 0, "a reuse is not a build");
    // The new reads are documented.
    let doc = t.get_json("/api/openapi.json");
    for path in [
        "/api/statuses",
        "/api/workers",
        "/api/hints/validate",
        "/api/logs/stream",
        "/api/logs/chunks/{name}/{version}",
        "/api/session/token",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "openapi lacks GET {path}"
        );
    }
}

#[test]
fn packages_use_job_words_and_list_reused_only_packages() {
    let t = TestServer::start(|_| {});
    let state = &t.server.state;
    state
        .store
        .enqueue(&spec("tinypure", "2.0", Some(JobStatus::Reused)))
        .unwrap();
    state
        .history
        .with(|h| {
            h.record_attempt(&refinery_store::Attempt {
                package: "six".into(),
                version: "1.16.0".into(),
                python_tag: "cp311".into(),
                platform: "manylinux2014_s390x".into(),
                variant: refinery_store::Variant::default(),
                attempt: 1,
                status: refinery_store::AttemptStatus::Success,
                duration_secs: 1.0,
                ..Default::default()
            })?;
            h.record_event(
                &refinery_store::Event::new(refinery_store::EventKind::Missing, "no source")
                    .with_package("gone", "0.1"),
            )
        })
        .unwrap();
    let packages = t.get_json("/api/packages");
    let by: std::collections::BTreeMap<String, Value> = packages["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["package"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    assert_eq!(by["six"]["status"], "built", "not the attempt's `success`");
    assert_eq!(by["six"]["attempts"], 1);
    assert_eq!(by["tinypure"]["status"], "reused");
    assert_eq!(by["gone"]["status"], "missing");
}

#[test]
fn hint_patterns_are_checked_with_rusts_regex_without_storing() {
    let t = TestServer::start(|c| c.worker_token = Some("tok".into()));
    let check = |pattern: &str, packages: &str| {
        let url = reqwest::Url::parse_with_params(
            &t.url("/api/hints/validate"),
            &[("pattern", pattern), ("packages", packages)],
        )
        .unwrap();
        let r = t.client.get(url).send().unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "reads need no token, refusals no error"
        );
        r.json::<Value>().unwrap()
    };
    // The catalog's big-endian hint uses (?i), which JavaScript refuses.
    let big_endian = refinery_build::hints::Catalog::builtin()
        .hints()
        .find(|h| h.id == "big-endian")
        .expect("the catalog has big-endian")
        .pattern
        .clone();
    assert!(big_endian.starts_with("(?i)"));
    assert_eq!(check(&big_endian, "")["valid"], true);
    let lookahead = check("ffi\\.h(?=: No such)", "");
    assert_eq!(lookahead["valid"], false);
    assert!(
        lookahead["message"]
            .as_str()
            .unwrap()
            .contains("not a valid regular expression"),
        "{lookahead}"
    );
    // A client may carry its token in the query.
    let with_token = t.get("/api/hints/validate?pattern=x&token=tok");
    assert_eq!(with_token.status().as_u16(), 200);
    assert_eq!(with_token.json::<Value>().unwrap()["valid"], true);
    let bad_package = check("x", "libffi-dev; rm");
    assert_eq!(bad_package["valid"], false);
    assert!(t.get_json("/api/hints")["user"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn the_guides_log_endpoints_are_aliases() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    let job = store.enqueue(&spec("six", "1.16.0", None)).unwrap().0;
    let claimed = store
        .claim("w", std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    store
        .append_log(claimed.id, claimed.attempt, "hello\n")
        .unwrap();
    let alias = t.get_json("/api/logs/chunks/six/1.16.0");
    let path = t.get_json("/api/logs/six/1.16.0/chunks");
    assert_eq!(alias, path);
    assert_eq!(alias["job_id"], job.id);
    for url in [
        format!("/api/logs/stream?job={}", job.id),
        "/api/logs/stream?package=six&version=1.16.0".to_string(),
    ] {
        let r = t.get(&url);
        assert_eq!(r.status().as_u16(), 200, "{url}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
    }
    let none = assert_error(t.get("/api/logs/stream"), 400);
    assert!(none["error"]["message"].as_str().unwrap().contains("?job="));
    assert_error(t.get("/api/logs/stream?package=nope&version=1"), 404);
}

#[test]
fn the_session_probe_answers_200_whatever_the_cookie() {
    let open = TestServer::start(|_| {});
    let r = open.get_json("/api/session/token");
    assert_eq!(
        r,
        json!({"worker_token": false, "read_token": false, "access": "none"})
    );
    let t = TestServer::start(|c| {
        c.worker_token = Some("worker-secret-123456".into());
        c.read_token = Some("reader-secret-123456".into());
    });
    let probe = |cookie: Option<&str>| {
        let mut req = t.client.get(t.url("/api/session/token"));
        if let Some(c) = cookie {
            req = req.header("cookie", format!("worker_token={c}"));
        }
        let r = req.send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json::<Value>().unwrap()["access"].clone()
    };
    assert_eq!(probe(None), "none");
    assert_eq!(probe(Some("reader-secret-123456")), "read");
    assert_eq!(probe(Some("worker-secret-123456")), "write");
    assert_eq!(probe(Some("wrong")), "invalid");
}
