//! Opening a history: files, identity, schema versions, locking, concurrent writers and
//! the choice of backend.

use super::*;

#[test]
fn history_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<History>();
}

#[test]
fn open_creates_parents_and_reopen_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/history.db");
    {
        let history = History::open(&path).unwrap();
        assert_eq!(history.schema_version().unwrap(), SCHEMA_VERSION);
        history
            .record_event(&Event::new(EventKind::Plan, "first"))
            .unwrap();
    }
    assert!(path.is_file());
    let again = History::open(&path).unwrap();
    let third = History::open(&path).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    third
        .record_event(&Event::new(EventKind::Plan, "second"))
        .unwrap();
    let events = again.recent_events(10).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].detail, "second");
    let mode: String = again
        .sqlite()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(again.path(), path);
}

#[test]
fn newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    drop(History::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = History::open(&path).unwrap_err();
    assert!(
        matches!(err, HistoryError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("is not a refinery history database (schema version 99 newer"),
        "{message}"
    );
}

#[test]
fn foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Not SQLite at all.
    let text = dir.path().join("notes.db");
    fs_err::write(&text, "this is a text file, not a database\n".repeat(20)).unwrap();
    let err = History::open(&text).unwrap_err();
    assert!(matches!(err, HistoryError::NotHistory { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.db"), "{err}");
    // SQLite, but someone else's.
    let other = dir.path().join("other.db");
    {
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE users (id INTEGER)")
            .unwrap();
    }
    let err = History::open(&other).unwrap_err();
    assert!(matches!(err, HistoryError::NotHistory { .. }), "{err:?}");
    assert!(err.to_string().contains("other.db"), "{err}");
}

#[test]
fn locked_database_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let history = History::open_with_timeout(&path, Duration::from_millis(100)).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = history
        .record_event(&Event::new(EventKind::Plan, ""))
        .unwrap_err();
    assert!(matches!(err, HistoryError::Locked { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "history database {} is locked by another process",
            path.display()
        )),
        "{message}"
    );
    blocker.execute_batch("COMMIT").unwrap();
    history
        .record_event(&Event::new(EventKind::Plan, ""))
        .unwrap();
}

/// `threads` threads open a history at the same moment with `open`, then each writes
/// `per_thread` events for `pkg<t>` and an attempt for every tenth.
fn race_writers(
    threads: usize,
    per_thread: usize,
    open: impl Fn() -> History + Clone + Send + 'static,
) {
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (open, start) = (open.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let history = open();
                for i in 0..per_thread {
                    history
                        .record_event(
                            &Event::new(EventKind::Built, format!("thread {t} event {i}"))
                                .with_package(format!("pkg{t}"), "1.0")
                                .with_data(json!({ "thread": t, "i": i })),
                        )
                        .unwrap();
                    if i % 10 == 0 {
                        history
                            .record_attempt(&attempt(
                                &format!("pkg{t}"),
                                "1.0",
                                "default",
                                "success",
                                i as f64,
                            ))
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn concurrent_writers_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared/history.db");
    const PER_THREAD: usize = 300;
    // Both threads open (and race to create and migrate) the same new file.
    let opened = path.clone();
    race_writers(2, PER_THREAD, move || History::open(&opened).unwrap());
    let history = History::open(&path).unwrap();
    let events = history.recent_events(10_000).unwrap();
    assert_eq!(events.len(), 2 * PER_THREAD);
    for t in 0..2 {
        assert_eq!(
            history
                .events_for(&name(&format!("pkg{t}")), 10_000)
                .unwrap()
                .len(),
            PER_THREAD
        );
        assert_eq!(
            history
                .attempts_for(&name(&format!("pkg{t}")), 10_000)
                .unwrap()
                .len(),
            PER_THREAD / 10
        );
    }
    assert_eq!(
        history.status_counts().unwrap()[&EventKind::Built],
        2 * PER_THREAD as u64
    );
    // Ids are unique and strictly decreasing (newest first).
    assert!(events.windows(2).all(|w| w[0].id > w[1].id));
}

#[test]
fn urls_choose_the_backend() {
    assert!(is_postgres_url("postgres://u:p@h/db"));
    assert!(is_postgres_url(" postgresql://h/db"));
    assert!(!is_postgres_url("/var/cache/history.db"));
    assert!(!is_postgres_url("sqlite:/x.db"));
    assert_eq!(
        display_location(Path::new("postgres://u:secret@h/db")),
        "postgres://u:****@h/db"
    );
    assert_eq!(display_location(Path::new("/a/b.db")), "/a/b.db");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let history = History::open_url(&format!("sqlite:{}", path.display())).unwrap();
    assert!(!history.is_postgres());
    assert_eq!(history.path(), path);
    let plain = History::open_url(path.to_str().unwrap()).unwrap();
    assert_eq!(plain.schema_version().unwrap(), SCHEMA_VERSION);
    // An unreachable server is reported as such, without the password.
    let err = History::open(Path::new("postgres://u:secret@127.0.0.1:1/none")).unwrap_err();
    assert!(matches!(err, HistoryError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.to_string().contains("u:****@127.0.0.1:1"), "{err}");
}

#[test]
fn postgres_reopen_shares_the_data() {
    let Some((url, schema)) = postgres_schema() else {
        return;
    };
    let _guard = schema_guard(&url, &schema);
    let first = History::open_postgres(&url, Some(&schema)).unwrap();
    assert!(first.is_postgres());
    assert_eq!(first.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(!first.path().to_string_lossy().contains(":refinery@"));
    first
        .record_event(&Event::new(EventKind::Plan, "first"))
        .unwrap();
    let second = History::open_postgres(&url, Some(&schema)).unwrap();
    second
        .record_event(&Event::new(EventKind::Plan, "second"))
        .unwrap();
    drop(first);
    // The dropped handle's connection is reused.
    let third = History::open_postgres(&url, Some(&schema)).unwrap();
    let events = third.recent_events(10).unwrap();
    assert_eq!(
        events.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["second", "first"]
    );
}

#[test]
fn postgres_newer_schema_is_refused() {
    let Some((url, schema)) = postgres_schema() else {
        return;
    };
    let _guard = schema_guard(&url, &schema);
    // Held open so the next open connects afresh (and checks the schema).
    let history = History::open_postgres(&url, Some(&schema)).unwrap();
    history
        .exec(
            "INSERT INTO refinery_history_schema (version) VALUES (99)",
            &[],
        )
        .unwrap();
    let err = History::open_postgres(&url, Some(&schema)).unwrap_err();
    assert!(
        matches!(err, HistoryError::TooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn postgres_concurrent_writers() {
    let Some((url, schema)) = postgres_schema() else {
        return;
    };
    let _guard = schema_guard(&url, &schema);
    const PER_THREAD: usize = 100;
    // All threads race to create and migrate the same new schema.
    let (opened_url, opened_schema) = (url.clone(), schema.clone());
    race_writers(3, PER_THREAD, move || {
        History::open_postgres(&opened_url, Some(&opened_schema)).unwrap()
    });
    let history = History::open_postgres(&url, Some(&schema)).unwrap();
    let events = history.recent_events(10_000).unwrap();
    assert_eq!(events.len(), 3 * PER_THREAD);
    assert!(events.windows(2).all(|w| w[0].id > w[1].id));
    for t in 0..3 {
        assert_eq!(
            history
                .attempts_for(&name(&format!("pkg{t}")), 10_000)
                .unwrap()
                .len(),
            PER_THREAD / 10
        );
    }
}
