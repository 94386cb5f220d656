//! A CLI run lands where the dashboard reads (issue 19): after `refinery --input … --cache
//! C` built a package and reused another, `refinery serve --cache C` lists the run's plan
//! under Plans, counts its build in the tiles (`/api/queue/stats`), has it as a finished
//! job for "Builds over time" (`/api/queue`) with its build log, like a worker's job. The
//! build is real (s390x, emulated): ignored by default, CI runs it with `--ignored`. The
//! packages are generated and served by a local index: no network.

mod common;

use std::time::Duration;

use common::{
    bookworm_rootfs, main_job_with_env, requirements, stderr, write_tiny_sdist, WheelSpec,
};
use refinery_index::testing::LocalIndex;
use serde_json::Value;

#[test]
#[ignore = "needs the s390x environment (refinery env create; REFINERY_ENVS_DIR)"]
fn a_cli_run_shows_in_serve_as_a_plan_and_finished_jobs() {
    bookworm_rootfs()
        .expect("needs the s390x environment (refinery env create; REFINERY_ENVS_DIR)");
    let root = tempfile::tempdir().unwrap();
    let index_dir = root.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_tiny_sdist(&index_dir, "clitiny", "1.0", 0);
    WheelSpec::new("clipure", "2.0", "py3-none-any").write(&index_dir);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(root.path(), "clitiny==1.0\nclipure==2.0\n");
    let (run, _out) = main_job_with_env(
        &input,
        root.path(),
        &[
            "--index-url",
            &index.url,
            "--python",
            "3.11",
            "--max-attempts",
            "1",
        ],
        &[],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let cache = root.path().join("cache");

    let server = refinery_server::start(
        refinery_server::ServerConfig::new(cache),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let get = |path: &str| -> Value {
        client
            .get(format!("{}{path}", server.url()))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };

    // Plans: the run's plan, with its counts and its DAG.
    let plans = get("/api/plans");
    let listed = plans["plans"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{plans}");
    let plan_id = listed[0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed[0]["summary"]["build"], 1, "{plans}");
    assert_eq!(listed[0]["summary"]["reuse"], 1, "{plans}");
    let plan = get(&format!("/api/plans/{plan_id}"));
    assert!(plan.to_string().contains("clitiny"), "{plan}");

    // The tiles: one built, one reused.
    let stats = get("/api/queue/stats");
    assert_eq!(stats["by_class"]["built"], 1, "{stats}");
    assert_eq!(stats["by_class"]["reused"], 1, "{stats}");
    assert_eq!(stats["depth"], 0, "nothing waits for a worker: {stats}");

    // "Builds over time": a finished job with its times, of the run's plan.
    let jobs = get("/api/queue?limit=100");
    let built = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["package"] == "clitiny")
        .unwrap_or_else(|| panic!("no job of clitiny: {jobs}"))
        .clone();
    assert_eq!(built["status"], "built", "{built}");
    assert_eq!(built["plan_id"], plan_id.as_str(), "{built}");
    let (started, finished) = (
        built["started_ms"].as_i64().unwrap(),
        built["finished_ms"].as_i64().unwrap(),
    );
    assert!(0 < started && started <= finished, "{built}");
    assert_eq!(built["result"]["wheel"], "clitiny-1.0-py3-none-any.whl");
    assert_eq!(built["result"]["origin"], "cli");

    // Its build log, as for a worker's job.
    let log = client
        .get(format!("{}/api/jobs/{}/logs", server.url(), built["id"]))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(log.contains("==> clitiny-1.0-attempt1-"), "{log}");
}
