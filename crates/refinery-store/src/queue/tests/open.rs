//! Opening a queue database: migrations over data made by older versions, the file
//! replaced under a running process, the URL schemes, foreign files.

use std::sync::Arc;

use super::super::*;
use super::{postgres, spec, sqlite, Fixture, LEASE};

/// Runs SQL on the database of a fixture, bypassing the store.
fn raw_sql(fixture: &Fixture, sql: &str) -> Result<(), String> {
    match &fixture.drop_schema {
        Some((url, schema)) => {
            let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
            client
                .batch_execute(&format!("SET search_path TO \"{schema}\"; {sql}"))
                .map_err(|e| {
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |db| db.message().to_string())
                })
        }
        None => {
            let path = fixture._dir.as_ref().unwrap().path().join("cache/queue.db");
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch(sql).map_err(|e| e.to_string())
        }
    }
}

/// The fixture's database opened again (which runs the migrations still due).
fn reopen(fixture: &Fixture) -> Arc<dyn QueueStore> {
    match &fixture.drop_schema {
        Some((url, schema)) => Arc::new(PgQueue::open_postgres(url, Some(schema)).unwrap()),
        None => Arc::new(
            SqliteQueue::open_sqlite(&fixture._dir.as_ref().unwrap().path().join("cache/queue.db"))
                .unwrap(),
        ),
    }
}

/// Migration 2 on a queue that already holds twins (made before the rule): the running
/// one stays, the others are cancelled, and from then on the database refuses a twin.
fn migration_2_cancels_twins_and_keeps_one(fixture: Fixture, back_to_version_1: &str) {
    raw_sql(
        &fixture,
        &format!(
            "DROP INDEX jobs_one_active; DROP INDEX jobs_claimable; \
             ALTER TABLE jobs DROP COLUMN cleared_ms; {back_to_version_1}"
        ),
    )
    .unwrap();
    let row = |status: &str, detail: &str| {
        format!(
            "INSERT INTO jobs (package, package_key, version, python, platform_tag, status, \
             detail, created_ms, updated_ms) VALUES ('Six', 'six', '1.16.0', '3.11', \
             'manylinux2014_s390x', '{status}', '{detail}', 1, 1);"
        )
    };
    let twins = [
        row("pending", "a"),
        row("building", "b"),
        row("retry", "c"),
        row("failed", "d"),
    ]
    .concat();
    raw_sql(&fixture, &twins).unwrap();
    let q = reopen(&fixture);
    let all = q
        .jobs(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .unwrap();
    let status_of = |detail: &str| all.iter().find(|j| j.detail == detail).map(|j| j.status);
    assert_eq!(status_of("b"), Some(JobStatus::Building));
    assert_eq!(status_of("d"), Some(JobStatus::Failed));
    let cancelled = all
        .iter()
        .filter(|j| j.status == JobStatus::Cancelled && j.detail.contains("duplicate"))
        .count();
    assert_eq!(cancelled, 2, "{all:#?}");
    let (same, created) = q.enqueue(&spec("six", "1.16.0")).unwrap();
    assert!(!created);
    assert_eq!(same.status, JobStatus::Building);
    let refused = raw_sql(&fixture, &row("pending", "e")).unwrap_err();
    assert!(
        refused.contains("jobs_one_active") || refused.to_lowercase().contains("unique"),
        "{refused}"
    );
}

#[test]
fn migration_2_cancels_twins_and_keeps_one_on_sqlite() {
    migration_2_cancels_twins_and_keeps_one(sqlite(), "PRAGMA user_version = 1;");
}

#[test]
fn migration_2_cancels_twins_and_keeps_one_on_postgres() {
    if let Some(fixture) = postgres() {
        migration_2_cancels_twins_and_keeps_one(
            fixture,
            "DELETE FROM refinery_queue_schema WHERE version >= 2;",
        );
    }
}

/// Hardening item 9: the SQLite file deleted or replaced under a running process stops
/// the queue (every call fails, nothing recreates the file); the file put back resumes it.
#[test]
fn a_deleted_or_replaced_sqlite_file_stops_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let q = SqliteQueue::open_sqlite(&path).unwrap();
    q.enqueue(&spec("six", "1.16.0")).unwrap();
    let what = |e: QueueError| match e {
        QueueError::Replaced { what, location } => {
            assert!(location.ends_with("queue.db"), "{location}");
            what
        }
        other => panic!("not noticed: {other:?}"),
    };
    // Moved away and back: the same file, so the queue goes on.
    let moved = dir.path().join("moved.db");
    std::fs::rename(&path, &moved).unwrap();
    assert_eq!(what(q.ping().unwrap_err()), "was deleted");
    std::fs::rename(&moved, &path).unwrap();
    q.ping().unwrap();
    // Replaced by a copy (another inode): refused, although it looks the same.
    std::fs::copy(&path, &moved).unwrap();
    std::fs::rename(&moved, &path).unwrap();
    assert_eq!(what(q.ping().unwrap_err()), "was replaced by another file");
    assert!(q.enqueue(&spec("regex", "1")).is_err());
    // Deleted: refused, and no call makes a new, empty file in its place.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("queue.db{suffix}")));
    }
    assert_eq!(what(q.ping().unwrap_err()), "was deleted");
    assert!(q.enqueue(&spec("regex", "1")).is_err());
    assert!(q.claim("w", LEASE).is_err());
    assert!(!path.exists());
}

#[test]
fn open_by_url_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let default = open_queue(None, dir.path()).unwrap();
    assert_eq!(default.backend(), "sqlite");
    assert!(dir.path().join("queue.db").is_file());
    let explicit = open_queue(
        Some(&format!("sqlite:{}", dir.path().join("other.db").display())),
        dir.path(),
    )
    .unwrap();
    assert_eq!(explicit.backend(), "sqlite");
    let err = open_queue(Some("mysql://u:secret@h/db"), dir.path())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("unknown scheme") && !text.contains("secret"),
        "{text}"
    );
    let err = open_queue(Some("postgres://u:secret@127.0.0.1:1/db"), dir.path())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(matches!(err, QueueError::Unavailable { .. }), "{err:?}");
    assert!(
        !text.contains("secret") && text.contains("u:****@127.0.0.1"),
        "{text}"
    );
}

#[test]
fn foreign_sqlite_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE users (id INTEGER)")
            .unwrap();
    }
    let err = SqliteQueue::open_sqlite(&path).unwrap_err();
    assert!(matches!(err, QueueError::NotOurs { .. }), "{err:?}");
    // The history database is not a queue database either.
    let history = dir.path().join("history.db");
    drop(crate::History::open(&history).unwrap());
    assert!(SqliteQueue::open_sqlite(&history).is_err());
}

#[test]
fn status_names_round_trip() {
    for status in JobStatus::ALL {
        assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{}\"", status.as_str()));
    }
    assert!("done".parse::<JobStatus>().is_err());
    assert!(JobStatus::Retry.is_claimable() && !JobStatus::Retry.is_terminal());
    assert!(JobStatus::Cached.is_success() && JobStatus::Cached.is_terminal());
}
