//! Databases made by the code before the storage layer (main at d8ef0b8, whose DDL is
//! copied into `tests/fixtures/main-schema/`) open with it, are upgraded where they are
//! older, and keep their rows; the layer records versions where main did.

use std::path::Path;
use std::time::Duration;

use refinery_store::history::SCHEMA_VERSION;
use refinery_store::queue::{JobStatus, PgQueue, SqliteQueue};
use refinery_store::{Event, EventKind, History, QueueStore};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/main-schema")
        .join(name);
    fs_err::read_to_string(path).unwrap()
}

/// Rows of every history table, in the columns main's version 1 has.
const HISTORY_ROWS: &str = r#"
INSERT INTO events (timestamp, kind, package, package_key, version, run_id, detail, data)
    VALUES ('2026-11-30T00:00:00Z', 'built', 'Six', 'six', '1.16.0', 'run-1',
            'made by main', '{"n": 1}');
INSERT INTO attempts (timestamp, package, package_key, version, python_tag, platform,
        variant, attempt, status, duration_secs, log_path, hints, worker, run_id, detail)
    VALUES ('2026-11-30T00:00:01Z', 'Six', 'six', '1.16.0', 'cp311', 'manylinux2014_s390x',
            'default', 1, 'success', 12.5, 'logs/six.log', '["h1"]', 'w1', 'run-1', 'ok');
INSERT INTO artifacts (key, filename, sha256, recorded_at)
    VALUES ('key-1', 'six-1.16.0-py2.py3-none-any.whl', 'abc123', '2026-11-30T00:00:02Z');
"#;

/// Rows of every queue table, in the columns main's version 1 has.
const QUEUE_ROWS: &str = r#"
INSERT INTO jobs (package, package_key, version, python, platform_tag, status, priority,
        detail, created_ms, updated_ms)
    VALUES ('Six', 'six', '1.16.0', '3.11', 'manylinux2014_s390x', 'pending', 5,
            'made by main', 1, 1);
INSERT INTO job_logs (job_id, seq, attempt, created_ms, data)
    VALUES (1, 1, 0, 1, 'first line');
INSERT INTO workers (id, host, last_seen_ms, current_job) VALUES ('w1', 'host-a', 7, NULL);
INSERT INTO inputs (kind, filename, path, size, sha256, status, created_ms, updated_ms)
    VALUES ('requirements', 'req.txt', 'inputs/req.txt', 12, 'def456', 'pending', 2, 2);
INSERT INTO plans (id, input_id, python, platform_tag, summary, body, created_ms)
    VALUES ('plan-1', 1, '3.11', 'manylinux2014_s390x', '{"total": 1}', '{"nodes": []}', 3);
INSERT INTO settings (key, value) VALUES ('auto_plan', 'true');
INSERT INTO published (filename, project, version, sha256, size, origin, job_id, created_ms)
    VALUES ('six-1.16.0-py2.py3-none-any.whl', 'six', '1.16.0', 'abc123', 10, 'built', 1, 4);
INSERT INTO hints (pattern, packages, note, created_ms)
    VALUES ('libffi', '["libffi-dev"]', 'cffi needs it', 5);
"#;

fn check_history(history: &History) {
    assert_eq!(history.schema_version().unwrap(), SCHEMA_VERSION);
    // Migration 3 took the names of the artifacts already recorded.
    assert_eq!(
        history
            .artifact_sha256s("six-1.16.0-py2.py3-none-any.whl")
            .unwrap(),
        ["abc123"]
    );
    let events = history.recent_events(10).unwrap();
    let made = events.iter().find(|e| e.id == 1).unwrap();
    assert_eq!(made.kind.to_string(), "built");
    assert_eq!(made.detail, "made by main");
    assert_eq!(made.data, serde_json::json!({ "n": 1 }));
    let attempts = history.attempts_for(&"six".parse().unwrap(), 10).unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].status.to_string(), "success");
    assert_eq!(attempts[0].duration_secs, 12.5);
    assert_eq!(attempts[0].hints, ["h1"]);
    assert_eq!(attempts[0].environment, None);
    assert_eq!(
        history.lookup_artifact("key-1").unwrap(),
        Some(("six-1.16.0-py2.py3-none-any.whl".into(), "abc123".into()))
    );
    // Still writable after the upgrade.
    history
        .record_event(&Event::new(EventKind::Plan, "after"))
        .unwrap();
    assert_eq!(history.recent_events(10).unwrap().len(), events.len() + 1);
}

fn check_queue(q: &dyn QueueStore) {
    let job = q.job(1).unwrap();
    assert_eq!(
        (job.package.as_str(), job.status, job.priority),
        ("Six", JobStatus::Pending, 5)
    );
    assert_eq!(q.log_chunks(1, 0, 10).unwrap()[0].data, "first line");
    assert_eq!(q.workers().unwrap()[0].host, "host-a");
    assert_eq!(q.input(1).unwrap().filename, "req.txt");
    assert_eq!(
        q.plan("plan-1").unwrap().summary,
        serde_json::json!({ "total": 1 })
    );
    assert!(q.settings().unwrap().auto_plan);
    assert_eq!(q.published().unwrap()[0].sha256, "abc123");
    assert_eq!(q.hints().unwrap()[0].packages, ["libffi-dev"]);
    // The one-active-job rule holds (migration 2 ran or was there).
    let (same, created) = q
        .enqueue(&refinery_store::queue::JobSpec {
            package: "six".into(),
            version: "1.16.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(!created && same.id == 1, "{same:?}");
}

fn sqlite_file(dir: &Path, name: &str, ddl: &str, rows: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(ddl).unwrap();
    conn.execute_batch(rows).unwrap();
    path
}

#[test]
fn main_sqlite_histories_open_and_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    for fixture_name in ["history-sqlite-v1.sql", "history-sqlite-v2.sql"] {
        let path = sqlite_file(
            dir.path(),
            fixture_name,
            &fixture(fixture_name),
            HISTORY_ROWS,
        );
        let history = History::open_with_timeout(&path, Duration::from_secs(5)).unwrap();
        check_history(&history);
        drop(history);
        // Opened again: nothing left to migrate, the rows are still there.
        check_history(&History::open(&path).unwrap());
    }
}

#[test]
fn main_sqlite_queues_open_and_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    for fixture_name in ["queue-sqlite-v1.sql", "queue-sqlite-v3.sql"] {
        let path = sqlite_file(dir.path(), fixture_name, &fixture(fixture_name), QUEUE_ROWS);
        check_queue(&SqliteQueue::open_sqlite(&path).unwrap());
        let version: i64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 4, "{fixture_name}");
    }
}

/// Drops the schema when the test ends, passed or not.
struct DropSchema(String, String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.0, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.1));
        }
    }
}

fn fresh_schema(url: &str, tag: &str) -> DropSchema {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    DropSchema(
        url.to_string(),
        format!("refinery_test_{tag}_{}_{nanos}", std::process::id()),
    )
}

#[test]
fn main_postgres_schema_opens_and_keeps_its_rows() {
    let Some(url) = refinery_test_support::test_database_url() else {
        return;
    };
    let schema = fresh_schema(&url, "main");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{0}\"; SET search_path TO \"{0}\"; {1} {2} {3}",
            schema.1,
            fixture("postgres-v2-v3.sql"),
            HISTORY_ROWS,
            QUEUE_ROWS
        ))
        .unwrap();
    check_history(&History::open_postgres(&url, Some(&schema.1)).unwrap());
    check_queue(&PgQueue::open_postgres(&url, Some(&schema.1)).unwrap());
    // Neither store ran a migration again: one row per version, main's and (history) the
    // ones added since, each applied once.
    for (table, versions) in [
        ("refinery_history_schema", SCHEMA_VERSION),
        ("refinery_queue_schema", 4),
    ] {
        let row = client
            .query_one(
                &format!(
                    "SELECT COUNT(*), MAX(version) FROM \"{}\".{table}",
                    schema.1
                ),
                &[],
            )
            .unwrap();
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (versions, versions)
        );
    }
}

/// The history and the queue opening one fresh PostgreSQL schema at the same moment (as
/// `refinery serve --database-url` does) both create their tables, neither fails.
#[test]
fn history_and_queue_migrate_one_fresh_postgres_schema_together() {
    let Some(url) = refinery_test_support::test_database_url() else {
        return;
    };
    for _ in 0..3 {
        let schema = fresh_schema(&url, "both");
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (url, name, start) = (url.clone(), schema.1.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    if i % 2 == 0 {
                        History::open_postgres(&url, Some(&name))
                            .map(drop)
                            .map_err(|e| e.to_string())
                    } else {
                        PgQueue::open_postgres(&url, Some(&name))
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap().unwrap();
        }
        let history = History::open_postgres(&url, Some(&schema.1)).unwrap();
        assert_eq!(history.schema_version().unwrap(), SCHEMA_VERSION);
        let queue = PgQueue::open_postgres(&url, Some(&schema.1)).unwrap();
        assert_eq!(queue.stats().unwrap().depth, 0);
    }
}
