//! Pages of the dashboard that must agree, on the real server: clearing finished jobs
//! hides them from the Builds list only, a planned package that is not queued yet has a
//! page, and the queue stats say whether "Run worker now" can work.

mod common;

use common::*;
use refinery_store::queue::{JobSpec, JobStatus, Outcome, StoredPlan};
use serde_json::{json, Value};

/// A stored plan `id` with one `build` node per package (`name==1.0`).
fn save_plan(t: &TestServer, id: &str, packages: &[&str]) {
    let nodes: Vec<Value> = packages
        .iter()
        .map(|name| {
            json!({"id": format!("{name}==1.0"), "name": name, "version": "1.0",
                "action": "build", "reason": "only an sdist", "direct": true})
        })
        .collect();
    t.server
        .state
        .store
        .save_plan(&StoredPlan {
            id: id.into(),
            input_id: None,
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            summary: json!({"build": packages.len()}),
            body: json!({"nodes": nodes, "edges": []}),
            created_ms: 0,
        })
        .unwrap();
}

fn spec(package: &str, plan: Option<&str>) -> JobSpec {
    JobSpec {
        package: package.into(),
        version: "1.0".into(),
        python: "3.11".into(),
        platform_tag: "manylinux2014_s390x".into(),
        plan_id: plan.map(Into::into),
        ..JobSpec::default()
    }
}

fn listed(t: &TestServer, path: &str) -> Vec<String> {
    t.get_json(path)["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["package"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn clearing_finished_jobs_hides_them_from_the_builds_list_and_nowhere_else() {
    let t = TestServer::start(|_| {});
    let store = t.server.state.store.clone();
    save_plan(&t, "plan1", &["six", "idna"]);
    let six = store.enqueue(&spec("six", Some("plan1"))).unwrap().0;
    let job = store
        .claim("w", std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(job.id, six.id);
    store.append_log(job.id, job.attempt, "built it\n").unwrap();
    let verification = json!({"level": "import", "duration_secs": 1.0,
        "checks": [{"name": "import", "outcome": "passed", "duration_secs": 1.0}]});
    store
        .complete(
            job.id,
            job.attempt,
            &Outcome {
                status: JobStatus::Built,
                detail: String::new(),
                result: json!({"seconds": 12.5, "metadata": {"verification": verification}}),
            },
        )
        .unwrap();
    store.enqueue(&spec("idna", Some("plan1"))).unwrap();

    let cleared = t.post("/api/queue/clear", json!({}));
    assert_eq!(cleared.json::<Value>().unwrap()["cleared"], 1, "idna waits");

    // The Builds list leaves it out ...
    assert_eq!(listed(&t, "/api/queue?hide_cleared=true"), ["idna"]);
    // ... every page that says what happened still has it.
    assert_eq!(listed(&t, "/api/queue"), ["idna", "six"]);
    let stats = t.get_json("/api/queue/stats");
    assert_eq!(stats["by_class"]["built"], 1, "{stats}");
    assert_eq!(stats["by_class"]["waiting"], 1, "{stats}");
    assert_eq!(
        (stats["total"].as_u64(), stats["cleared"].as_u64()),
        (Some(2), Some(1))
    );
    let job = t.get_json(&format!("/api/jobs/{}", six.id))["job"].clone();
    assert_eq!(job["status"], "built");
    assert!(job["cleared_ms"].is_i64(), "{job}");
    let plan = t.get_json("/api/plans/plan1");
    assert_eq!(plan["jobs"].as_array().unwrap().len(), 2, "{plan}");
    assert_eq!(
        t.get(&format!("/api/jobs/{}/logs", six.id)).text().unwrap(),
        "built it\n"
    );
    let packages = t.get_json("/api/packages");
    let row = packages["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == "six")
        .unwrap()
        .clone();
    assert_eq!(row["status"], "built");
    assert_eq!(row["verification"]["outcome"], "passed", "{row}");
}

#[test]
fn a_planned_package_that_is_not_queued_has_a_page_that_says_so() {
    let t = TestServer::start(|_| {});
    save_plan(&t, "plan1", &["six", "idna"]);
    let page = t.get_json("/api/packages/Six");
    assert_eq!(page["name"], "six");
    assert_eq!(page["jobs"], json!([]));
    let planned = &page["plans"][0];
    assert_eq!(planned["plan_id"], "plan1");
    assert_eq!(planned["node"], "six==1.0");
    assert_eq!(planned["action"], "build");
    assert_eq!(planned["queued"], false, "{page}");
    // Once queued from that plan, the page says so.
    let store = t.server.state.store.clone();
    store.enqueue(&spec("six", Some("plan1"))).unwrap();
    assert_eq!(t.get_json("/api/packages/six")["plans"][0]["queued"], true);
    assert_eq!(
        t.get_json("/api/packages/idna")["plans"][0]["queued"],
        false
    );
    // A package no plan holds is still unknown.
    assert_error(t.get("/api/packages/sixx"), 404);
    // Plans keep the project's spelling; the page's name is normalized.
    save_plan(&t, "plan2", &["PyYAML", "ruamel.yaml"]);
    for (asked, node) in [
        ("pyyaml", "PyYAML==1.0"),
        ("ruamel-yaml", "ruamel.yaml==1.0"),
    ] {
        let page = t.get_json(&format!("/api/packages/{asked}"));
        assert_eq!(page["plans"][0]["node"], node, "{page}");
    }
}

#[test]
fn the_queue_stats_say_what_the_worker_trigger_can_do() {
    let t = TestServer::start(|_| {});
    assert_eq!(t.get_json("/api/queue/stats")["trigger"], "none");
    assert_error(t.post("/api/worker/trigger", json!({})), 409);
    let t = TestServer::start(|c| {
        c.local_worker = Some(refinery_worker::worker::WorkerOptions::new(
            c.cache.clone(),
            c.cache.join("envs"),
        ));
    });
    assert_eq!(t.get_json("/api/queue/stats")["trigger"], "local");
    let t = TestServer::start(|c| c.worker_webhook_url = Some("http://127.0.0.1:9/".into()));
    assert_eq!(t.get_json("/api/queue/stats")["trigger"], "webhook");
}
