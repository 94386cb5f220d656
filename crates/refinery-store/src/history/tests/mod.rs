use super::*;
use serde_json::json;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::db::RowExt;

mod opening;

/// A package name (a valid one: these are the tests' own).
fn name(text: &str) -> refinery_pep::PackageName {
    text.parse().expect("a valid package name")
}

/// A history on one backend; a PostgreSQL one has its own schema, dropped afterwards.
struct Fixture {
    history: Option<History>,
    _dir: Option<tempfile::TempDir>,
    drop_schema: Option<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Close the handle first (its connection goes back to the pool, unused).
        drop(self.history.take());
        if let Some((url, schema)) = &self.drop_schema {
            if let Ok(mut client) = ::postgres::Client::connect(url, ::postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        }
    }
}

impl Fixture {
    fn history(&self) -> &History {
        self.history.as_ref().expect("open until dropped")
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("cache/v1/history.db")).unwrap();
    Fixture {
        history: Some(history),
        _dir: Some(dir),
        drop_schema: None,
    }
}

/// The test server's URL and a fresh schema name, or `None` (with a message).
fn postgres_schema() -> Option<(String, String)> {
    let url = refinery_test_support::test_database_url()?;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "refinery_history_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        crate::queue::now_ms()
    );
    Some((url, schema))
}

fn postgres() -> Option<Fixture> {
    let (url, schema) = postgres_schema()?;
    let history = History::open_postgres(&url, Some(&schema))
        .unwrap_or_else(|e| panic!("REFINERY_TEST_DATABASE_URL is set but: {e}"));
    Some(Fixture {
        history: Some(history),
        _dir: None,
        drop_schema: Some((url, schema)),
    })
}

/// A fixture that only drops the schema (for tests that open handles themselves).
fn schema_guard(url: &str, schema: &str) -> Fixture {
    Fixture {
        history: None,
        _dir: None,
        drop_schema: Some((url.to_string(), schema.to_string())),
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[test] fn $name() { super::$name(super::sqlite().history()); } )*
        }
        mod postgres_backend {
            $( #[test] fn $name() {
                if let Some(f) = super::postgres() { super::$name(f.history()); }
            } )*
        }
    };
}

on_both!(
    events_round_trip_newest_first,
    events_are_append_only,
    status_counts_by_kind,
    attempts_round_trip_newest_first,
    top_failures_ordering_and_last_details,
    known_failures_only_when_last_attempt_failed,
    average_durations_only_count_successes,
    variant_stats_per_variant,
    artifact_index_upserts,
    corrupt_json_is_reported_with_row,
    pages_slowest_packages_and_histogram,
    summaries_classify_statuses_like_the_type,
    unknown_stored_values_name_the_row,
);

fn attempt(package: &str, version: &str, variant: &str, status: &str, secs: f64) -> Attempt {
    Attempt {
        package: package.into(),
        version: version.into(),
        python_tag: "cp311".into(),
        platform: "manylinux_2_17_s390x".into(),
        variant: variant.parse().unwrap(),
        attempt: 1,
        status: status.parse().unwrap(),
        duration_secs: secs,
        detail: format!("{package} {version} {status}"),
        ..Attempt::default()
    }
}

fn events_round_trip_newest_first(history: &History) {
    let first = history
        .record_event(
            &Event::new(EventKind::Hint, "building")
                .with_package("PyYAML", "6.0.2")
                .with_run("run-1")
                .with_data(json!({"variant": "default", "jobs": 2})),
        )
        .unwrap();
    let second = history
        .record_event(&Event::new(EventKind::Plan, "3 nodes"))
        .unwrap();
    let third = history
        .record_event(&Event::new(EventKind::Built, "ok").with_package("pyyaml", "6.0.2"))
        .unwrap();
    assert!(first < second && second < third);

    let recent = history.recent_events(10).unwrap();
    let ids: Vec<_> = recent.iter().map(|e| e.id).collect();
    assert_eq!(ids, [third, second, first]);
    assert_eq!(history.recent_events(1).unwrap().len(), 1);
    assert!(history.recent_events(0).unwrap().is_empty());

    let row = &recent[2];
    assert_eq!(row.kind, EventKind::Hint);
    assert_eq!(row.package.as_deref(), Some("PyYAML"));
    assert_eq!(row.version.as_deref(), Some("6.0.2"));
    assert_eq!(row.run_id.as_deref(), Some("run-1"));
    assert_eq!(row.data, json!({"variant": "default", "jobs": 2}));
    assert_eq!(recent[1].data, serde_json::Value::Null);
    // RFC 3339 UTC with milliseconds.
    assert_eq!(row.timestamp.len(), 24, "{}", row.timestamp);
    assert!(row.timestamp.ends_with('Z'));
    assert_eq!(&row.timestamp[10..11], "T");

    // Lookups by package are normalization-insensitive.
    let for_pkg = history.events_for(&name("pyyaml"), 10).unwrap();
    assert_eq!(
        for_pkg.iter().map(|e| e.id).collect::<Vec<_>>(),
        [third, first]
    );
    assert_eq!(history.events_for(&name("PyYAML"), 1).unwrap()[0].id, third);
    assert!(history.events_for(&name("numpy"), 10).unwrap().is_empty());

    // Serializes flat.
    let value = serde_json::to_value(row).unwrap();
    assert_eq!(value["kind"], "hint");
    assert_eq!(value["id"], first);
}

fn events_are_append_only(history: &History) {
    history
        .record_event(&Event::new(EventKind::Plan, "x"))
        .unwrap();
    let err = history
        .exec("UPDATE events SET detail = 'changed'", &[])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

fn status_counts_by_kind(history: &History) {
    assert!(history.status_counts().unwrap().is_empty());
    for kind in [
        EventKind::Plan,
        EventKind::Built,
        EventKind::RunEnd,
        EventKind::Built,
        EventKind::Failure,
        EventKind::Plan,
        EventKind::Plan,
    ] {
        history.record_event(&Event::new(kind, "")).unwrap();
    }
    let counts = history.status_counts().unwrap();
    let expected: BTreeMap<EventKind, u64> = [
        (EventKind::Built, 2),
        (EventKind::Failure, 1),
        (EventKind::Plan, 3),
        (EventKind::RunEnd, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
    // In JSON: keyed by the string forms, as when the keys were strings.
    assert_eq!(
        serde_json::to_value(&counts).unwrap(),
        json!({"built": 2, "failure": 1, "plan": 3, "run_end": 1})
    );
}

fn attempts_round_trip_newest_first(history: &History) {
    let mut a = attempt("regex", "2024.11.6", "default", "failed", 12.0);
    a.hints = vec!["gcc".into(), "libffi-dev".into()];
    a.log_path = Some("logs/regex-1.log".into());
    a.worker = Some("worker-1".into());
    a.run_id = Some("run-7".into());
    let first = history.record_attempt(&a).unwrap();
    let mut b = attempt("regex", "2024.11.6", "cross", "success", 24.9);
    b.attempt = 2;
    let second = history.record_attempt(&b).unwrap();
    history
        .record_attempt(&attempt("other", "1", "default", "success", 1.0))
        .unwrap();

    let rows = history.attempts_for(&name("Regex"), 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    let old = &rows[1];
    assert_eq!(old.package, "regex");
    assert_eq!(old.version, "2024.11.6");
    assert_eq!(old.python_tag, "cp311");
    assert_eq!(old.platform, "manylinux_2_17_s390x");
    assert_eq!(old.variant, "default");
    assert_eq!(old.attempt, 1);
    assert_eq!(old.status, AttemptStatus::Failed);
    assert_eq!(old.duration_secs, 12.0);
    assert_eq!(old.log_path.as_deref(), Some("logs/regex-1.log"));
    assert_eq!(old.hints, ["gcc", "libffi-dev"]);
    assert_eq!(old.worker.as_deref(), Some("worker-1"));
    assert_eq!(old.run_id.as_deref(), Some("run-7"));
    assert_eq!(old.detail, "regex 2024.11.6 failed");
    assert_eq!(rows[0].attempt, 2);
    assert!(rows[0].hints.is_empty());
    assert_eq!(history.attempts_for(&name("regex"), 1).unwrap().len(), 1);
    assert!(history
        .attempts_for(&name("nothing"), 5)
        .unwrap()
        .is_empty());
}

fn top_failures_ordering_and_last_details(history: &History) {
    assert!(history.top_failures(10).unwrap().is_empty());
    // lxml: 3 failures (one a timeout), later success does not erase them.
    let mut f1 = attempt("lxml", "5.2.0", "default", "failed", 3.0);
    f1.hints = vec!["libxml2-dev".into()];
    history.record_attempt(&f1).unwrap();
    history
        .record_attempt(&attempt("lxml", "5.2.0", "default", "timeout", 3.0))
        .unwrap();
    let mut f3 = attempt("LXML", "5.3.0", "hinted", "failed", 3.0);
    f3.hints = vec!["libxml2-dev".into(), "libxslt1-dev".into()];
    f3.detail = "xslt-config not found".into();
    history.record_attempt(&f3).unwrap();
    history
        .record_attempt(&attempt("lxml", "5.3.0", "hinted", "success", 3.0))
        .unwrap();
    // cffi and bcrypt: 2 failures each (tie broken by name).
    for _ in 0..2 {
        history
            .record_attempt(&attempt("cffi", "1.17.1", "default", "failed", 1.0))
            .unwrap();
        history
            .record_attempt(&attempt("bcrypt", "4.2.0", "default", "failed", 1.0))
            .unwrap();
    }
    // psutil: 1 failure; six: only successes and a cancelled attempt.
    history
        .record_attempt(&attempt("psutil", "6.0.0", "default", "failed", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("six", "1.16.0", "default", "success", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("six", "1.16.0", "default", "cancelled", 1.0))
        .unwrap();

    let top = history.top_failures(10).unwrap();
    let order: Vec<_> = top
        .iter()
        .map(|f| (f.package.as_str(), f.failures))
        .collect();
    assert_eq!(
        order,
        [("LXML", 3), ("bcrypt", 2), ("cffi", 2), ("psutil", 1)]
    );
    assert_eq!(top[0].last_version, "5.3.0");
    assert_eq!(top[0].last_detail, "xslt-config not found");
    assert_eq!(top[0].last_hints, ["libxml2-dev", "libxslt1-dev"]);
    assert!(top[1].last_hints.is_empty());
    assert_eq!(history.top_failures(2).unwrap().len(), 2);
}

fn known_failures_only_when_last_attempt_failed(history: &History) {
    // Failed, then succeeded: not known.
    history
        .record_attempt(&attempt("regex", "1.0", "default", "failed", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("regex", "1.0", "default", "success", 1.0))
        .unwrap();
    // Succeeded, then failed: known (last attempt failed).
    history
        .record_attempt(&attempt("cffi", "1.0", "default", "success", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("cffi", "1.0", "default", "failed", 1.0))
        .unwrap();
    // Failed then cancelled: cancellations are neutral, still known.
    history
        .record_attempt(&attempt("Zstandard", "0.23.0", "default", "timeout", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("zstandard", "0.23.0", "default", "cancelled", 1.0))
        .unwrap();
    // Only another version of a package failed.
    history
        .record_attempt(&attempt("psutil", "5.0", "default", "failed", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("psutil", "6.0", "default", "success", 1.0))
        .unwrap();
    // Only successes.
    history
        .record_attempt(&attempt("six", "1.16.0", "default", "success", 1.0))
        .unwrap();

    assert_eq!(
        history.known_failures().unwrap(),
        [
            ("cffi".to_string(), "1.0".to_string()),
            ("psutil".to_string(), "5.0".to_string()),
            ("zstandard".to_string(), "0.23.0".to_string()),
        ]
    );
    // A later success clears it.
    history
        .record_attempt(&attempt("cffi", "1.0", "hinted", "success", 1.0))
        .unwrap();
    assert_eq!(history.known_failures().unwrap().len(), 2);
}

fn average_durations_only_count_successes(history: &History) {
    assert!(history.average_durations().unwrap().is_empty());
    history
        .record_attempt(&attempt("regex", "1", "default", "success", 20.0))
        .unwrap();
    history
        .record_attempt(&attempt("Regex", "1", "cross", "success", 30.0))
        .unwrap();
    history
        .record_attempt(&attempt("regex", "1", "default", "failed", 1000.0))
        .unwrap();
    history
        .record_attempt(&attempt("regex", "1", "default", "timeout", 3600.0))
        .unwrap();
    history
        .record_attempt(&attempt("only_fails", "1", "default", "failed", 5.0))
        .unwrap();
    history
        .record_attempt(&attempt("six", "1", "default", "success", 0.5))
        .unwrap();
    let averages = history.average_durations().unwrap();
    assert_eq!(averages.len(), 2);
    assert!((averages["regex"] - 25.0).abs() < 1e-9);
    assert!((averages["six"] - 0.5).abs() < 1e-9);
    assert!(!averages.contains_key("only-fails"));
}

fn variant_stats_per_variant(history: &History) {
    assert!(history.variant_stats(&name("lxml")).unwrap().is_empty());
    for (variant, status) in [
        ("default", "failed"),
        ("default", "failed"),
        ("default", "success"),
        ("hinted", "success"),
        ("hinted", "success"),
        ("cross", "timeout"),
        ("cross", "cancelled"),
    ] {
        history
            .record_attempt(&attempt("lxml", "5", variant, status, 1.0))
            .unwrap();
    }
    history
        .record_attempt(&attempt("other", "1", "default", "success", 1.0))
        .unwrap();
    let stats = history.variant_stats(&name("LXML")).unwrap();
    let stat = |variant: &str, successes, failures| VariantStats {
        variant: variant.parse().unwrap(),
        successes,
        failures,
    };
    assert_eq!(
        stats,
        [
            stat("cross", 0, 1),
            stat("default", 1, 2),
            stat("hinted", 2, 0)
        ]
    );
}

fn artifact_index_upserts(history: &History) {
    assert_eq!(history.lookup_artifact("regex-cp311").unwrap(), None);
    history
        .record_artifact("regex-cp311", "regex-1.whl", &"aa".repeat(32))
        .unwrap();
    assert_eq!(
        history.lookup_artifact("regex-cp311").unwrap(),
        Some(("regex-1.whl".to_string(), "aa".repeat(32)))
    );
    history
        .record_artifact("regex-cp311", "regex-2.whl", &"bb".repeat(32))
        .unwrap();
    assert_eq!(
        history.lookup_artifact("regex-cp311").unwrap(),
        Some(("regex-2.whl".to_string(), "bb".repeat(32)))
    );
    let count = history.rows("SELECT COUNT(*) FROM artifacts", &[]).unwrap()[0].int(0);
    assert_eq!(count, 1);
    // One file name, given other bytes under another key: both sha256s, once each.
    history
        .record_artifact("regex-cp311-nostrip", "regex-2.whl", &"cc".repeat(32))
        .unwrap();
    history
        .record_artifact("regex-cp311-again", "regex-2.whl", &"bb".repeat(32))
        .unwrap();
    assert_eq!(
        history.artifact_sha256s("regex-2.whl").unwrap(),
        ["bb".repeat(32), "cc".repeat(32)]
    );
    // The key's row moved to regex-2.whl; regex-1.whl still belongs to its bytes.
    assert_eq!(
        history.artifact_sha256s("regex-1.whl").unwrap(),
        ["aa".repeat(32)]
    );
    assert!(history.artifact_sha256s("regex-3.whl").unwrap().is_empty());
}

fn corrupt_json_is_reported_with_row(history: &History) {
    history
        .exec(
            "INSERT INTO events (timestamp, kind, detail, data) VALUES ('t', 'plan', '', '{oops')",
            &[],
        )
        .unwrap();
    let err = history.recent_events(5).unwrap_err();
    assert!(
        matches!(err, HistoryError::Corrupt { column: "data", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("events.data of row 1"), "{err}");
}

fn pages_slowest_packages_and_histogram(history: &History) {
    for i in 0..5 {
        history
            .record_event(
                &Event::new(
                    if i % 2 == 0 {
                        EventKind::Built
                    } else {
                        EventKind::Failure
                    },
                    format!("e{i}"),
                )
                .with_package("Six", "1"),
            )
            .unwrap();
    }
    history
        .record_event(&Event::new(EventKind::Plan, "p"))
        .unwrap();
    let page = history
        .events_page(Some(&name("six")), None, None, 2)
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["e4", "e3"]
    );
    let next = history
        .events_page(Some(&name("six")), None, Some(page[1].id), 10)
        .unwrap();
    assert_eq!(next.len(), 3);
    let built = history
        .events_page(None, Some(EventKind::Built), None, 10)
        .unwrap();
    assert_eq!(built.len(), 3);
    assert_eq!(history.events_page(None, None, None, 100).unwrap().len(), 6);

    history
        .record_attempt(&attempt("regex", "1", "default", "success", 30.0))
        .unwrap();
    history
        .record_attempt(&attempt("regex", "1", "default", "success", 10.0))
        .unwrap();
    history
        .record_attempt(&attempt("regex", "1", "default", "failed", 500.0))
        .unwrap();
    history
        .record_attempt(&attempt("six", "1", "default", "success", 1.0))
        .unwrap();
    history
        .record_attempt(&attempt("broken", "1", "default", "failed", 2.0))
        .unwrap();
    let slow = history.top_slowest(10).unwrap();
    assert_eq!(slow.len(), 2);
    assert_eq!(slow[0].package, "regex");
    assert!((slow[0].average_secs - 20.0).abs() < 1e-9);
    assert_eq!((slow[0].successes, slow[0].failures), (2, 1));
    let packages = history.packages(10).unwrap();
    assert_eq!(
        packages
            .iter()
            .map(|p| p.package.as_str())
            .collect::<Vec<_>>(),
        ["broken", "regex", "six"]
    );
    assert_eq!(packages[1].last_status, AttemptStatus::Failed);
    assert_eq!(
        history.attempt_status_counts().unwrap()[&AttemptStatus::Success],
        3
    );
    let (cumulative, count, sum) = history.duration_histogram(&[5.0, 60.0]).unwrap();
    assert_eq!(cumulative, [2, 4]);
    assert_eq!(count, 5);
    assert!((sum - 543.0).abs() < 1e-9);
    history
        .record_artifact("k", "regex-1.whl", &"aa".repeat(32))
        .unwrap();
    assert_eq!(history.artifacts().unwrap().len(), 1);
}

/// The SQL of the summaries classifies every status as [`AttemptStatus::is_failure`] and
/// [`AttemptStatus::is_success`] do.
fn summaries_classify_statuses_like_the_type(history: &History) {
    for status in AttemptStatus::ALL {
        history
            .record_attempt(&attempt(
                status.as_str(),
                "1",
                "default",
                status.as_str(),
                1.0,
            ))
            .unwrap();
    }
    let stats = history.packages(100).unwrap();
    assert_eq!(stats.len(), AttemptStatus::ALL.len());
    for summary in stats {
        let status = summary.last_status;
        assert_eq!(summary.package, status.as_str());
        assert_eq!(summary.failures, u64::from(status.is_failure()), "{status}");
        assert_eq!(
            summary.successes,
            u64::from(status.is_success()),
            "{status}"
        );
    }
    let known: Vec<String> = history
        .known_failures()
        .unwrap()
        .into_iter()
        .map(|(package, _)| package)
        .collect();
    assert_eq!(known, ["failed", "timeout"]);
}

/// A status, variant or event kind this refinery does not know is reported with its row,
/// not silently counted (e.g. `canceled`, a spelling the readers once accepted and nothing
/// ever wrote, or `build_start`, a kind only tests ever wrote).
fn unknown_stored_values_name_the_row(history: &History) {
    history
        .exec(
            "INSERT INTO attempts (timestamp, package, package_key, version, python_tag, \
             platform, variant, attempt, status, duration_secs) \
             VALUES ('t', 'six', 'six', '1', 'cp311', 'p', 'default', 1, 'canceled', 1.0)",
            &[],
        )
        .unwrap();
    let err = history.attempts_for(&name("six"), 10).unwrap_err();
    assert!(
        matches!(&err, HistoryError::Invalid { table: "attempts", column: "status", value, .. } if value == "canceled"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`canceled`"), "{err}");
    history
        .exec(
            "INSERT INTO attempts (timestamp, package, package_key, version, python_tag, \
             platform, variant, attempt, status, duration_secs) \
             VALUES ('t', 'lxml', 'lxml', '1', 'cp311', 'p', 'a b', 1, 'success', 1.0)",
            &[],
        )
        .unwrap();
    let err = history.variant_stats(&name("lxml")).unwrap_err();
    assert!(
        matches!(
            &err,
            HistoryError::Invalid {
                column: "variant",
                ..
            }
        ),
        "{err:?}"
    );
    let id = history
        .insert(
            "INSERT INTO events (timestamp, kind, detail, data) \
             VALUES ('t', 'build_start', '', 'null') RETURNING id",
            &[],
        )
        .unwrap();
    let err = history.recent_events(10).unwrap_err();
    assert!(
        matches!(&err, HistoryError::Invalid { table: "events", column: "kind", id: row, value, .. } if value == "build_start" && *row == id),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("`build_start` in events.kind of row {id}")),
        "{message}"
    );
    assert!(message.contains("expected one of: plan,"), "{message}");
    let err = history.status_counts().unwrap_err();
    assert!(
        matches!(&err, HistoryError::Invalid { column: "kind", id: row, .. } if *row == id),
        "{err:?}"
    );
}
