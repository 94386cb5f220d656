//! The control plane end to end: the real server on 127.0.0.1:0, real `refinery worker`
//! processes, real s390x builds in the emulated rootfs (so these are ignored by default;
//! CI runs them with `--ignored`; the container test runs without). The package is a tiny
//! pure-Python sdist with an in-tree PEP 517 backend, generated here and served by a local
//! index: no network.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{bookworm_rootfs, envs_dir, write_tiny_sdist};
use refinery_index::testing::LocalIndex;
use serde_json::Value;

const NEEDS_ENV: &str = "needs the s390x environment (refinery env create; REFINERY_ENVS_DIR)";

struct Plane {
    _dir: tempfile::TempDir,
    cache: PathBuf,
    /// The package index the control plane and its workers read (a local one, or PyPI).
    index_url: String,
    _local_index: Option<LocalIndex>,
    server: refinery_server::RunningServer,
    client: reqwest::blocking::Client,
}

impl Plane {
    /// A control plane whose index holds the tiny sdist `package` 1.0 (its build takes
    /// `ticks` half seconds), and the job its upload queued.
    fn with_job(package: &str, ticks: u32) -> (Plane, i64) {
        bookworm_rootfs().expect(NEEDS_ENV);
        let root = tempfile::tempdir().unwrap();
        let index_dir = root.path().join("index");
        std::fs::create_dir_all(&index_dir).unwrap();
        write_tiny_sdist(&index_dir, package, "1.0", ticks);
        let plane = Plane::start(&index_dir, root);
        let input = plane.upload_requirements(&format!("{package}==1.0\n"));
        let job = plane.wait_for_job(input, package);
        (plane, job)
    }

    fn start(index_dir: &Path, root: tempfile::TempDir) -> Plane {
        let index = LocalIndex::serve_dir(index_dir).unwrap();
        let mut plane = Plane::on_index(&index.url, root);
        plane._local_index = Some(index);
        plane
    }

    /// A control plane (and its workers) reading the package index at `index_url`.
    fn on_index(index_url: &str, root: tempfile::TempDir) -> Plane {
        let cache = root.path().join("cache");
        let mut config = refinery_server::ServerConfig::new(cache.clone());
        config.index.index_url = index_url.to_string();
        config.reap_interval = Duration::from_millis(500);
        config.auto_plan = Some(true);
        config.auto_build = Some(true);
        let server = refinery_server::start(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        Plane {
            _dir: root,
            cache,
            index_url: index_url.to_string(),
            _local_index: None,
            server,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    fn json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    fn upload_requirements(&self, text: &str) -> i64 {
        let boundary = "b0undary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"requirements.txt\"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n"
        );
        let r = self
            .client
            .post(self.url("/api/requirements/upload"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["input"]["id"].as_i64().unwrap()
    }

    /// Waits until the input's job for `package` exists; returns its id.
    fn wait_for_job(&self, input: i64, package: &str) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let v = self.json(&format!("/api/pending-inputs/{input}"));
            let status = v["input"]["status"].as_str().unwrap_or("").to_string();
            assert_ne!(status, "failed", "planning failed: {v}");
            if status == "build_queued" {
                let jobs = self.json(&format!("/api/queue?package={package}"));
                if let Some(job) = jobs["jobs"].as_array().and_then(|j| j.first()) {
                    return job["id"].as_i64().unwrap();
                }
            }
            assert!(Instant::now() < deadline, "no job: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn job(&self, id: i64) -> Value {
        self.json(&format!("/api/jobs/{id}"))["job"].clone()
    }

    fn job_log(&self, id: i64) -> String {
        self.client
            .get(self.url(&format!("/api/jobs/{id}/logs")))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// The index's page of `project`, after the index took in what was just published.
    fn index_page(&self, project: &str) -> String {
        refinery_server::simple::refresh(&self.server.state);
        self.client
            .get(self.url(&format!("/simple/{project}/")))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// `pip download` of `requirement` from this control plane's index, as an s390x
    /// CPython 3.11 would (wheels only, no dependencies); returns the download folder.
    fn pip_download(&self, requirement: &str) -> PathBuf {
        let dest = self.cache.parent().unwrap().join("pip-download");
        let pip = Command::new("pip")
            .args(["download", "--no-cache-dir", "--disable-pip-version-check"])
            .args(["--no-deps", "--only-binary=:all:", "--index-url"])
            .arg(self.url("/simple/"))
            .args([
                "--platform",
                "manylinux2014_s390x",
                "--python-version",
                "3.11",
            ])
            .arg("-d")
            .arg(&dest)
            .arg(requirement)
            .output()
            .unwrap();
        assert!(
            pip.status.success(),
            "{}",
            String::from_utf8_lossy(&pip.stderr)
        );
        dest
    }

    /// Waits until the job's log holds `needle` (the build reached that point).
    fn wait_for_log(&self, job: i64, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let log = self.job_log(job);
            if log.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "never logged {needle:?}: {log}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// A worker on another machine: its own `cache`, the control plane over HTTP.
    fn remote_worker(&self, id: &str, cache: &Path) -> Child {
        self.remote_worker_with(id, cache, &[])
    }

    /// [`Plane::remote_worker`] with `extra` arguments.
    fn remote_worker_with(&self, id: &str, cache: &Path, extra: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_refinery"))
            .args(["worker", "--server", &self.server.url(), "--cache"])
            .arg(cache)
            .args(["--index-url", &self.index_url, "--worker-id", id])
            .args(extra)
            .env("REFINERY_ENVS_DIR", envs_dir())
            .env_remove("DATABASE_URL")
            .env_remove("AUTO_BUILD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn worker(&self, id: &str, extra: &[&str]) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_refinery"));
        cmd.args(["worker", "--cache"])
            .arg(&self.cache)
            .args(["--index-url", &self.index_url, "--worker-id", id])
            .args(extra)
            .env("REFINERY_ENVS_DIR", envs_dir())
            .env_remove("DATABASE_URL")
            .env_remove("AUTO_BUILD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    }
}

fn wait_output(child: Child, limit: Duration) -> std::process::Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit)
        .expect("the worker finished in time")
        .unwrap()
}

/// Follows an SSE stream; sends (event, data) pairs.
fn follow(url: String) -> mpsc::Receiver<(String, String)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap();
        let Ok(response) = client.get(&url).send() else {
            return;
        };
        let mut event = String::new();
        let mut data = Vec::new();
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            if line.is_empty() {
                if !data.is_empty()
                    && tx
                        .send((std::mem::take(&mut event), data.join("\n")))
                        .is_err()
                {
                    return;
                }
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
            }
        }
    });
    rx
}

#[test]
#[ignore = "needs the s390x environment"]
fn upload_plan_build_built_and_pip_downloads_from_our_index() {
    let (plane, job) = Plane::with_job("tinypkg", 0);
    assert_eq!(plane.job(job)["status"], "pending");
    let out = wait_output(plane.worker("w-one", &[]), Duration::from_secs(900));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 jobs, 1 succeeded"),
        "{stderr}"
    );
    let done = plane.job(job);
    assert_eq!(done["status"], "built", "{done}\n{stderr}");
    assert_eq!(done["attempt"], 1);
    assert_eq!(done["result"]["worker"], "w-one");
    let log = plane
        .client
        .get(plane.url("/api/logs/tinypkg/1.0"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        log.contains("[refinery-verify] ok") || log.contains("imports"),
        "{log}"
    );
    // History: the attempt and the events are in the server's database.
    let package = plane.json("/api/packages/tinypkg");
    assert_eq!(package["attempts"][0]["status"], "success", "{package}");
    // The wheel is in the index, served from the store; pip fetches it, hash-checked.
    let page = plane.index_page("tinypkg");
    assert!(
        page.contains("tinypkg-1.0-py3-none-any.whl#sha256="),
        "{page}"
    );
    let dest = plane.pip_download("tinypkg");
    assert!(dest.join("tinypkg-1.0-py3-none-any.whl").is_file());
    // And the static copy of the index.
    let static_out = plane.cache.parent().unwrap().join("static");
    let index = common::refinery(
        &[
            "index",
            "--cache",
            plane.cache.to_str().unwrap(),
            "--output",
            static_out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(index.status.success(), "{}", common::stderr(&index));
    assert!(static_out.join("simple/tinypkg/index.html").is_file());
}

#[test]
#[ignore = "needs the s390x environment"]
fn a_worker_verifies_at_the_level_and_with_the_smoke_tests_it_is_given() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let root = tempfile::tempdir().unwrap();
    let index_dir = root.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_tiny_sdist(&index_dir, "tinyverify", "1.0", 0);
    // The worker's own catalog: a smoke test that passes and a self-test that assumes a
    // little-endian machine, which s390x is not.
    let catalog = root.path().join("my-smoke.toml");
    std::fs::write(
        &catalog,
        "[[smoke]]\nid = \"tinyverify\"\npackage = \"tinyverify\"\nsnippet = \"import tinyverify\\nassert tinyverify.VALUE == 42\"\ntests = \"import sys\\nassert sys.byteorder == 'little', 'assumes ' + sys.byteorder\"\n",
    )
    .unwrap();
    let plane = Plane::start(&index_dir, root);
    let input = plane.upload_requirements("tinyverify==1.0\n");
    let job = plane.wait_for_job(input, "tinyverify");
    let out = wait_output(
        plane.worker(
            "w-verify",
            &[
                "--verify",
                "tests",
                "--smoke-tests",
                catalog.to_str().unwrap(),
                "--verify-timeout",
                "120",
                "--max-attempts",
                "1",
            ],
        ),
        Duration::from_secs(900),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let done = plane.job(job);
    assert_eq!(done["status"], "failed", "{done}\n{stderr}");
    let verification = &done["result"]["metadata"]["verification"];
    assert_eq!(verification["level"], "tests", "{done}");
    let checks: Vec<String> = verification["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {done}"))
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            "install passed",
            "import passed",
            "smoke:tinyverify passed",
            "tests:tinyverify failed"
        ],
        "{done}"
    );
    let detail = done["detail"].as_str().unwrap();
    assert!(detail.contains("tests:tinyverify failed"), "{detail}");
    assert!(detail.contains("assumes big"), "{detail}");
    let log = plane.job_log(job);
    assert!(
        log.contains("--- tests:tinyverify (limit 120 s) ---"),
        "{log}"
    );
}

#[test]
#[ignore = "needs the s390x environment"]
fn a_killed_worker_loses_its_lease_and_another_worker_completes_the_job() {
    let (plane, job) = Plane::with_job("slowpkg", 40);
    let events = follow(plane.url("/api/logs/slowpkg/1.0/stream"));

    let mut first = plane.worker("w-doomed", &["--lease-secs", "4", "--heartbeat-secs", "1"]);
    // SSE delivers lines while the build runs.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut lines_while_building = 0;
    while lines_while_building < 3 {
        assert!(Instant::now() < deadline, "no log lines while building");
        if let Ok((event, data)) = events.recv_timeout(Duration::from_secs(5)) {
            assert_eq!(event, "log", "{data}");
            if plane.job(job)["status"] == "building" {
                lines_while_building += 1;
            }
        }
    }
    // Wait until the build step itself runs, then kill -9.
    plane.wait_for_log(job, "[refinery] build slowpkg");
    let held = plane.job(job);
    assert_eq!(held["lease_owner"], "w-doomed");
    assert_eq!(held["attempt"], 1);
    first.kill().unwrap(); // SIGKILL
    let _ = first.wait();

    // The lease expires (no heartbeats) and the job goes back to the queue.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let current = plane.job(job);
        if current["status"] == "retry" {
            assert_eq!(current["restarts"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "never re-queued: {current}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The rescuer is a remote worker: its own cache, the control plane over HTTP.
    let remote_cache = plane.cache.parent().unwrap().join("remote-worker-cache");
    let rescuer = plane.remote_worker("w-rescuer", &remote_cache);
    let out = wait_output(rescuer, Duration::from_secs(900));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let done = plane.job(job);
    assert_eq!(done["status"], "built", "{done}\n{stderr}");
    assert_eq!(done["attempt"], 2);
    assert_eq!(done["result"]["worker"], "w-rescuer");
    let log = plane.job_log(job);
    assert!(
        log.contains("lease of worker w-doomed on attempt 1 expired"),
        "{log}"
    );
    assert!(log.contains("w-rescuer claimed job"), "{log}");
    // The remote worker's wheel is in the control plane's store and index, and its
    // history reached the control plane's database.
    let page = plane.index_page("slowpkg");
    assert!(
        page.contains("slowpkg-1.0-py3-none-any.whl#sha256="),
        "{page}"
    );
    let package = plane.json("/api/packages/slowpkg");
    assert!(
        package["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["status"] == "success"
                && a["run_id"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("-attempt-2"))),
        "{package}"
    );
    // The attempt lost with the killed worker is in the package's history too: neutral,
    // not counted as a failure.
    let lost: Vec<_> = package["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "lost")
        .collect();
    assert_eq!(lost.len(), 1, "{package}");
    assert_eq!(lost[0]["worker"], "w-doomed", "{package}");
    assert_eq!(
        lost[0]["run_id"],
        format!("job-{job}-attempt-1"),
        "{package}"
    );
    assert_eq!(package["failures"], serde_json::json!([]), "{package}");
    // The stream ends with the job.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (event, data) = events
            .recv_timeout(Duration::from_secs(30))
            .expect("the end event");
        if event == "end" {
            assert!(data.contains("\"built\""), "{data}");
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let metrics = plane
        .client
        .get(plane.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("refinery_queue_jobs{state=\"built\"} 1"),
        "{metrics}"
    );
    let _ = std::io::stderr().flush();
}

/// Two workers build the same sdist into other bytes (the test backend writes a random
/// build id into each wheel): the second upload is refused `409 name_taken`, and that worker
/// publishes under the next build number with its records (provenance, build record)
/// describing the published file.
#[test]
#[ignore = "needs the s390x environment"]
fn a_second_build_of_a_published_name_takes_the_next_build_number_and_its_records_follow() {
    let (plane, first) = Plane::with_job("tinyname", 0);
    let out = wait_output(plane.worker("w-first", &[]), Duration::from_secs(900));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = plane.job(first);
    assert_eq!(first["status"], "built", "{first}");
    assert_eq!(first["result"]["wheel"], "tinyname-1.0-py3-none-any.whl");

    // Asked for again (one package, not a plan): built again by a remote worker.
    let enqueued: Value = plane
        .client
        .post(plane.url("/api/queue/enqueue"))
        .json(&serde_json::json!({
            "package": "tinyname", "version": "1.0", "python": "3.11",
            "platform_tag": "manylinux2014_s390x",
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(enqueued["created"], true, "{enqueued}");
    let second = enqueued["job"]["id"].as_i64().unwrap();
    let remote_cache = plane.cache.parent().unwrap().join("second-worker-cache");
    let worker = plane.remote_worker("w-second", &remote_cache);
    let out = wait_output(worker, Duration::from_secs(900));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let second = plane.job(second);
    assert_eq!(second["status"], "built", "{second}\n{stderr}");
    let result = &second["result"];
    assert_eq!(
        result["wheel"], "tinyname-1.0-1-py3-none-any.whl",
        "{second}"
    );
    assert_ne!(result["sha256"], first["result"]["sha256"], "{second}");
    assert_eq!(result["published"]["filename"], result["wheel"], "{second}");

    // The worker's records describe the published file, not the one the server refused.
    let sha = result["sha256"].as_str().unwrap();
    let link = result["metadata"]["provenance"].as_str().unwrap();
    let (relative, _) = link.split_once(" sha256:").unwrap();
    assert!(relative.contains(sha), "{link}");
    let statement: Value =
        serde_json::from_slice(&std::fs::read(remote_cache.join(relative)).unwrap()).unwrap();
    assert_eq!(
        statement["subject"][0]["name"], result["wheel"],
        "{statement}"
    );
    assert_eq!(statement["subject"][0]["digest"]["sha256"], sha);
    let record = refinery_build::build_record::read(&remote_cache, sha).expect("build record");
    assert_eq!(record.provenance.as_deref(), Some(link));

    // Both are in the index; pip takes the build-numbered one (PEP 427: higher build tag).
    let page = plane.index_page("tinyname");
    assert!(
        page.contains("tinyname-1.0-py3-none-any.whl#sha256=")
            && page.contains("tinyname-1.0-1-py3-none-any.whl#sha256="),
        "{page}"
    );
    let dest = plane.pip_download("tinyname==1.0");
    assert!(dest.join("tinyname-1.0-1-py3-none-any.whl").is_file());
}

/// No process mentions `needle` (a build's folder) within 10 s: a stopped build's whole
/// process tree is gone.
fn assert_nothing_of_the_build_survives(needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_mentioning(needle), Vec::<String>::new());
}

/// Processes whose command line mentions `needle` (other than this test's).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.chars().all(|c| c.is_ascii_digit()) && name != me
        })
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(needle)
                .then(|| format!("{}: {line}", e.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
#[ignore = "needs the s390x environment"]
fn cancelling_a_running_build_kills_it_and_the_worker_moves_on() {
    // Ten minutes of build unless it is stopped.
    let (plane, job) = Plane::with_job("stuckpkg", 1200);
    let worker = plane.worker("w-cancel", &["--heartbeat-secs", "1"]);

    // Wait until the package's own build hook is running.
    plane.wait_for_log(job, "tinybackend tick 2");
    assert!(
        !processes_mentioning("stuckpkg-1.0").is_empty(),
        "the build runs"
    );
    let r = plane
        .client
        .post(plane.url(&format!("/api/jobs/{job}/cancel")))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // The worker stops the build instead of waiting ten minutes, reports the job
    // cancelled and, with the queue drained, exits.
    let out = wait_output(worker, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let done = plane.job(job);
    assert_eq!(done["status"], "cancelled", "{done}\n{stderr}");
    let log = plane.job_log(job);
    assert!(log.contains("cancellation requested"), "{log}");
    assert!(log.contains("[refinery] stopped"), "{log}");
    assert!(!log.contains("tinybackend tick 1199"), "{log}");
    assert_nothing_of_the_build_survives("stuckpkg-1.0");
    // A cancelled attempt is not a failure of the package.
    let package = plane.json("/api/packages/stuckpkg");
    let attempts = package["attempts"].as_array().unwrap();
    assert!(
        !attempts.is_empty() && attempts.iter().all(|a| a["status"] == "cancelled"),
        "{package}"
    );
    let kinds: Vec<&str> = package["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"cancelled") && !kinds.contains(&"failure"),
        "{kinds:?}"
    );
}

/// SIGTERM (a service manager stopping the worker) stops the build and hands the job back
/// to the queue at once, instead of leaving it leased until its lease runs out; the next
/// worker builds it.
#[test]
#[ignore = "needs the s390x environment"]
fn a_worker_stopped_with_sigterm_hands_its_job_back() {
    // Ten minutes of build unless it is stopped.
    let (plane, job) = Plane::with_job("termpkg", 1200);
    // A lease far longer than the test: only the hand-back can free the job in time.
    let worker = plane.worker("w-term", &["--lease-secs", "3600"]);
    plane.wait_for_log(job, "tinybackend tick 2");
    let kill = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait_output(worker, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 handed back"),
        "{stderr}"
    );
    let back = plane.job(job);
    assert_eq!(back["status"], "retry", "{back}\n{stderr}");
    assert!(back["lease_owner"].is_null(), "{back}");
    assert!(
        back["detail"].as_str().unwrap().contains("shut down"),
        "{back}"
    );
    let log = plane.job_log(job);
    assert!(log.contains("w-term is shutting down"), "{log}");
    assert_nothing_of_the_build_survives("termpkg-1.0");
    // The next worker claims it at once (attempt 2); it is stopped again by a cancel so
    // the test does not wait twenty minutes.
    let next = plane.worker("w-next", &["--heartbeat-secs", "1"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let current = plane.job(job);
        if current["lease_owner"] == "w-next" {
            assert_eq!(current["attempt"], 2, "{current}");
            break;
        }
        assert!(Instant::now() < deadline, "never claimed again: {current}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = plane
        .client
        .post(plane.url(&format!("/api/jobs/{job}/cancel")))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let out = wait_output(next, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(plane.job(job)["status"], "cancelled");
}

/// `--no-binary` in an uploaded requirements file reaches the worker: the index has a
/// wheel of the package, the plan builds it from the sdist, and so does the job (its
/// worker plans the one package again, with the plan's decision).
#[test]
#[ignore = "needs the s390x environment"]
fn a_plans_no_binary_is_built_from_the_sdist_by_the_worker() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let root = tempfile::tempdir().unwrap();
    let index_dir = root.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_tiny_sdist(&index_dir, "tinysrc", "1.0", 0);
    common::WheelSpec::new("tinysrc", "1.0", "py3-none-any").write(&index_dir);
    let plane = Plane::start(&index_dir, root);
    let input = plane.upload_requirements("--no-binary tinysrc\ntinysrc==1.0\n");
    let job = plane.wait_for_job(input, "tinysrc");
    // A worker on another machine reads the plan over HTTP.
    let remote_cache = plane.cache.parent().unwrap().join("src-worker-cache");
    let out = wait_output(
        plane.remote_worker("w-src", &remote_cache),
        Duration::from_secs(900),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = plane.job(job);
    assert_eq!(done["status"], "built", "{done}");
    let log = plane.job_log(job);
    assert!(log.contains("[refinery] build tinysrc"), "{log}");
}

/// No container engine runs on the CI machines, so this one records how it was called
/// and fails: enough to show which environment a worker builds in.
#[test]
fn a_worker_builds_in_the_container_image_it_is_given() {
    let root = tempfile::tempdir().unwrap();
    let index_dir = root.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_tiny_sdist(&index_dir, "boxed", "1.0", 0);
    let calls = root.path().join("engine-calls.txt");
    let engine = root.path().join("fake-engine");
    std::fs::write(
        &engine,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\necho 'fake-engine: no containers here' >&2\nexit 3\n",
            calls.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&engine).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&engine, permissions).unwrap();
    let plane = Plane::start(&index_dir, root);
    let input = plane.upload_requirements("boxed==1.0\n");
    let job = plane.wait_for_job(input, "boxed");
    let worker = plane.worker(
        "w-box",
        &[
            "--container-image",
            "localhost/box:1",
            "--container-engine",
            engine.to_str().unwrap(),
            "--accelerate",
            "off",
        ],
    );
    let out = wait_output(worker, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let done = plane.job(job);
    assert_eq!(done["status"], "failed", "{done}");
    let log = plane.job_log(job);
    assert!(log.contains("fake-engine: no containers here"), "{log}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    let build = calls.lines().next().unwrap_or_default();
    assert!(
        build.starts_with("run --rm --platform linux/s390x --network=host"),
        "{calls}"
    );
    assert!(build.contains("localhost/box:1 python3.11"), "{calls}");
    assert!(
        !calls.contains("/opt/refinery-cross"),
        "--accelerate off: {calls}"
    );
}

/// The scale-out mode on real PyPI projects: two C extensions built from their sdists by
/// workers on other machines (over HTTP, each with its own cache), one of them killed in
/// the middle of a build; the lost attempt is in the history, the job is built by the
/// next worker, and pip takes both wheels from the control plane's index.
#[test]
#[ignore = "needs network (PyPI) and emulation"]
fn remote_workers_build_pypi_sdists_through_a_killed_worker_and_pip_takes_them() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let plane = Plane::on_index("https://pypi.org/simple", tempfile::tempdir().unwrap());
    let input = plane
        .upload_requirements("--no-binary markupsafe,pyyaml\nmarkupsafe==2.1.5\npyyaml==6.0.2\n");
    let markupsafe = plane.wait_for_job(input, "markupsafe");
    let pyyaml = plane.wait_for_job(input, "pyyaml");
    let root = plane.cache.parent().unwrap().to_path_buf();

    // The first worker dies while it compiles the first job it took.
    let mut doomed = plane.remote_worker_with(
        "w-doomed",
        &root.join("doomed-cache"),
        &["--lease-secs", "5", "--heartbeat-secs", "1"],
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let taken = loop {
        let held = [markupsafe, pyyaml]
            .into_iter()
            .find(|id| plane.job(*id)["lease_owner"] == "w-doomed");
        if let Some(id) = held {
            break id;
        }
        assert!(Instant::now() < deadline, "w-doomed took no job");
        std::thread::sleep(Duration::from_millis(200));
    };
    let package = plane.job(taken)["package"].as_str().unwrap().to_string();
    plane.wait_for_log(taken, &format!("[refinery] build {package}"));
    doomed.kill().unwrap();
    let _ = doomed.wait();
    // Its lease runs out and the job goes back to the queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    while plane.job(taken)["status"] != "retry" {
        assert!(
            Instant::now() < deadline,
            "never re-queued: {}",
            plane.job(taken)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = wait_output(
        plane.remote_worker("w-next", &root.join("next-cache")),
        Duration::from_secs(1200),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for id in [markupsafe, pyyaml] {
        let done = plane.job(id);
        assert_eq!(done["status"], "built", "{done}\n{stderr}");
        assert_eq!(done["result"]["worker"], "w-next", "{done}");
    }
    assert_eq!(plane.job(taken)["attempt"], 2);
    let history = plane.json(&format!("/api/packages/{package}"));
    let statuses: Vec<&str> = history["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["status"].as_str())
        .collect();
    assert!(
        statuses.contains(&"lost") && statuses.contains(&"success"),
        "{history}"
    );
    // Lost is not failed (a failure there would be a hint's retry, e.g. pyyaml's libyaml).
    assert!(
        history["failures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["worker"] != "w-doomed"),
        "{history}"
    );

    // pip, as an s390x CPython 3.11 asks for them, takes our manylinux2014 wheels.
    let dest = plane.pip_download("markupsafe==2.1.5");
    let dest_yaml = plane.pip_download("pyyaml==6.0.2");
    assert_eq!(dest, dest_yaml);
    let mut names: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("markupsafe-2.1.5-cp311-cp311-manylinux")
            // PyPI has an s390x wheel of that name: ours takes build number 1.
            && names[1].starts_with("pyyaml-6.0.2-1-cp311-cp311-manylinux")
            && names.iter().all(|n| n.contains("manylinux2014_s390x")),
        "{names:?}"
    );
}
