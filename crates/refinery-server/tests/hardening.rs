//! The control plane under hostile or unlucky conditions (issue "Harden the control
//! plane"): stranded plans, a flood of uploads, slow and cut uploads, huge wheels, a full
//! disk, a deleted history, token guessing. Each test runs a real server on 127.0.0.1.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{assert_error, write_wheel, TestServer};
use refinery_store::queue::{InputStatus, NewInput, QueueStore};
use serde_json::{json, Value};

fn upload_requirements(t: &TestServer, text: &str) -> reqwest::blocking::Response {
    t.upload(
        "/api/requirements/upload",
        "requirements.txt",
        "text/plain",
        text.as_bytes(),
    )
}

/// An input a server left `planning` when it stopped: the next server gives it back as
/// `pending` (with a note) and it can be planned again, on SQLite and PostgreSQL.
fn stranded_planning_is_recovered(store: Option<std::sync::Arc<dyn QueueStore>>) {
    let stranded = {
        let t = TestServer::start_on(store.clone(), |_| {});
        let store = t.server.state.store.clone();
        let input = store
            .create_input(&NewInput {
                kind: "requirements".into(),
                filename: "requirements.txt".into(),
                path: "inputs/v1/x/requirements.txt".into(),
                size: 4,
                sha256: "ab".repeat(32),
            })
            .unwrap();
        // The state a server killed mid-plan leaves behind.
        store
            .transition_input(
                input.id,
                &[InputStatus::Pending],
                InputStatus::Planning,
                None,
                "",
            )
            .unwrap();
        let r = t.post(
            &format!("/api/pending-inputs/{}/enqueue-plan", input.id),
            json!({}),
        );
        assert_eq!(r.status(), 409, "a planning input cannot be planned again");
        (input.id, t.dir)
    };
    let (id, dir) = stranded;
    // A new server on the same store.
    let t = match store {
        Some(store) => TestServer::start_on(Some(store), |_| {}),
        None => {
            let cache = dir.path().join("cache");
            TestServer::start(|c| {
                c.cache = cache.clone();
                c.history_db = cache.join("history.db");
            })
        }
    };
    let input = &t.get_json(&format!("/api/pending-inputs/{id}"))["input"];
    assert_eq!(input["status"], "pending", "{input}");
    assert!(
        input["error"]
            .as_str()
            .unwrap()
            .contains("stopped while planning"),
        "{input}"
    );
    let r = t.post(&format!("/api/pending-inputs/{id}/enqueue-plan"), json!({}));
    assert_eq!(r.status(), 202, "it can be planned again");
}

#[test]
fn an_input_left_planning_is_given_back_at_start() {
    stranded_planning_is_recovered(None);
}

#[test]
fn an_input_left_planning_is_given_back_at_start_on_postgres() {
    let Some((store, _schema)) = common::postgres_store() else {
        return;
    };
    stranded_planning_is_recovered(Some(store));
}

/// A ZIP whose directory claims `members` entries (ZIP64 record), with no members: what
/// a 200,000-member wheel looks like to the first check.
fn zip_claiming(members: u64) -> Vec<u8> {
    let mut z = Vec::new();
    let record_offset = 0u64;
    z.extend_from_slice(b"PK\x06\x06");
    z.extend_from_slice(&44u64.to_le_bytes());
    z.extend_from_slice(&[0u8; 20]);
    z.extend_from_slice(&members.to_le_bytes());
    z.extend_from_slice(&members.to_le_bytes());
    z.extend_from_slice(&[0u8; 16]);
    z.extend_from_slice(b"PK\x06\x07");
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(&record_offset.to_le_bytes());
    z.extend_from_slice(&1u32.to_le_bytes());
    z.extend_from_slice(b"PK\x05\x06");
    z.extend_from_slice(&[0u8; 4]);
    z.extend_from_slice(&0xFFFFu16.to_le_bytes());
    z.extend_from_slice(&0xFFFFu16.to_le_bytes());
    z.extend_from_slice(&[0u8; 10]);
    z
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Uploads stream to disk under a cap on how many run at once; a cut upload leaves
/// nothing; a wheel that claims 200,000 members is refused before it is opened.
#[test]
fn uploads_are_streamed_capped_and_cleaned_up() {
    let t = TestServer::start(|c| {
        c.max_concurrent_uploads = 1;
        c.upload_slot_wait = Duration::from_millis(300);
    });
    let addr = t.server.addr.to_string();
    // A slow client: the head and half of its body, then nothing.
    let boundary = "XyZ";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"requirements.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    );
    let mut slow = TcpStream::connect(t.server.addr).unwrap();
    write!(
        slow,
        "POST /api/requirements/upload HTTP/1.1\r\nHost: {addr}\r\nX-Refinery-Request: 1\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 100000\r\n\r\n\
         {head}six==1.16.0\n"
    )
    .unwrap();
    slow.flush().unwrap();
    // Wait until its bytes are being spooled.
    let spool_dir = t.cache().join("tmp").join("uploads");
    let spooling = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        !files_under(&spool_dir).is_empty()
    });
    assert!(spooling, "the slow upload is spooled to the cache");
    let r = upload_requirements(&t, "six==1.16.0\n");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let e = assert_error(r, 503);
    assert_eq!(e["error"]["code"], "uploads_busy", "{e}");
    // The slow client goes away: its part file goes too, and the slot is free again.
    drop(slow);
    let cleaned = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        files_under(&spool_dir).is_empty()
    });
    assert!(cleaned, "left behind: {:?}", files_under(&spool_dir));
    assert_eq!(upload_requirements(&t, "six==1.16.0\n").status(), 201);

    // The member count is checked before the archive is parsed.
    let e = assert_error(
        t.upload(
            "/api/wheels/upload",
            "huge-1.0-py3-none-any.whl",
            "application/octet-stream",
            &zip_claiming(200_000),
        ),
        400,
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("declares 200000 members"), "{message}");
    assert!(files_under(&spool_dir).is_empty());
    assert!(
        files_under(&t.cache().join("inputs"))
            .iter()
            .all(|f| f.file_name().unwrap() == "requirements.txt"),
        "a refused wheel leaves no input: {:?}",
        files_under(&t.cache().join("inputs"))
    );
    // A good wheel still goes through the same path.
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), "demo", "1.0", "py3-none-any", None);
    let r = t.upload(
        "/api/wheels/upload",
        "demo-1.0-py3-none-any.whl",
        "application/octet-stream",
        &std::fs::read(&wheel).unwrap(),
    );
    assert_eq!(r.status(), 201);
    let body: Value = r.json().unwrap();
    assert_eq!(body["input"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        body["input"]["size"].as_i64().unwrap(),
        std::fs::metadata(&wheel).unwrap().len() as i64
    );
}

/// A server error answers without the server's paths (the log has them).
#[test]
fn server_errors_carry_no_server_paths() {
    let t = TestServer::start(|_| {});
    // The uploads' folder cannot be made: a file sits where it goes.
    std::fs::create_dir_all(t.cache()).unwrap();
    std::fs::write(t.cache().join("tmp"), b"in the way").unwrap();
    let e = assert_error(upload_requirements(&t, "six\n"), 500);
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("cannot be stored"), "{message}");
    assert!(
        !message.contains(&t.dir.path().display().to_string()),
        "{message}"
    );
    assert!(!message.contains("/tmp"), "{message}");
    // Health sees it too.
    let e = assert_error(t.get("/api/health"), 503);
    assert_eq!(e["error"]["code"], "cache_unwritable", "{e}");
}

/// Deleting history.db under a running server fails health loudly.
#[test]
fn a_deleted_history_database_fails_health() {
    let t = TestServer::start(|_| {});
    assert_eq!(t.get_json("/api/health")["status"], "ok");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(t.cache().join(format!("history.db{suffix}")));
    }
    let e = assert_error(t.get("/api/health"), 503);
    assert_eq!(e["error"]["code"], "database_replaced", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("history database file was deleted"),
        "{e}"
    );
    assert_error(t.get("/api/events"), 503);
}

/// Wrong tokens from one address make that address wait (429 with Retry-After, even for
/// the right token); other addresses are not affected.
#[test]
fn token_guessing_is_slowed_per_address() {
    let t = TestServer::start(|c| c.worker_token = Some("right-token-0123456789".into()));
    let from = |ip: &str| {
        reqwest::blocking::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    };
    let attacker = from("127.0.0.1");
    let neighbour = from("127.0.0.2");
    let clear = |client: &reqwest::blocking::Client, token: &str| {
        client
            .post(t.url("/api/queue/clear"))
            .header("X-Worker-Token", token)
            .json(&json!({}))
            .send()
            .unwrap()
    };
    for guess in 0..6 {
        assert_eq!(clear(&attacker, &format!("guess-{guess}")).status(), 403);
    }
    let r = clear(&attacker, "guess-7");
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let e = assert_error(r, 429);
    assert_eq!(e["error"]["code"], "too_many_failures", "{e}");
    // Even the right token waits: a right guess is no faster than a wrong one.
    assert_eq!(clear(&attacker, "right-token-0123456789").status(), 429);
    // The session endpoint is throttled the same way.
    let r = attacker
        .post(t.url("/api/session/token"))
        .json(&json!({"token": "guess-8"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    // Another address is not.
    assert_eq!(clear(&neighbour, "right-token-0123456789").status(), 200);
    // A forged Host is no way around it: the token it carries is throttled too.
    let forged = |token: &str| {
        neighbour
            .post(t.url("/api/queue/clear"))
            .header("Host", "evil.example")
            .header("X-Worker-Token", token)
            .json(&json!({}))
            .send()
            .unwrap()
            .status()
    };
    for guess in 0..6 {
        assert_eq!(forged(&format!("forged-{guess}")), 421);
    }
    assert_eq!(forged("forged-7"), 429);
    // Sending one wrong token again and again (a stale cookie) counts once.
    let stale = from("127.0.0.3");
    for _ in 0..20 {
        assert_eq!(clear(&stale, "old-token").status(), 403);
    }
    // After the wait, the right token clears the count.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(clear(&attacker, "right-token-0123456789").status(), 200);
    assert_eq!(clear(&attacker, "guess-9").status(), 403);
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(mounted.success(), "mounting a tmpfs needs root");
        SmallDisk { path, _dir: dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Fills the disk of `path` until a write fails with "no space left".
fn fill(path: &std::path::Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 256 * 1024];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "{e}");
                return;
            }
        }
    }
}

/// On a full disk: health answers 503, uploads 507, nothing half-written stays; once
/// there is room again, everything works.
#[test]
#[ignore = "needs root (mounts a small tmpfs)"]
fn a_full_disk_answers_507_fails_health_and_leaves_nothing() {
    let disk = SmallDisk::mount(16);
    let cache = disk.path.join("cache");
    let t = TestServer::start(|c| {
        c.cache = cache.clone();
        c.history_db = cache.join("history.db");
    });
    assert_eq!(upload_requirements(&t, "six==1.16.0\n").status(), 201);
    let filler = disk.path.join("filler");
    fill(&filler);

    let e = assert_error(t.get("/api/health"), 503);
    assert_eq!(e["error"]["code"], "cache_unwritable", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{e}"
    );
    let big = "six==1.16.0\n# padding\n".repeat(20_000);
    let e = assert_error(upload_requirements(&t, &big), 507);
    assert_eq!(e["error"]["code"], "insufficient_storage", "{e}");
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), "demo", "1.0", "py3-none-any", None);
    let mut bytes = std::fs::read(&wheel).unwrap();
    // Big enough not to fit in what the filesystem still keeps in reserve.
    bytes.extend(std::iter::repeat_n(0u8, 2 * 1024 * 1024));
    let e = assert_error(
        t.upload(
            "/api/wheels/upload",
            "demo-1.0-py3-none-any.whl",
            "application/octet-stream",
            &bytes,
        ),
        507,
    );
    assert!(
        !e["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&disk.path.display().to_string()),
        "{e}"
    );
    assert!(files_under(&cache.join("tmp").join("uploads")).is_empty());
    assert_eq!(
        t.get_json("/api/pending-inputs")["inputs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    std::fs::remove_file(&filler).unwrap();
    // Health probes the disk at most once a second.
    let healthy = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        t.get("/api/health").status() == 200
    });
    assert!(healthy, "health recovers once there is room");
    assert_eq!(upload_requirements(&t, "six==1.16.0\n").status(), 201);
    drop(t);
}

/// Uploaded requirements files are read as pip reads them: UTF-16 with a byte order mark
/// (PowerShell's `>`) is accepted, bytes that are no text are refused naming the offset.
#[test]
fn uploaded_requirements_are_decoded_like_pip() {
    let t = TestServer::start(|_| {});
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "six==1.16.0\r\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let r = t.upload(
        "/api/requirements/upload",
        "requirements.txt",
        "text/plain",
        &utf16,
    );
    assert_eq!(r.status(), 201);
    let e = assert_error(
        t.upload(
            "/api/requirements/upload",
            "requirements.txt",
            "text/plain",
            b"six==1.16.0\n\xc3\x28\n",
        ),
        400,
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("byte offset 12"), "{message}");
}

/// A client that trickles its upload loses it (408) once it falls below the minimum
/// rate, and frees its slot; a body cut off by the client is its error (400), not ours.
#[test]
fn slow_and_cut_uploads_are_refused_and_leave_nothing() {
    let t = TestServer::start(|c| {
        c.upload_grace = Duration::from_millis(300);
        c.min_upload_rate = 1024 * 1024;
        c.max_concurrent_uploads = 1;
    });
    let addr = t.server.addr.to_string();
    let head = |length: usize| {
        format!(
            "POST /api/requirements/upload HTTP/1.1\r\nHost: {addr}\r\nX-Refinery-Request: 1\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {length}\r\n\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nsix==1.16.0\n"
        )
    };
    let mut slow = TcpStream::connect(t.server.addr).unwrap();
    slow.write_all(head(100_000).as_bytes()).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut slow, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("upload_too_slow"), "{answer}");
    assert!(files_under(&t.cache().join("tmp").join("uploads")).is_empty());
    // The slot is free again.
    assert_eq!(upload_requirements(&t, "six==1.16.0\n").status(), 201);

    let mut cut = TcpStream::connect(t.server.addr).unwrap();
    cut.write_all(head(1000).as_bytes()).unwrap();
    cut.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut cut, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

/// Spool files a killed server left behind are removed at the next start.
#[test]
fn partial_uploads_of_a_killed_server_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let spool = cache.join("tmp").join("uploads");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join(".upload.AbC123.tmp"), vec![0u8; 4096]).unwrap();
    let t = TestServer::start(|c| {
        c.cache = cache.clone();
        c.history_db = cache.join("history.db");
    });
    assert!(files_under(&spool).is_empty(), "{:?}", files_under(&spool));
    assert_eq!(upload_requirements(&t, "six==1.16.0\n").status(), 201);
}
