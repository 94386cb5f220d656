//! `refinery serve` as a process: SIGTERM ends it even while a live-log stream and a
//! half-sent request are open (hardening item 5).

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_refinery"))
        .args(["serve", "--port", "0", "--cache"])
        .arg(cache)
        .args(extra)
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
    let addr = loop {
        let line = rx.recv_timeout(GUARD).expect("serve says where it listens");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    (child, addr, rx)
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
