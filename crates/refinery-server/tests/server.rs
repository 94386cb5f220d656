//! The real server on 127.0.0.1:0: API, errors, auth, queue and worker protocol, SSE,
//! metrics and the /simple index. No s390x builds here (see
//! `crates/refinery/tests/control_plane.rs` for those).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use refinery_store::queue::{JobSpec, JobStatus, Outcome};
use serde_json::{json, Value};

fn spec(package: &str, version: &str) -> JobSpec {
    JobSpec {
        package: package.into(),
        version: version.into(),
        python: "3.11".into(),
        platform_tag: "manylinux2014_s390x".into(),
        ..JobSpec::default()
    }
}

#[test]
fn health_openapi_and_json_errors() {
    let t = TestServer::start(|_| {});
    let health = t.get_json("/healthz");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["queue"], "sqlite");
    let doc = t.get_json("/api/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/queue/enqueue",
        "/api/logs/{name}/{version}/stream",
        "/simple/{name}/",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    // Empty state reads fine.
    assert_eq!(t.get_json("/api/events")["events"], json!([]));
    assert_eq!(t.get_json("/api/top-failures")["top_failures"], json!([]));
    assert_eq!(t.get_json("/api/top-slowest")["top_slowest"], json!([]));
    assert_eq!(t.get_json("/api/queue/stats")["depth"], 0);
    assert!(t.get_json("/api/hints")["catalog"]["hints"].is_array());

    // Every failure is a JSON error.
    assert_error(t.get("/api/nope"), 404);
    assert_error(t.get("/api/jobs/999"), 404);
    assert_error(t.get("/api/jobs/abc"), 400);
    assert_error(t.get("/api/plans/nope"), 404);
    assert_error(t.get("/api/pending-inputs/7"), 404);
    assert_error(t.get("/api/packages/unknown-package"), 404);
    assert_error(t.get("/api/logs/six/1.0"), 404);
    assert_error(t.client.delete(t.url("/api/queue")).send().unwrap(), 405);
    let bad_json = t
        .client
        .post(t.url("/api/queue/enqueue"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_error(bad_json, 400);
    assert_error(t.post("/api/queue/enqueue", json!({"package": "six"})), 422);
    assert_error(
        t.post(
            "/api/queue/enqueue",
            json!({"package": "six", "version": "1", "bogus": 1}),
        ),
        422,
    );
    assert_error(t.get("/api/queue?status=done"), 400);
    // An event kind the history does not know: named, with the known ones (`status` is an
    // alias of `kind`).
    for query in ["kind=build_start", "status=build_start"] {
        let body = assert_error(t.get(&format!("/api/events?{query}")), 400);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("`build_start`"), "{message}");
        assert!(message.contains("plan, enqueue, reuse"), "{message}");
    }
    assert_eq!(t.get_json("/api/events?kind=run_end")["events"], json!([]));

    // Path traversal anywhere in a name or version: 400/404 with a JSON body, never a file.
    for line in [
        "GET /api/logs/..%2F..%2Fetc%2Fpasswd/1.0",
        "GET /api/logs/six/..%2F..%2F..%2Fetc%2Fpasswd",
        "GET /api/logs/../../etc/passwd",
        "GET /api/packages/..%2F..%2Fetc%2Fpasswd",
        "GET /simple/..%2F..%2Fetc%2Fpasswd/",
        "GET /files/..%2F..%2Fetc/passwd",
        "GET /api/logs/%2E%2E/%2E%2E/stream",
    ] {
        let (status, body) = t.raw(line);
        assert!(matches!(status, 400 | 404), "{line}: {status} {body}");
        let value: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{line}: {body}"));
        assert!(value["error"]["message"].is_string(), "{line}: {body}");
        assert!(!body.contains("root:"), "{line}: {body}");
    }
    // Still serving.
    assert_eq!(t.get_json("/healthz")["status"], "ok");
}

#[test]
fn uploads_are_checked() {
    let t = TestServer::start(|c| c.max_requirements_bytes = 1024);
    let upload = |text: &str, ct: &str| {
        t.upload(
            "/api/requirements/upload",
            "requirements.txt",
            ct,
            text.as_bytes(),
        )
    };
    let ok = upload("six==1.16.0\n", "text/plain");
    assert_eq!(ok.status().as_u16(), 201);
    let body: Value = ok.json().unwrap();
    assert_eq!(body["input"]["status"], "pending");
    assert_eq!(body["auto_plan"], false);
    let path = t.cache().join(body["input"]["path"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(path).unwrap(), "six==1.16.0\n");

    // A line that does not parse: the error names the file as it was uploaded.
    let e = assert_error(
        t.upload(
            "/api/requirements/upload",
            "C:\\work\\badreq.txt",
            "text/plain",
            b"six\nbeta>=>2\n",
        ),
        400,
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("badreq.txt:2"), "{message}");
    assert!(!message.contains("requirements.txt"), "{message}");
    let e = assert_error(
        upload("-i https://evil.example/simple\nsix\n", "text/plain"),
        400,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("other indexes"),
        "{e}"
    );
    assert_error(upload("-r ../../../etc/passwd\n", "text/plain"), 400);
    assert_error(upload("six==1.16.0\n", "image/png"), 415);
    let too_large = upload(&"six==1.16.0\n".repeat(200), "text/plain");
    // The server may not have read the whole body: the client must not reuse the
    // connection (a full disk's 507 in `hardening.rs` once failed the next request so).
    assert_eq!(too_large.headers()["connection"], "close");
    assert_error(too_large, 413);
    // Not multipart at all: 415, saying what the endpoint takes (not a complaint about a
    // multipart boundary the client never meant to send).
    let plain = t
        .client
        .post(t.url("/api/requirements/upload"))
        .header("content-type", "text/plain")
        .body("six\n")
        .send()
        .unwrap();
    let e = assert_error(plain, 415);
    assert_eq!(e["error"]["code"], "unsupported_media_type", "{e}");
    let json_body = t
        .client
        .post(t.url("/api/requirements/upload"))
        .json(&json!({"requirements": "six==1.16.0"}))
        .send()
        .unwrap();
    let e = assert_error(json_body, 415);
    let message = e["error"]["message"].as_str().unwrap();
    for said in [
        "application/json",
        "multipart/form-data",
        "field named `file`",
        "text/plain",
    ] {
        assert!(message.contains(said), "{said}: {message}");
    }
    assert!(!message.contains("boundary"), "{message}");
    let e = assert_error(
        t.client
            .post(t.url("/api/wheels/upload"))
            .json(&json!({}))
            .send()
            .unwrap(),
        415,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data with a wheel in a field named `file`"),
        "{e}"
    );
    // Multipart without its boundary: still the client's mistake, a 400 that says how.
    let e = assert_error(
        t.client
            .post(t.url("/api/requirements/upload"))
            .header("content-type", "multipart/form-data")
            .body("six\n")
            .send()
            .unwrap(),
        400,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("curl -F file=@requirements.txt"),
        "{e}"
    );
    // A broken wheel, and a wheel name with a path in it.
    let wheel = |name: &str, bytes: Vec<u8>| {
        t.upload(
            "/api/wheels/upload",
            name,
            "application/octet-stream",
            &bytes,
        )
    };
    assert_error(
        wheel("six-1.16.0-py3-none-any.whl", b"not a zip".to_vec()),
        400,
    );
    assert_error(
        wheel("../../six-1.16.0-py3-none-any.whl", b"x".to_vec()),
        400,
    );
    assert_error(wheel("notawheel.txt", b"x".to_vec()), 400);
    let dir = tempfile::tempdir().unwrap();
    let good = write_wheel(dir.path(), "tinypure", "1.0", "py3-none-any", Some(">=3.8"));
    let response = wheel(
        "tinypure-1.0-py3-none-any.whl",
        std::fs::read(good).unwrap(),
    );
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().unwrap();
    assert_eq!(body["decision"], "reuse");
    assert_eq!(
        t.get_json("/api/pending-inputs")["inputs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Nothing was written outside the cache.
    assert!(!t.dir.path().join("six-1.16.0-py3-none-any.whl").exists());
}

/// Hardening item 1: a marker nested 3,000 deep once overflowed the stack and aborted the
/// whole server; it is a 400 now, and the server keeps serving.
#[test]
fn a_deeply_nested_marker_is_a_bad_request_not_a_crash() {
    let t = TestServer::start(|c| c.max_requirements_bytes = 64 * 1024);
    let text = format!(
        "six; {}python_version<'4'{}\n",
        "(".repeat(3000),
        ")".repeat(3000)
    );
    let e = assert_error(
        t.upload(
            "/api/requirements/upload",
            "requirements.txt",
            "text/plain",
            text.as_bytes(),
        ),
        400,
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("3000 deep"), "{message}");
    assert_eq!(t.get_json("/api/health")["status"], "ok");
}

/// Hardening item 13: enqueue refuses recipes the hint catalog would refuse.
#[test]
fn enqueue_refuses_recipes_that_could_run_code() {
    let t = TestServer::start(|_| {});
    for (recipe, what) in [
        (
            json!({"system_packages": ["curl; rm -rf /"]}),
            "curl; rm -rf /",
        ),
        (json!({"env": {"LD_PRELOAD": "/tmp/x.so"}}), "LD_PRELOAD"),
        (json!({"variant": "../../x"}), "../../x"),
    ] {
        let e = assert_error(
            t.client
                .post(t.url("/api/queue/enqueue"))
                .json(&json!({"package": "six", "version": "1.16.0", "recipe": recipe}))
                .send()
                .unwrap(),
            400,
        );
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
    }
    let ok = t
        .client
        .post(t.url("/api/queue/enqueue"))
        .json(&json!({"package": "six", "version": "1.16.0", "recipe": {"variant": "no-isolation", "env": {"CFLAGS": "-O1"}}}))
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 201);
}

#[test]
fn tokens_are_enforced() {
    let t = TestServer::start(|c| c.worker_token = Some("s3cret".into()));
    let body = json!({"package": "six", "version": "1.16.0"});
    let e = assert_error(t.post("/api/queue/enqueue", body.clone()), 401);
    assert_eq!(e["error"]["code"], "unauthorized");
    let e = assert_error(
        t.post_token("/api/queue/enqueue", body.clone(), "wrong"),
        403,
    );
    assert_eq!(e["error"]["code"], "forbidden");
    assert_eq!(
        t.post_token("/api/queue/enqueue", body.clone(), "s3cret")
            .status()
            .as_u16(),
        201
    );
    // ?token= and Bearer work too; the worker endpoints are guarded.
    let r = t
        .client
        .post(t.url("/api/queue/enqueue?token=s3cret"))
        .json(&json!({"package": "regex", "version": "1"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_error(t.post("/api/worker/claim", json!({"worker": "w"})), 401);
    assert_error(t.post_token("/api/settings", json!({}), "s3cret"), 405);
    let r = t
        .client
        .put(t.url("/api/settings"))
        .bearer_auth("s3cret")
        .json(&json!({"auto_plan": true}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Reads stay open.
    assert_eq!(t.get_json("/api/queue/stats")["depth"], 2);
    assert_eq!(t.get_json("/api/settings")["auto_plan"], true);
    // The cookie helper.
    assert_error(t.post("/api/session/token", json!({})), 401);
    assert_error(t.post("/api/session/token", json!({"token": "nope"})), 403);
    let r = t
        .client
        .post(t.url("/api/session/token?token=s3cret"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("worker_token=s3cret;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let r = t
        .client
        .post(t.url("/api/queue/retry"))
        .header("cookie", "worker_token=s3cret")
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // --read-token guards the reads, including the index; a worker token also reads.
    let t = TestServer::start(|c| {
        c.worker_token = Some("w".into());
        c.read_token = Some("r".into());
    });
    assert_error(t.get("/api/queue/stats"), 401);
    assert_error(t.get("/simple/"), 401);
    assert_error(
        t.client
            .get(t.url("/api/events"))
            .header("X-Worker-Token", "x")
            .send()
            .unwrap(),
        403,
    );
    assert_eq!(
        t.client
            .get(t.url("/api/events"))
            .header("X-Worker-Token", "r")
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        t.client
            .get(t.url("/api/events"))
            .header("X-Worker-Token", "w")
            .send()
            .unwrap()
            .status(),
        200
    );
    // pip style: http://user:TOKEN@host/simple/
    assert_eq!(
        t.client
            .get(t.url("/simple/"))
            .basic_auth("pip", Some("r"))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(t.get("/healthz").status(), 200);
    // Either token logs in; the answer says what it may do, and the cookie reads.
    let login = |token: &str| {
        t.client
            .post(t.url("/api/session/token"))
            .json(&json!({ "token": token }))
            .send()
            .unwrap()
    };
    assert_eq!(login("w").json::<Value>().unwrap()["access"], "write");
    let r = login("r");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("worker_token=r;"));
    assert_eq!(r.json::<Value>().unwrap()["access"], "read");
    assert_error(login("x"), 403);
    let with_cookie = |request: reqwest::blocking::RequestBuilder| {
        request
            .header("cookie", "worker_token=r")
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(with_cookie(t.client.get(t.url("/api/events"))), 200);
    assert_eq!(
        with_cookie(t.client.post(t.url("/api/queue/retry")).json(&json!({}))),
        403
    );

    // Only a read token: writes are never more open than reads (hardening item 2). The
    // read token is then the one token, so it logs in with write access.
    let t = TestServer::start(|c| c.read_token = Some("r".into()));
    assert_error(
        t.client.post(t.url("/api/queue/clear")).send().unwrap(),
        401,
    );
    assert_error(
        t.client
            .post(t.url("/api/queue/clear"))
            .header("x-worker-token", "wrong")
            .send()
            .unwrap(),
        403,
    );
    let cleared = t
        .client
        .post(t.url("/api/queue/clear"))
        .header("x-worker-token", "r")
        .send()
        .unwrap();
    assert!(cleared.status().is_success(), "{}", cleared.status());
    let r = t
        .client
        .post(t.url("/api/session/token"))
        .json(&json!({ "token": "r" }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().unwrap()["access"], "write");
}

#[test]
fn queue_and_worker_protocol_over_http() {
    queue_and_worker_protocol(TestServer::start(|c| c.worker_token = Some("tok".into())));
}

#[test]
fn queue_and_worker_protocol_over_http_on_postgres() {
    let Some((store, _schema)) = postgres_store() else {
        return;
    };
    let t = TestServer::start_on(Some(store), |c| c.worker_token = Some("tok".into()));
    assert_eq!(t.get_json("/healthz")["queue"], "postgres");
    queue_and_worker_protocol(t);
}

#[test]
fn concurrent_http_claims_on_postgres() {
    let Some((store, _schema)) = postgres_store() else {
        return;
    };
    concurrent_claims(TestServer::start_on(Some(store), |_| {}));
}

fn queue_and_worker_protocol(t: TestServer) {
    let post = |path: &str, body: Value| t.post_token(path, body, "tok");
    let r = post(
        "/api/queue/enqueue",
        json!({"package": "PyYAML", "version": "6.0.2", "python_tag": "cp311", "steps": ["apt-get install libyaml-dev"], "recipe": {"variant": "no-isolation"}}),
    );
    assert_eq!(r.status().as_u16(), 201);
    let job: Value = r.json().unwrap();
    let id = job["job"]["id"].as_i64().unwrap();
    assert_eq!(job["job"]["python"], "3.11");
    assert_eq!(
        job["job"]["recipe"]["steps"][0],
        "apt-get install libyaml-dev"
    );
    // Same again: the existing job.
    let again: Value = post(
        "/api/queue/enqueue",
        json!({"package": "pyyaml", "version": "6.0.2"}),
    )
    .json()
    .unwrap();
    assert_eq!(again["created"], false);
    assert_error(
        post(
            "/api/queue/enqueue",
            json!({"package": "x", "version": "1", "python": "2.7"}),
        ),
        400,
    );

    let claim: Value = post(
        "/api/worker/claim",
        json!({"worker": "w1", "host": "h1", "lease_secs": 30}),
    )
    .json()
    .unwrap();
    assert_eq!(claim["job"]["id"], id);
    assert_eq!(claim["job"]["attempt"], 1);
    assert_eq!(
        post("/api/worker/claim", json!({"worker": "w2"}))
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        post(&format!("/api/jobs/{id}/start"), json!({"attempt": 1})).status(),
        200
    );
    let hb: Value = post(&format!("/api/jobs/{id}/heartbeat"), json!({"attempt": 1}))
        .json()
        .unwrap();
    assert_eq!(hb["cancel"], false);
    let seq: Value = post(
        &format!("/api/jobs/{id}/logs"),
        json!({"attempt": 1, "data": "hello\n"}),
    )
    .json()
    .unwrap();
    assert_eq!(seq["seq"], 1);
    // A stale attempt is fenced out.
    let e = assert_error(
        post(&format!("/api/jobs/{id}/heartbeat"), json!({"attempt": 7})),
        409,
    );
    assert_eq!(e["error"]["code"], "lease_lost");
    assert_error(
        post(
            &format!("/api/jobs/{id}/logs"),
            json!({"attempt": 7, "data": "x"}),
        ),
        409,
    );
    // Garbage from a worker: clear 4xx.
    assert_error(
        post(
            &format!("/api/jobs/{id}/complete"),
            json!({"attempt": 1, "status": "exploded"}),
        ),
        422,
    );
    assert_error(
        post(
            &format!("/api/jobs/{id}/complete"),
            json!({"attempt": "one"}),
        ),
        422,
    );
    assert_error(post("/api/worker/claim", json!({"worker": ""})), 400);
    let stats = t.get_json("/api/queue/stats");
    assert_eq!(stats["active"], 1);
    assert_eq!(stats["workers"][0]["id"], "w1");
    // Cancellation arrives with the next heartbeat.
    post(&format!("/api/jobs/{id}/cancel"), json!({}));
    let hb: Value = post(&format!("/api/jobs/{id}/heartbeat"), json!({"attempt": 1}))
        .json()
        .unwrap();
    assert_eq!(hb["cancel"], true);
    let done: Value = post(
        &format!("/api/jobs/{id}/complete"),
        json!({"attempt": 1, "status": "failed", "detail": "cancelled by request"}),
    )
    .json()
    .unwrap();
    assert_eq!(done["job"]["status"], "failed");
    assert_eq!(
        t.get(&format!("/api/jobs/{id}/logs")).text().unwrap(),
        "hello\n"
    );
    assert_eq!(t.get("/api/logs/pyyaml/6.0.2").text().unwrap(), "hello\n");
    let chunks = t.get_json("/api/logs/PyYAML/6.0.2/chunks?after=0");
    assert_eq!(chunks["done"], true);
    assert_eq!(chunks["chunks"][0]["data"], "hello\n");
    // A later run took the wheel from its cache (a job without a log): the page still
    // shows the log of the build that made it, not a failed build's.
    let store = &t.server.state.store;
    let finished = |status: JobStatus| refinery_store::queue::FinishedJob {
        spec: JobSpec {
            package: "tinylog".into(),
            version: "1.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            status: Some(status),
            ..Default::default()
        },
        started_ms: None,
        finished_ms: 1,
        result: json!({}),
    };
    let built = store.record_finished(&finished(JobStatus::Built)).unwrap();
    store.append_system_log(built.id, "built it\n").unwrap();
    let failed = store.record_finished(&finished(JobStatus::Failed)).unwrap();
    store.append_system_log(failed.id, "broke\n").unwrap();
    store.record_finished(&finished(JobStatus::Cached)).unwrap();
    let chunks = t.get_json("/api/logs/tinylog/1.0/chunks?after=0");
    assert_eq!(chunks["job_id"], built.id, "{chunks}");
    assert_eq!(chunks["chunks"][0]["data"], "built it\n");
    assert_eq!(t.get("/api/logs/tinylog/1.0").text().unwrap(), "built it\n");
    // Retry, list, clear.
    assert_eq!(
        post("/api/queue/retry", json!({"ids": [id]}))
            .json::<Value>()
            .unwrap()["retried"],
        1
    );
    let list = t.get_json("/api/queue?status=retry");
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    // "Clear finished": tinylog's three; the retried job waits on. Nothing is deleted.
    assert_eq!(
        post("/api/queue/clear", json!({})).json::<Value>().unwrap()["cleared"],
        3
    );
    let stats = t.get_json("/api/queue/stats");
    assert_eq!(
        (stats["total"].clone(), stats["cleared"].clone()),
        (json!(4), json!(3))
    );
    let listed = t.get_json("/api/queue?hide_cleared=true");
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(t.get("/api/logs/tinylog/1.0").text().unwrap(), "built it\n");
    // Trigger without a local worker or webhook: a clear conflict.
    assert_error(post("/api/worker/trigger", json!({})), 409);
}

#[test]
fn trigger_drains_in_process_and_calls_the_webhook() {
    let t = TestServer::start(|c| {
        let mut options =
            refinery_worker::worker::WorkerOptions::new(c.cache.clone(), c.cache.join("envs"));
        options.id = "in-process".into();
        c.local_worker = Some(options);
    });
    let r = t.post("/api/worker/trigger", json!({}));
    assert_eq!(r.status(), 202);
    let body: Value = r.json().unwrap();
    assert_eq!(body["mode"], "local");
    assert_eq!(body["started"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.get_json("/api/queue/stats")["draining"] == true {
        assert!(
            Instant::now() < deadline,
            "the drain of an empty queue never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The webhook mode forwards the token to the remote worker service.
    let hook =
        refinery_index::testing::LocalIndex::serve_fixed(200, "application/json", "{}").unwrap();
    let t = TestServer::start(|c| {
        c.worker_token = Some("tok".into());
        c.worker_webhook_url = Some(format!("{}/trigger", hook.base_url()));
    });
    let r = t.post_token("/api/worker/trigger", json!({}), "tok");
    assert_eq!(r.status(), 202);
    let body: Value = r.json().unwrap();
    assert_eq!(body["mode"], "webhook");
    assert_eq!(body["webhook_status"], 200);
    assert_eq!(hook.requests(), ["/trigger"]);
}

#[test]
fn concurrent_http_claims_never_share_a_job() {
    concurrent_claims(TestServer::start(|_| {}));
}

fn concurrent_claims(t: TestServer) {
    for i in 0..24 {
        t.server
            .state
            .store
            .enqueue(&spec(&format!("pkg{i}"), "1"))
            .unwrap();
    }
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..4 {
            let (t, claimed) = (&t, &claimed);
            scope.spawn(move || loop {
                let r = t.post("/api/worker/claim", json!({"worker": format!("w{w}")}));
                if r.status().as_u16() == 204 {
                    break;
                }
                let v: Value = r.json().unwrap();
                claimed
                    .lock()
                    .unwrap()
                    .push(v["job"]["id"].as_i64().unwrap());
            });
        }
    });
    let claimed = claimed.into_inner().unwrap();
    let unique: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 24);
    assert_eq!(unique.len(), 24);
}

/// `found()`'s first answer, asked every 50 ms for up to 10 s.
fn wait_for<T>(found: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "not seen within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lease_expiry_requeues_through_the_server_reaper() {
    let t = TestServer::start(|c| c.max_restarts = 2);
    let store = t.server.state.store.clone();
    let (job, _) = store.enqueue(&spec("lxml", "5.3.0")).unwrap();
    let claimed = store
        .claim("dead-worker", Duration::from_millis(300))
        .unwrap()
        .unwrap();
    store.start(claimed.id, claimed.attempt).unwrap();
    // Nobody heartbeats: the server's reaper (every 200 ms here) takes it back.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = store.job(job.id).unwrap();
        if current.status == JobStatus::Retry {
            break;
        }
        assert!(Instant::now() < deadline, "never re-queued: {current:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = t.get(&format!("/api/jobs/{}/logs", job.id)).text().unwrap();
    assert!(
        log.contains("lease of worker dead-worker on attempt 1 expired"),
        "{log}"
    );
    // The lost attempt is in the package's history: neutral, not a failure. The reaper
    // records it (then counts it) just after it re-queued the job.
    let lost = wait_for(|| {
        let package = t.get_json("/api/packages/lxml");
        let attempts = package["attempts"].as_array().cloned().unwrap_or_default();
        attempts
            .into_iter()
            .find(|a| a["status"] == "lost")
            .map(|a| (a, package))
    });
    let (attempt, package) = lost;
    assert_eq!(attempt["worker"], "dead-worker");
    assert_eq!(attempt["version"], "5.3.0");
    assert_eq!(attempt["run_id"], format!("job-{}-attempt-1", job.id));
    assert_eq!(package["failures"], json!([]), "{package}");
    let metrics = wait_for(|| {
        let metrics = t.get("/metrics").text().unwrap();
        metrics
            .contains("refinery_lease_expirations_total{outcome=\"requeued\"} 1")
            .then_some(metrics)
    });
    assert!(metrics.contains("refinery_lease_expirations_total"));
    let next = store
        .claim("live-worker", Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!((next.id, next.attempt), (job.id, 2));
}

#[test]
fn sse_streams_lines_while_the_job_runs_and_resumes() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    let (job, _) = store.enqueue(&spec("slowpkg", "1.0")).unwrap();
    let claimed = store.claim("w", Duration::from_secs(60)).unwrap().unwrap();
    store.start(job.id, claimed.attempt).unwrap();
    store
        .append_log(job.id, claimed.attempt, "line 0\n")
        .unwrap();
    let events = follow_sse(t.url("/api/logs/slowpkg/1.0/stream"), None);
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for i in 1..=5 {
                std::thread::sleep(Duration::from_millis(150));
                store
                    .append_log(job.id, claimed.attempt, &format!("line {i}\n"))
                    .unwrap();
            }
        })
    };
    // Lines arrive while the job is still building.
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let event = events
            .recv_timeout(Duration::from_secs(10))
            .expect("a log event while building");
        assert_eq!(event.event, "log");
        assert_eq!(store.job(job.id).unwrap().status, JobStatus::Building);
        seen.push((event.id.clone().unwrap(), event.data.trim_end().to_string()));
    }
    writer.join().unwrap();
    assert_eq!(
        seen.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(),
        ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5"]
    );
    store
        .complete(
            job.id,
            claimed.attempt,
            &Outcome {
                status: JobStatus::Built,
                detail: "ok".into(),
                result: Value::Null,
            },
        )
        .unwrap();
    let end = events.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(end.event, "end");
    assert!(end.data.contains("\"built\""), "{}", end.data);
    // Last-Event-ID resumes after line 3.
    let resumed = follow_sse(
        t.url(&format!("/api/jobs/{}/logs/stream", job.id)),
        Some(&seen[3].0),
    );
    let first = resumed.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first.data.trim_end(), "line 4");
    assert_eq!(
        resumed
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .data
            .trim_end(),
        "line 5"
    );
    assert_eq!(
        resumed.recv_timeout(Duration::from_secs(10)).unwrap().event,
        "end"
    );
}

#[test]
fn metrics_are_prometheus_text() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    store.enqueue(&spec("a", "1")).unwrap();
    store.enqueue(&spec("b", "1")).unwrap();
    let job = store
        .claim("worker-1", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    store
        .heartbeat(job.id, job.attempt, Duration::from_secs(60))
        .unwrap();
    t.server
        .state
        .history
        .with(|h| {
            h.record_attempt(&refinery_store::Attempt {
                package: "a".into(),
                version: "1".into(),
                python_tag: "cp311".into(),
                platform: "manylinux2014_s390x".into(),
                variant: refinery_store::Variant::default(),
                attempt: 1,
                status: refinery_store::AttemptStatus::Success,
                duration_secs: 42.0,
                ..Default::default()
            })
        })
        .unwrap();
    let response = t.get("/metrics");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().unwrap();
    let samples = parse_prometheus(&text);
    let value = |name: &str, labels: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .unwrap_or_else(|| panic!("no {name}{{{labels}}} in\n{text}"))
            .2
    };
    assert_eq!(value("refinery_queue_jobs", "state=\"pending\""), 1.0);
    assert_eq!(value("refinery_queue_jobs", "state=\"leased\""), 1.0);
    assert_eq!(value("refinery_queue_depth", ""), 1.0);
    assert_eq!(
        value("refinery_build_attempts_total", "status=\"success\""),
        1.0
    );
    assert_eq!(
        value("refinery_build_duration_seconds_bucket", "le=\"30\""),
        0.0
    );
    assert_eq!(
        value("refinery_build_duration_seconds_bucket", "le=\"60\""),
        1.0
    );
    assert_eq!(value("refinery_build_duration_seconds_count", ""), 1.0);
    assert!(
        value(
            "refinery_worker_last_heartbeat_seconds",
            "worker=\"worker-1\""
        ) > 1.7e9
    );
    assert_eq!(value("refinery_workers_active", ""), 1.0);
    assert!(value("refinery_http_requests_total", "code=\"2xx\"") >= 0.0);
}

#[test]
fn simple_index_pep503_pep691_pep658_and_pip() {
    let t = TestServer::start(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let s390x = write_wheel(
        dir.path(),
        "tinyext",
        "1.0",
        "cp311-cp311-manylinux2014_s390x",
        Some(">=3.8"),
    );
    let pure = write_wheel(dir.path(), "tinypure", "2.0", "py3-none-any", None);
    let state = &t.server.state;
    let published =
        refinery_worker::publish::publish_wheel(&*state.store, &state.cas, &s390x, "built", None)
            .unwrap();
    refinery_worker::publish::publish_wheel(&*state.store, &state.cas, &pure, "reused", None)
        .unwrap();
    // Published through the shared database by a worker with a store of its own: this
    // server cannot serve it, so its index does not list it (pip would stop at a 404).
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = write_wheel(dir.path(), "tinyforeign", "1.0", "py3-none-any", None);
    refinery_worker::publish::publish_wheel(
        &*state.store,
        &refinery_store::Cas::new(elsewhere.path().join("cas")),
        &foreign,
        "built",
        None,
    )
    .unwrap();
    refinery_server::simple::refresh(state);
    assert_eq!(t.get("/simple/tinyforeign/").status(), 404);

    let root = t.get("/simple/");
    assert_eq!(root.status(), 200);
    assert!(root.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = root.text().unwrap();
    assert!(html.contains("<a href=\"tinyext/\">tinyext</a>"), "{html}");
    let json: Value = t
        .client
        .get(t.url("/simple/"))
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(json["projects"].as_array().unwrap().len(), 2);
    let page = t.get("/simple/tinyext/").text().unwrap();
    let sha = &published.sha256;
    assert!(page.contains(&format!("#sha256={sha}")), "{page}");
    assert!(page.contains("data-requires-python=\"&gt;=3.8\""), "{page}");
    assert!(
        page.contains(&format!(
            "data-core-metadata=\"sha256={}\"",
            published.metadata_sha256.clone().unwrap()
        )),
        "{page}"
    );
    let r = t
        .client
        .get(t.url("/simple/tinyext/"))
        .header(
            "Accept",
            "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        )
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.pypi.simple.v1+json"
    );
    let page: Value = r.json().unwrap();
    assert_eq!(page["files"][0]["hashes"]["sha256"], sha.as_str());
    assert_eq!(page["files"][0]["requires-python"], ">=3.8");
    assert!(page["files"][0]["core-metadata"]["sha256"].is_string());
    // Non-normalized names redirect; unknown projects are JSON 404s.
    let r = t.get("/simple/TinyExt/");
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/simple/tinyext/");
    assert_error(t.get("/simple/unknown/"), 404);
    // The root's links are relative to `/simple/`: without the slash it redirects.
    let r = t.get("/simple");
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/simple/");
    let r = t.get("/simple?format=json");
    assert_eq!(r.headers()["location"], "/simple/?format=json");
    // Files and PEP 658 metadata from the store.
    let file = t.get(&format!("/files/{sha}/{}", published.filename));
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.bytes().unwrap().as_ref(),
        std::fs::read(&s390x).unwrap().as_slice()
    );
    let meta = t
        .get(&format!("/files/{sha}/{}.metadata", published.filename))
        .text()
        .unwrap();
    assert!(
        meta.contains("Name: tinyext") && meta.contains("Requires-Python: >=3.8"),
        "{meta}"
    );
    assert_error(
        t.get(&format!("/files/{sha}/other-1.0-py3-none-any.whl")),
        404,
    );
    assert_error(t.get(&format!("/files/{}/x.whl", "0".repeat(64))), 404);

    // The static index writes the same pages.
    let out = dir.path().join("static");
    let written =
        refinery_server::simple::write_static_index(&*state.store, &state.cas, None, &out).unwrap();
    assert_eq!((written.projects, written.wheels), (2, 2));
    assert_eq!(written.not_in_store, ["tinyforeign-1.0-py3-none-any.whl"]);
    assert!(!out.join("simple/tinyforeign").exists());
    assert!(out.join("simple/tinyext/index.html").is_file());
    assert!(out
        .join(format!("files/{sha}/{}", published.filename))
        .is_file());
    assert!(out
        .join(format!("files/{sha}/{}.metadata", published.filename))
        .is_file());

    // pip itself: fetches the s390x wheel for CPython 3.11, hash-checked.
    if !refinery_test_support::tool_available(
        "pip",
        which("pip").is_some(),
        "put pip on PATH (the machine's CPython has it)",
    ) {
        return;
    }
    let dest = dir.path().join("pip-download");
    let out = std::process::Command::new("pip")
        .args([
            "download",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
        ])
        .arg(t.url("/simple"))
        .args([
            "--platform",
            "manylinux2014_s390x",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--no-deps",
            "-d",
        ])
        .arg(&dest)
        .arg("tinyext")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dest.join(&published.filename)).unwrap(),
        std::fs::read(&s390x).unwrap()
    );
    // uv resolves against the index.
    if which("uv").is_some() {
        let reqs = dir.path().join("req.in");
        std::fs::write(&reqs, "tinypure\n").unwrap();
        let out = std::process::Command::new("uv")
            .args([
                "pip",
                "compile",
                "--no-config",
                "--no-header",
                "--python-version",
                "3.11",
                "--index-url",
            ])
            .arg(t.url("/simple"))
            .arg("--cache-dir")
            .arg(dir.path().join("uv-cache"))
            .arg(&reqs)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("tinypure==2.0"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn inputs_plan_and_enqueue_against_a_local_index() {
    if !refinery_test_support::tool_available(
        "uv",
        which("uv").is_some(),
        "scripts/setup.sh installs it",
    ) {
        return;
    }
    let index_dir = tempfile::tempdir().unwrap();
    write_wheel(index_dir.path(), "tinypure", "2.0", "py3-none-any", None);
    let index = refinery_index::testing::LocalIndex::serve_dir(index_dir.path()).unwrap();
    let index_url = index.url.clone();
    let t = TestServer::start(|c| {
        c.index.index_url = index_url.clone();
    });
    let r = t.upload(
        "/api/requirements/upload",
        "requirements.txt",
        "text/plain",
        b"tinypure==2.0\nnot-there-at-all==9.9\n",
    );
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["input"]["id"].as_i64().unwrap();
    let r = t
        .client
        .post(t.url(&format!("/api/pending-inputs/{id}/enqueue-plan?wait=true")))
        .send()
        .unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["input"]["status"], "planned");
    let plan_id = body["plan"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["jobs"], json!([]), "AUTO_BUILD is off");
    // Planned inputs are not planned twice.
    assert_error(
        t.client
            .post(t.url(&format!("/api/pending-inputs/{id}/enqueue-plan")))
            .send()
            .unwrap(),
        409,
    );
    let plan = t.get_json(&format!("/api/plans/{plan_id}"));
    let nodes = plan["plan"]["body"]["nodes"].as_array().unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n["name"] == "tinypure" && n["action"] == "reuse"),
        "{plan}"
    );
    let listed = t.get_json("/api/plans");
    assert_eq!(listed["plans"][0]["id"], plan_id.as_str());
    // The reply of `?wait=true` carries the plan as the store keeps it, not a 0 time.
    let created_ms = body["plan"]["created_ms"].as_i64().unwrap();
    assert!(created_ms > 0, "{body}");
    assert_eq!(listed["plans"][0]["created_ms"], created_ms, "{listed}");
    assert_eq!(plan["plan"]["created_ms"], created_ms, "{plan}");
    let r = t
        .client
        .post(t.url(&format!("/api/plans/{plan_id}/enqueue-build")))
        .json(&json!({"package": "tinypure"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let jobs: Value = r.json().unwrap();
    assert_eq!(jobs["jobs"][0]["package"], "tinypure");
    assert_eq!(jobs["jobs"][0]["status"], "pending");
    assert_eq!(
        t.get_json(&format!("/api/pending-inputs/{id}"))["input"]["status"],
        "build_queued"
    );
    assert_error(
        t.client
            .post(t.url(&format!("/api/plans/{plan_id}/enqueue-build")))
            .json(&json!({"package": "nope"}))
            .send()
            .unwrap(),
        404,
    );
    // A worker took it from the index and published it: enqueued again, it is finished
    // at once (nothing to download or build twice).
    let store = &t.server.state.store;
    let job = store.claim("w1", Duration::from_secs(60)).unwrap().unwrap();
    store
        .complete(
            job.id,
            job.attempt,
            &Outcome {
                status: JobStatus::Reused,
                detail: String::new(),
                result: json!({}),
            },
        )
        .unwrap();
    let made = tempfile::tempdir().unwrap();
    let wheel = write_wheel(made.path(), "tinypure", "2.0", "py3-none-any", None);
    refinery_worker::publish::publish_wheel(&**store, &t.server.state.cas, &wheel, "reused", None)
        .unwrap();
    let r = t
        .client
        .post(t.url(&format!("/api/plans/{plan_id}/enqueue-builds")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let jobs: Value = r.json().unwrap();
    let tinypure = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["package"] == "tinypure")
        .unwrap();
    // Published as the index's own wheel (origin `reused`): reused, not `cached` (that
    // is a wheel built here).
    assert_eq!(tinypure["status"], "reused", "{jobs}");
    assert!(
        tinypure["detail"]
            .as_str()
            .unwrap()
            .contains("tinypure-2.0-py3-none-any.whl"),
        "{jobs}"
    );
    // A requirement that never resolved is a finished `missing` job (no version) saying
    // why, so it counts where failures are counted.
    let missing = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["package"] == "not-there-at-all")
        .unwrap_or_else(|| panic!("no job for the missing requirement: {jobs}"));
    assert_eq!(missing["status"], "missing", "{jobs}");
    assert_eq!(missing["version"], "", "{jobs}");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("not-there-at-all"),
        "{jobs}"
    );
    assert_eq!(
        t.get_json("/api/queue/stats")["by_status"]["missing"],
        1,
        "{jobs}"
    );
    // Asked for by name, it is queued again (a rebuild is the user's call).
    let r = t
        .client
        .post(t.url(&format!("/api/plans/{plan_id}/enqueue-build")))
        .json(&json!({"package": "tinypure"}))
        .send()
        .unwrap();
    let jobs: Value = r.json().unwrap();
    assert_eq!(jobs["jobs"][0]["status"], "pending", "{jobs}");

    // AUTO_PLAN + AUTO_BUILD: an upload ends as queued jobs by itself.
    let r = t
        .client
        .put(t.url("/api/settings"))
        .json(&json!({"auto_plan": true, "auto_build": true}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), "tinypure", "2.0", "py3-none-any", None);
    let r = t.upload(
        "/api/wheels/upload",
        "tinypure-2.0-py3-none-any.whl",
        "application/octet-stream",
        &std::fs::read(&wheel).unwrap(),
    );
    assert_eq!(r.status(), 201);
    let body: Value = r.json().unwrap();
    assert_eq!(body["auto_plan"], true);
    let wid = body["input"]["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let input = t.get_json(&format!("/api/pending-inputs/{wid}"));
        match input["input"]["status"].as_str().unwrap() {
            "build_queued" => break,
            "failed" => panic!("planning failed: {input}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "never planned: {input}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The uploaded wheel is reusable: published at once and listed by /simple.
    refinery_server::simple::refresh(&t.server.state);
    let page = t.get("/simple/tinypure/").text().unwrap();
    assert!(page.contains("tinypure-2.0-py3-none-any.whl"), "{page}");
    let events = t.get_json("/api/events?kind=plan");
    assert!(events["events"].as_array().unwrap().len() >= 2, "{events}");
}

#[test]
fn added_hints_are_changed_and_deleted_in_place() {
    let t = TestServer::start(|c| c.worker_token = Some("s3cret".into()));
    let r = t.post_token(
        "/api/hints",
        json!({"pattern": "gdbm\\.h: No such file", "packages": ["libgdbm-dev"], "note": "gdbm"}),
        "s3cret",
    );
    assert_eq!(r.status().as_u16(), 201);
    let hint = r.json::<Value>().unwrap()["hint"].clone();
    let path = format!("/api/hints/{}", hint["id"]);
    let edited = json!({"pattern": "gdbm(-ndbm)?\\.h", "packages": ["libgdbm-dev", "libgdbm-compat-dev"], "note": "gdbm and ndbm"});
    // Changing hints needs the token, like adding them.
    let put = |body: &Value, token: Option<&str>| {
        let mut request = t.client.put(t.url(&path)).json(body);
        if let Some(token) = token {
            request = request.header("X-Worker-Token", token);
        }
        request.send().unwrap()
    };
    assert_error(put(&edited, None), 401);
    let r = put(&edited, Some("s3cret"));
    assert_eq!(r.status().as_u16(), 200);
    let changed = r.json::<Value>().unwrap()["hint"].clone();
    assert_eq!(changed["id"], hint["id"]);
    assert_eq!(changed["created_ms"], hint["created_ms"]);
    assert_eq!(changed["packages"][1], "libgdbm-compat-dev");
    assert_eq!(t.get_json("/api/hints")["user"], json!([changed]));
    // Bad input is refused with the reason and changes nothing.
    let e = assert_error(
        put(&json!({"pattern": "gdbm(", "packages": []}), Some("s3cret")),
        400,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid regular expression"),
        "{e}"
    );
    let e = assert_error(
        put(
            &json!({"pattern": "x", "packages": ["; rm -rf /"]}),
            Some("s3cret"),
        ),
        400,
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a system package name"));
    assert_eq!(t.get_json("/api/hints")["user"], json!([changed]));
    // Unknown and malformed ids.
    assert_error(put_path(&t, "/api/hints/9999", &edited), 404);
    assert_error(put_path(&t, "/api/hints/abc", &edited), 400);
    // Deleting.
    let delete = |token: Option<&str>| {
        let mut request = t.client.delete(t.url(&path));
        if let Some(token) = token {
            request = request.header("X-Worker-Token", token);
        }
        request.send().unwrap()
    };
    assert_error(delete(None), 401);
    assert_eq!(delete(Some("s3cret")).status().as_u16(), 204);
    assert_eq!(t.get_json("/api/hints")["user"], json!([]));
    assert_error(delete(Some("s3cret")), 404);
}

fn put_path(t: &TestServer, path: &str, body: &Value) -> reqwest::blocking::Response {
    t.client
        .put(t.url(path))
        .header("X-Worker-Token", "s3cret")
        .json(body)
        .send()
        .unwrap()
}

#[test]
fn listed_origins_may_call_the_api_from_the_browser_and_others_may_not() {
    let t = TestServer::start(|c| {
        c.worker_token = Some("s3cret".into());
        c.read_token = Some("r".into());
        c.cors_origins = vec!["http://ui.example:5173".into()];
    });
    // The preflight is answered before the token check (browsers send no credentials
    // with it).
    let preflight = |origin: &str| {
        t.client
            .request(reqwest::Method::OPTIONS, t.url("/api/hints/1"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type,x-worker-token",
            )
            .send()
            .unwrap()
    };
    let ok = preflight("http://ui.example:5173");
    assert!(ok.status().is_success(), "{}", ok.status());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "http://ui.example:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-worker-token"));
    let other = preflight("http://evil.example");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Real requests: the listed origin gets the header, the token still decides.
    let get = |origin: &str, token: Option<&str>| {
        let mut request = t.client.get(t.url("/api/events")).header("origin", origin);
        if let Some(token) = token {
            request = request.header("cookie", format!("worker_token={token}"));
        }
        request.send().unwrap()
    };
    let r = get("http://ui.example:5173", Some("r"));
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://ui.example:5173"
    );
    assert_error(get("http://ui.example:5173", None), 401);
    let r = get("http://evil.example", Some("r"));
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_wildcard_or_a_path_is_not_an_origin() {
    for bad in ["*", "https://ui.example/app"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = refinery_server::ServerConfig::new(dir.path().to_path_buf());
        config.cors_origins = vec![bad.into()];
        let e = refinery_server::start(config, "127.0.0.1:0".parse().unwrap())
            .err()
            .expect("refused");
        assert!(e.to_string().contains("--cors-origin"), "{e}");
    }
}

/// PUTs a wheel as a worker does (`PUT /api/jobs/{id}/wheel`).
fn put_wheel(
    t: &TestServer,
    job: i64,
    filename: &str,
    bytes: Vec<u8>,
) -> reqwest::blocking::Response {
    t.client
        .put(t.url(&format!("/api/jobs/{job}/wheel")))
        .query(&[
            ("attempt", "1"),
            ("filename", filename),
            ("origin", "built"),
        ])
        .header("X-Worker-Token", "tok")
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .unwrap()
}

/// Hardening item 7: a worker publishes only its job's package and version, with a METADATA
/// that agrees, and a published file name never gets other bytes.
#[test]
fn a_worker_publishes_only_its_jobs_wheel_and_never_replaces_one() {
    let t = TestServer::start(|c| c.worker_token = Some("tok".into()));
    let (job, _) = t
        .server
        .state
        .store
        .enqueue(&spec("TinyExt", "1.0"))
        .unwrap();
    let claim: Value = t
        .post_token("/api/worker/claim", json!({"worker": "w1"}), "tok")
        .json()
        .unwrap();
    assert_eq!(claim["job"]["id"], job.id);
    let dir = tempfile::tempdir().unwrap();
    let read = |path: std::path::PathBuf| std::fs::read(path).unwrap();
    let name = "tinyext-1.0-py3-none-any.whl";

    // Another project, another version: not this job's.
    for (other, version) in [("otherpkg", "1.0"), ("tinyext", "2.0")] {
        let wheel = write_wheel(dir.path(), other, version, "py3-none-any", None);
        let filename = wheel.file_name().unwrap().to_str().unwrap().to_string();
        let e = assert_error(put_wheel(&t, job.id, &filename, read(wheel)), 400);
        assert_eq!(e["error"]["code"], "wrong_wheel", "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("job {}", job.id)), "{message}");
    }
    // The job's file name around another project's METADATA.
    let evil = write_wheel(dir.path(), "evil", "9.0", "py3-none-any", None);
    let e = assert_error(put_wheel(&t, job.id, name, read(evil)), 400);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("METADATA") && message.contains("evil"),
        "{message}"
    );
    assert!(
        !message.contains(&t.cache().display().to_string()),
        "{message}"
    );
    assert!(t.server.state.store.published().unwrap().is_empty());

    // The job's own wheel; the same bytes again are fine.
    let good = read(write_wheel(
        dir.path(),
        "tinyext",
        "1.0",
        "py3-none-any",
        None,
    ));
    let first: Value = put_wheel(&t, job.id, name, good.clone()).json().unwrap();
    let sha = first["published"]["sha256"].as_str().unwrap().to_string();
    let again = put_wheel(&t, job.id, name, good.clone());
    assert_eq!(again.status().as_u16(), 200);

    // Other bytes under the published name: refused, the first stays listed and served.
    let other_dir = tempfile::tempdir().unwrap();
    let changed = read(write_wheel(
        other_dir.path(),
        "tinyext",
        "1.0",
        "py3-none-any",
        Some(">=3.12"),
    ));
    assert_ne!(changed, good);
    let e = assert_error(put_wheel(&t, job.id, name, changed), 409);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("already published"), "{message}");
    // The code a worker mends by uploading under the next build number.
    assert_eq!(e["error"]["code"], "name_taken");
    let published = t.server.state.store.published().unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].sha256, sha);
    refinery_server::simple::refresh(&t.server.state);
    let served = t.get(&format!("/files/{sha}/{name}"));
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.bytes().unwrap().as_ref(), good.as_slice());
}

/// Hardening item 8: enqueues of one package racing over HTTP (released together by a
/// barrier, round after round) make one job, on SQLite and on PostgreSQL.
fn concurrent_enqueues(t: TestServer) {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 12;
    let barrier = std::sync::Barrier::new(CLIENTS);
    let answers = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let (t, barrier, answers) = (&t, &barrier, &answers);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let r = t.post(
                        "/api/queue/enqueue",
                        json!({"package": format!("race{round}"), "version": "1.0"}),
                    );
                    let status = r.status().as_u16();
                    let body: Value = r.json().unwrap();
                    answers.lock().unwrap().push((round, status, body));
                }
            });
        }
    });
    let answers = answers.into_inner().unwrap();
    for round in 0..ROUNDS {
        let of_round: Vec<_> = answers.iter().filter(|a| a.0 == round).collect();
        let ids: BTreeSet<i64> = of_round
            .iter()
            .map(|a| a.2["job"]["id"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(ids.len(), 1, "round {round}: {of_round:?}");
        let created: Vec<u16> = of_round.iter().map(|a| a.1).filter(|s| *s == 201).collect();
        assert_eq!(created.len(), 1, "round {round}: {of_round:?}");
        assert!(
            of_round.iter().all(|a| matches!(a.1, 200 | 201)),
            "{of_round:?}"
        );
    }
    assert_eq!(t.get_json("/api/queue/stats")["total"], ROUNDS);
}

#[test]
fn concurrent_enqueues_of_one_package_make_one_job() {
    concurrent_enqueues(TestServer::start(|_| {}));
}

#[test]
fn concurrent_enqueues_of_one_package_make_one_job_on_postgres() {
    let Some((store, _schema)) = postgres_store() else {
        return;
    };
    concurrent_enqueues(TestServer::start_on(Some(store), |_| {}));
}

/// The error code of a raw answer.
fn code_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().unwrap_or("").to_string()
}

/// Hardening item 3: a page of another origin (another port of the same host is
/// "same-site") cannot write, with or without the token cookie; a worker or the CLI (a
/// token in a header, no Origin) still can.
#[test]
fn writes_from_other_origins_are_refused() {
    for token in [None, Some("s3cret")] {
        let t = TestServer::start(|c| c.worker_token = token.map(String::from));
        t.server
            .state
            .store
            .enqueue(&spec("six", "1.16.0"))
            .unwrap();
        let host = t.server.addr.to_string();
        let cookie = token.map(|t| format!("worker_token={t}"));
        // No content type: a body-less `fetch(url, {method: "POST", credentials})`.
        let forged = |origin: Option<&str>, site: Option<&str>, content_type: &str| {
            let mut headers = vec![("Host", host.as_str())];
            let body = if content_type.is_empty() {
                ""
            } else {
                headers.push(("Content-Type", content_type));
                "{\"statuses\": [\"pending\"]}"
            };
            if let Some(origin) = origin {
                headers.push(("Origin", origin));
            }
            if let Some(site) = site {
                headers.push(("Sec-Fetch-Site", site));
            }
            if let Some(cookie) = &cookie {
                headers.push(("Cookie", cookie.as_str()));
            }
            // Even with the header forms cannot send: the origin decides first.
            headers.push(("X-Refinery-Request", "1"));
            t.raw_request("POST /api/queue/clear", &headers, body)
        };
        for (origin, site, content_type) in [
            (Some("http://127.0.0.1:3000"), Some("same-site"), ""),
            (
                Some("http://127.0.0.1:3000"),
                Some("same-site"),
                "text/plain",
            ),
            (Some("http://127.0.0.1:3000"), None, "application/json"),
            (
                Some("https://evil.example"),
                Some("cross-site"),
                "application/json",
            ),
            (Some("null"), None, "text/plain"),
            (None, Some("cross-site"), "text/plain"),
            (None, Some("same-site"), "application/json"),
        ] {
            let (status, body) = forged(origin, site, content_type);
            assert_eq!(status, 403, "{origin:?} {site:?}: {body}");
            assert_eq!(code_of(&body), "cross_origin", "{body}");
            assert!(body.contains("--cors-origin"), "{body}");
        }
        assert_eq!(
            t.get_json("/api/queue/stats")["cleared"],
            0,
            "nothing cleared"
        );
        // The server's own page may (the token, when there is one, still decides).
        let own = format!("http://{host}");
        let (status, body) = forged(Some(&own), Some("same-origin"), "application/json");
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.get_json("/api/queue/stats")["cleared"], 1);
        // A worker: a token header, no Origin.
        t.server.state.store.enqueue(&spec("regex", "1")).unwrap();
        let worker = t
            .client
            .post(t.url("/api/worker/claim"))
            .bearer_auth("s3cret")
            .json(&json!({"worker": "w1"}))
            .send()
            .unwrap();
        assert_eq!(worker.status().as_u16(), 200);
    }
    // Origins listed with --cors-origin may write (with the token).
    let t = TestServer::start(|c| {
        c.worker_token = Some("s3cret".into());
        c.cors_origins = vec!["http://ui.example:5173".into()];
    });
    let r = t
        .client
        .post(t.url("/api/queue/clear"))
        .header("Origin", "http://ui.example:5173")
        .header("Sec-Fetch-Site", "cross-site")
        .header("Cookie", "worker_token=s3cret")
        .header("X-Refinery-Request", "1")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://ui.example:5173"
    );
}

/// Hardening item 3: a browser's write (Origin, Sec-Fetch-Site or a cookie) needs a
/// header that HTML forms cannot send, so an old browser's forged form post fails too.
#[test]
fn a_browser_write_needs_a_header_forms_cannot_send() {
    let t = TestServer::start(|c| c.worker_token = Some("s3cret".into()));
    let host = t.server.addr.to_string();
    let cookie_post = |content_type: &str, marker: bool| {
        let mut headers = vec![
            ("Host", host.as_str()),
            ("Cookie", "worker_token=s3cret"),
            ("Content-Type", content_type),
        ];
        if marker {
            headers.push(("X-Refinery-Request", "1"));
        }
        t.raw_request("POST /api/queue/clear", &headers, "{}")
    };
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = cookie_post(content_type, false);
        assert_eq!(status, 403, "{content_type}: {body}");
        assert_eq!(code_of(&body), "request_header_missing", "{body}");
        assert!(body.contains("X-Refinery-Request"), "{body}");
        // With it the request reaches the endpoint (which then wants JSON, or nothing).
        let (status, body) = cookie_post(content_type, true);
        assert!(
            matches!(status, 200 | 415),
            "{content_type}: {status} {body}"
        );
    }
    // JSON cannot come from a form either.
    let (status, body) = cookie_post("application/json", false);
    assert_eq!(status, 200, "{body}");
    // An upload form of the server's own origin, without the header.
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), "tinypure", "1.0", "py3-none-any", None);
    let own = format!("http://{host}");
    let upload = |marker: bool| {
        let mut headers = vec![
            ("Origin", own.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
            ("Cookie", "worker_token=s3cret"),
        ];
        if marker {
            headers.push(("X-Refinery-Request", "1"));
        }
        t.upload_with(
            "/api/wheels/upload",
            "tinypure-1.0-py3-none-any.whl",
            "application/octet-stream",
            &std::fs::read(&wheel).unwrap(),
            &headers,
        )
    };
    assert_error(upload(false), 403);
    assert_eq!(upload(true).status().as_u16(), 201);
    // Clients that are not browsers are not asked for it.
    let r = t
        .client
        .post(t.url("/api/queue/clear"))
        .header("X-Worker-Token", "s3cret")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Hardening item 3: a forged `Host` (DNS rebinding: a page whose name points at this
/// address) is refused; loopback names with the port, the bound address and
/// `--allowed-host` names are served, and a valid token in a header passes under any name.
#[test]
fn forged_host_headers_are_refused() {
    let t = TestServer::start(|_| {});
    let port = t.server.addr.port();
    let get = |host: &str| t.raw_request("GET /api/queue/stats", &[("Host", host)], "");
    for ok in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST.:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = get(&ok);
        assert_eq!(status, 200, "{ok}: {body}");
    }
    for bad in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("localhost:{}", port.wrapping_add(1)),
        format!("10.0.0.5:{port}"),
        "not a host".to_string(),
    ] {
        let (status, body) = get(&bad);
        assert_eq!(status, 421, "{bad}: {body}");
        assert_eq!(code_of(&body), "unknown_host", "{body}");
        assert!(body.contains("--allowed-host"), "{body}");
    }
    // A rebinding page's write: refused before it does anything.
    t.server
        .state
        .store
        .enqueue(&spec("six", "1.16.0"))
        .unwrap();
    let evil = format!("evil.example:{port}");
    let (status, _) = t.raw_request(
        "POST /api/queue/clear",
        &[
            ("Host", &evil),
            ("Origin", &format!("http://{evil}")),
            ("Content-Type", "application/json"),
            ("X-Refinery-Request", "1"),
        ],
        "{\"statuses\": [\"pending\"]}",
    );
    assert_eq!(status, 421);
    assert_eq!(t.get_json("/api/queue/stats")["cleared"], 0);

    // Names given with --allowed-host: with any port, or only the one given.
    let t = TestServer::start(|c| {
        c.worker_token = Some("s3cret".into());
        c.allowed_hosts = vec!["refinery.example".into(), "build.example:8443".into()];
    });
    let get = |host: &str, extra: Option<(&str, &str)>| {
        let mut headers = vec![("Host", host)];
        headers.extend(extra);
        t.raw_request("GET /api/queue/stats", &headers, "").0
    };
    assert_eq!(get("refinery.example", None), 200);
    assert_eq!(get("Refinery.Example:443", None), 200);
    assert_eq!(get("build.example:8443", None), 200);
    assert_eq!(get("build.example:8080", None), 421);
    // A worker reaching the server under another name: its token vouches for it.
    assert_eq!(
        get("buildhost:8080", Some(("X-Worker-Token", "s3cret"))),
        200
    );
    assert_eq!(
        get("buildhost:8080", Some(("Authorization", "Bearer s3cret"))),
        200
    );
    assert_eq!(
        get("buildhost:8080", Some(("X-Worker-Token", "wrong"))),
        421
    );
    // The cookie does not: a browser sends it by itself.
    assert_eq!(
        get("buildhost:8080", Some(("Cookie", "worker_token=s3cret"))),
        421
    );
    // A bad name is refused at start.
    let dir = tempfile::tempdir().unwrap();
    let mut config = refinery_server::ServerConfig::new(dir.path().to_path_buf());
    config.allowed_hosts = vec!["https://refinery.example/".into()];
    let e = refinery_server::start(config, "127.0.0.1:0".parse().unwrap())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("--allowed-host"), "{e}");
}

/// Hardening item 9: `queue.db` deleted or replaced under the running server: health
/// answers 503 and says so (without the server's paths), and no write is acknowledged.
#[test]
fn a_deleted_or_replaced_queue_database_fails_health() {
    for replace in [false, true] {
        let t = TestServer::start(|_| {});
        let db = t.cache().join("queue.db");
        let enqueue = |package: &str| {
            t.post(
                "/api/queue/enqueue",
                json!({"package": package, "version": "1.0"}),
            )
        };
        assert_eq!(enqueue("six").status().as_u16(), 201);
        assert_eq!(t.get_json("/api/health")["status"], "ok");
        if replace {
            let copy = t.cache().join("queue.db.copy");
            std::fs::copy(&db, &copy).unwrap();
            std::fs::rename(&copy, &db).unwrap();
        } else {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(t.cache().join(format!("queue.db{suffix}")));
            }
        }
        let e = assert_error(t.get("/api/health"), 503);
        assert_eq!(e["error"]["code"], "database_replaced", "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        let what = if replace {
            "was replaced by another file"
        } else {
            "was deleted"
        };
        assert!(message.contains(what), "{message}");
        assert!(
            !message.contains(&t.cache().display().to_string()),
            "{message}"
        );
        assert_error(t.get("/healthz"), 503);
        // Writes are refused rather than acknowledged into a file that goes away.
        assert_error(enqueue("regex"), 503);
        assert_eq!(db.exists(), replace, "no new file was made");
    }
}

/// Hardening item 4: more idle and partial-header connections than the cap do not keep
/// `/api/health` out; the oldest idle one is pushed out to make room.
#[test]
fn idle_and_partial_connections_beyond_the_cap_do_not_starve_health() {
    use std::io::{Read, Write};
    let t = TestServer::start(|c| c.max_connections = 8);
    let addr = t.server.addr;
    let mut held = Vec::new();
    for i in 0..24 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        if i % 2 == 1 {
            write!(s, "GET /api/health HTTP/1.1\r\nHost: {addr}\r\nX-Half").unwrap();
        }
        held.push(s);
    }
    let r = t.get("/api/health");
    assert_eq!(r.status(), 200);
    // The first connection was pushed out: it reads end-of-stream, not a hang.
    let first = &mut held[0];
    first
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(first.read(&mut buf).unwrap(), 0);
}
