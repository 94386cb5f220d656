//! `refinery serve` as a process: SIGTERM ends it even while a live-log stream and a
//! half-sent request are open (hardening item 5); it publishes without the system temp
//! folder (item 12); tokens come from files and short ones are warned about (item 14).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use refinery_store::queue::JobSpec;

/// Only a failure guard: the server is expected to be gone long before.
const GUARD: Duration = Duration::from_secs(120);

/// Starts `refinery serve` on 127.0.0.1 (a free port) with `extra` flags; returns the
/// process, its address and the rest of its stderr, line by line.
fn serve(cache: &std::path::Path, extra: &[&str]) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let (child, addr, _, rest) = serve_with_env(cache, extra, &[]);
    (child, addr, rest)
}

/// [`serve`] with extra environment variables; also returns the lines before the one
/// that says where it listens.
fn serve_with_env(
    cache: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, SocketAddr, Vec<String>, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refinery"))
        .args(["serve", "--port", "0", "--cache"])
        .arg(cache)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("DATABASE_URL")
        .env_remove("WORKER_TOKEN")
        .env_remove("READ_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut before = Vec::new();
    let addr = loop {
        let line = rx.recv_timeout(GUARD).expect("serve says where it listens");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
        before.push(line);
    };
    (child, addr, before, rx)
}

/// Opens a request and reads until the response head has arrived.
fn open_stream(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "the stream answered");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// Waits for the process to exit (within the guard); its exit status.
fn wait(mut child: Child) -> std::process::ExitStatus {
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(GUARD) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("refinery serve did not exit after SIGTERM");
        }
    }
}

#[test]
fn sigterm_ends_live_log_streams_and_half_sent_requests_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = refinery_store::open_queue(None, &cache).unwrap();
    let (job, _) = store
        .enqueue(&JobSpec {
            package: "six".into(),
            version: "1.16.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            ..JobSpec::default()
        })
        .unwrap();
    drop(store);
    // A short grace so the half-sent request is dropped soon; the stream must end at once.
    let (child, addr, stderr) = serve(&cache, &["--shutdown-grace", "1"]);
    let mut stream = open_stream(addr, &format!("/api/jobs/{}/logs/stream", job.id));
    let mut half = TcpStream::connect(addr).unwrap();
    write!(
        half,
        "POST /api/queue/clear HTTP/1.1\r\nHost: {addr}\r\nContent-Le"
    )
    .unwrap();
    half.flush().unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait(child);
    assert_eq!(status.code(), Some(0), "serve exits cleanly: {status:?}");

    // The live-log stream was ended by the server (EOF), not left hanging.
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let said: Vec<String> = stderr.iter().collect();
    assert!(said.iter().any(|l| l.contains("stopped")), "{said:?}");
}

/// A small wheel of `demo 1.0` with its METADATA.
fn demo_wheel() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in [
        ("demo/__init__.py", "VALUE = 1\n"),
        (
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ),
        (
            "demo-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        ("demo-1.0.dist-info/RECORD", ""),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// With a `TMPDIR` that does not exist, a worker's wheel is still published (the PEP 658
/// METADATA goes straight into the store) and listed by `/simple`. The worker token
/// comes from a file; a short one is warned about at start, and so is `--read-token`.
#[test]
fn publishes_without_the_system_temp_folder_and_reads_the_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("worker-token");
    std::fs::write(&token_file, "tok5x\n").unwrap();
    let (mut child, addr, before, lines) = serve_with_env(
        &dir.path().join("cache"),
        &[
            "--worker-token-file",
            token_file.to_str().unwrap(),
            "--read-token",
            "read-token-long-enough-0123",
        ],
        &[("TMPDIR", "/nonexistent/refinery-tmp")],
    );
    let client = reqwest::blocking::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(url(path))
            .header("X-Worker-Token", "tok5x")
            .json(&body)
            .send()
            .unwrap()
    };
    let r = post(
        "/api/queue/enqueue",
        serde_json::json!({"package": "demo", "version": "1.0"}),
    );
    assert_eq!(
        r.status(),
        201,
        "the token from the file is the worker token"
    );
    let claim: serde_json::Value = post(
        "/api/worker/claim",
        serde_json::json!({"worker": "w1", "host": "h1", "lease_secs": 60}),
    )
    .json()
    .unwrap();
    let job = claim["job"]["id"].as_i64().expect("a job");
    let r = client
        .put(url(&format!("/api/jobs/{job}/wheel")))
        .query(&[
            ("attempt", "1"),
            ("filename", "demo-1.0-py3-none-any.whl"),
            ("origin", "built"),
        ])
        .header("X-Worker-Token", "tok5x")
        .header("content-type", "application/octet-stream")
        .body(demo_wheel())
        .send()
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().unwrap());
    let page = client
        .get(url("/simple/demo/"))
        .header("X-Worker-Token", "tok5x")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("demo-1.0-py3-none-any.whl"), "{page}");
    assert!(
        page.contains("data-dist-info-metadata") || page.contains("data-core-metadata"),
        "the METADATA is served too (PEP 658): {page}"
    );
    // SIGTERM, then read what it said at start.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    // The reader ends at the end of stderr, when the process has exited.
    let said: Vec<String> = before.into_iter().chain(lines.iter()).collect();
    let said = said.join("\n");
    assert!(
        said.contains("WORKER_TOKEN has only 5 characters"),
        "{said}"
    );
    assert!(said.contains("--read-token shows in `ps`"), "{said}");
    assert!(
        !said.contains("tok5x"),
        "the token is never printed: {said}"
    );
}

/// The server's log on a pipe (a redirected file alike) is plain text: no ANSI colour
/// codes, and a reaped lease names its worker as it is, not as Rust's `Some("…")`.
#[test]
fn a_redirected_log_is_plain_text_and_names_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = refinery_store::open_queue(None, &cache).unwrap();
    store
        .enqueue(&JobSpec {
            package: "six".into(),
            version: "1.16.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            ..JobSpec::default()
        })
        .unwrap();
    // A worker that claimed it and went silent: its lease is over by the time the
    // server's reaper first looks (at start).
    let job = store
        .claim("w2slow", Duration::from_millis(1))
        .unwrap()
        .expect("a job to claim");
    drop(store);
    std::thread::sleep(Duration::from_millis(20));
    let (mut child, _addr, before, lines) = serve_with_env(&cache, &[], &[]);
    let mut said = before;
    let deadline = std::time::Instant::now() + GUARD;
    while !said.iter().any(|l| l.contains("lease expired")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => said.push(line),
            Err(_) => panic!("the reaper never logged the expired lease: {said:?}"),
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    said.extend(lines.iter());
    let line = said.iter().find(|l| l.contains("lease expired")).unwrap();
    assert!(
        line.contains(&format!("job={}", job.id)) && line.contains("worker=w2slow"),
        "{line}"
    );
    assert!(!line.contains("Some("), "{line}");
    assert!(
        !said.iter().any(|l| l.contains('\u{1b}')),
        "no ANSI escape codes in a redirected log: {said:?}"
    );
}
