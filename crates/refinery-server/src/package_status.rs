//! One row per package for `GET /api/packages`, in the words of the status glossary
//! (`refinery_store::glossary`): the queue's jobs, the history's attempts and its
//! `reuse`/`cached`/`missing`/`skipped_known_failure` events, so a package that was only
//! reused is listed too and says `reused`, like the Builds page and the manifest. Each row
//! also says how far verification went and how it ended ([`VerificationBadge`]).

use std::collections::BTreeMap;

pub use refinery_contract::{PackageRow, VerificationBadge};
use refinery_store::queue::{Job, JobStatus};
use refinery_store::{AttemptStatus, EventKind, EventRow, PackageSummary};

/// The badge of a manifest entry or job result (`{"metadata": {"verification": …}}`).
fn badge(result: &serde_json::Value) -> Option<VerificationBadge> {
    let value = result.get("metadata")?.get("verification")?;
    let verification: refinery_store::Verification = serde_json::from_value(value.clone()).ok()?;
    let failed = verification.first_failure();
    Some(VerificationBadge {
        level: verification.level.clone(),
        outcome: failed.map_or("passed", |c| c.outcome.as_str()).to_string(),
        failed_check: failed.map(|c| c.name.clone()),
    })
}

/// The job whose status stands for a set of jobs of one package (or one plan node): the
/// newest waiting or running job; else the newest finished one that was not cancelled
/// (a cancelled re-run does not undo a build); else the newest.
pub fn representative<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Option<&'a Job> {
    let jobs: Vec<&Job> = jobs.into_iter().collect();
    let newest =
        |f: &dyn Fn(&Job) -> bool| jobs.iter().copied().filter(|j| f(j)).max_by_key(|j| j.id);
    newest(&|j| !j.status.is_terminal())
        .or_else(|| newest(&|j| j.status != JobStatus::Cancelled))
        .or_else(|| newest(&|_| true))
}

/// An attempt's status in the glossary's words.
fn attempt_status(status: AttemptStatus) -> JobStatus {
    match status {
        AttemptStatus::Success => JobStatus::Built,
        AttemptStatus::Cancelled => JobStatus::Cancelled,
        // The reaper puts a lost attempt's job back in the queue (unless it reached its
        // restart cap, which the job's own status then says).
        AttemptStatus::Lost => JobStatus::Retry,
        AttemptStatus::Failed | AttemptStatus::Timeout => JobStatus::Failed,
    }
}

/// Merges the three sources (see the module docs). `events` are the newest first.
pub fn package_rows(
    summaries: &[PackageSummary],
    jobs: &[Job],
    events: &[EventRow],
) -> Vec<PackageRow> {
    let mut rows: BTreeMap<String, PackageRow> = BTreeMap::new();
    for s in summaries {
        let name = refinery_index::normalize_name(&s.package);
        rows.insert(
            name.clone(),
            PackageRow {
                package: name,
                version: s.last_version.clone(),
                status: attempt_status(s.last_status),
                job: None,
                attempts: s.attempts,
                successes: s.successes,
                failures: s.failures,
                last_timestamp: s.last_timestamp.clone(),
                verification: None,
            },
        );
    }
    let mut by_package: BTreeMap<String, Vec<&Job>> = BTreeMap::new();
    for j in jobs {
        by_package
            .entry(refinery_index::normalize_name(&j.package))
            .or_default()
            .push(j);
    }
    for (name, jobs) in by_package {
        let Some(job) = representative(jobs.iter().copied()) else {
            continue;
        };
        let when = refinery_store::time::format_unix_millis(
            jobs.iter()
                .map(|j| j.updated_ms)
                .max()
                .unwrap_or(job.updated_ms),
        );
        let row = rows.entry(name.clone()).or_insert_with(|| PackageRow {
            package: name,
            version: String::new(),
            status: job.status,
            job: None,
            attempts: 0,
            successes: 0,
            failures: 0,
            last_timestamp: String::new(),
            verification: None,
        });
        // The queue knows more than the attempts: it says reused, cached, missing, waiting.
        row.version = job.version.clone();
        row.status = job.status;
        row.job = Some(job.id);
        row.verification = badge(&job.result);
        if when > row.last_timestamp {
            row.last_timestamp = when;
        }
    }
    for e in events {
        let status = match e.kind {
            EventKind::Reuse => JobStatus::Reused,
            EventKind::Cached => JobStatus::Cached,
            EventKind::Missing => JobStatus::Missing,
            EventKind::SkippedKnownFailure => JobStatus::SkippedKnownFailure,
            _ => continue,
        };
        let Some(package) = &e.package else { continue };
        let name = refinery_index::normalize_name(package);
        // Only for packages nothing else told about (events are newest first).
        rows.entry(name.clone()).or_insert_with(|| PackageRow {
            package: name,
            version: e.version.clone().unwrap_or_default(),
            status,
            job: None,
            attempts: 0,
            successes: 0,
            failures: 0,
            last_timestamp: e.timestamp.clone(),
            verification: None,
        });
    }
    // The newest verification event of the row's version, for rows their job did not
    // tell about (reused wheels and the main job's runs).
    for e in events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Verified | EventKind::Broken))
    {
        let Some(package) = &e.package else { continue };
        let Some(row) = rows.get_mut(&refinery_index::normalize_name(package)) else {
            continue;
        };
        if row.verification.is_none() && e.version.as_deref() == Some(row.version.as_str()) {
            row.verification = badge(&e.data);
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, package: &str, status: JobStatus) -> Job {
        Job {
            id,
            package: package.into(),
            version: "1.0".into(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            recipe: Default::default(),
            status,
            priority: 0,
            attempt: 1,
            restarts: 0,
            lease_owner: None,
            lease_expires_ms: None,
            heartbeat_ms: None,
            cancel_requested: false,
            plan_id: None,
            input_id: None,
            detail: String::new(),
            result: serde_json::Value::Null,
            log_bytes: 0,
            created_ms: id,
            updated_ms: 1_700_000_000_000 + id,
            started_ms: None,
            finished_ms: None,
            cleared_ms: None,
        }
    }

    #[test]
    fn a_cancelled_rerun_does_not_hide_a_build() {
        let jobs = [
            job(1, "six", JobStatus::Built),
            job(2, "six", JobStatus::Cancelled),
        ];
        assert_eq!(representative(&jobs).unwrap().id, 1);
        let jobs = [
            job(1, "six", JobStatus::Built),
            job(3, "six", JobStatus::Pending),
        ];
        assert_eq!(representative(&jobs).unwrap().status, JobStatus::Pending);
        let jobs = [job(4, "six", JobStatus::Cancelled)];
        assert_eq!(representative(&jobs).unwrap().id, 4);
    }

    #[test]
    fn rows_use_job_words_and_list_reused_only_packages() {
        let summaries = [PackageSummary {
            package: "Markup_Safe".into(),
            attempts: 2,
            successes: 1,
            failures: 1,
            last_version: "2.1.5".into(),
            last_status: AttemptStatus::Success,
            last_timestamp: "2026-01-01T00:00:00.000Z".into(),
        }];
        let jobs = [job(7, "tinypure", JobStatus::Reused)];
        let events = [EventRow {
            id: 1,
            timestamp: "2026-01-02T00:00:00.000Z".into(),
            kind: EventKind::Missing,
            package: Some("gone".into()),
            version: Some("0.1".into()),
            run_id: None,
            detail: String::new(),
            data: serde_json::Value::Null,
        }];
        let rows = package_rows(&summaries, &jobs, &events);
        let by: BTreeMap<_, _> = rows.iter().map(|r| (r.package.as_str(), r)).collect();
        assert_eq!(by["markup-safe"].status, JobStatus::Built);
        assert_eq!(by["markup-safe"].attempts, 2);
        assert_eq!(by["tinypure"].status, JobStatus::Reused);
        assert_eq!(by["tinypure"].job, Some(7));
        assert_eq!(by["gone"].status, JobStatus::Missing);
        let json = serde_json::to_value(by["markup-safe"]).unwrap();
        assert_eq!(json["status"], "built");
        assert_eq!(json["verification"], serde_json::Value::Null);
    }

    #[test]
    fn rows_carry_the_verification_of_their_job_or_their_newest_event() {
        let checks = |outcome: &str| {
            serde_json::json!({"metadata": {"verification": {"level": "smoke", "duration_secs": 2.0,
                "checks": [{"name": "import", "outcome": "passed", "duration_secs": 1.0},
                           {"name": "smoke:orjson", "outcome": outcome, "duration_secs": 1.0}]}}})
        };
        let mut built = job(1, "orjson", JobStatus::Broken);
        built.version = "3.10.9".into();
        built.result = checks("failed");
        let event = |id: i64, kind: EventKind, package: &str, version: &str, data| EventRow {
            id,
            timestamp: "2026-01-02T00:00:00.000Z".into(),
            kind,
            package: Some(package.into()),
            version: Some(version.into()),
            run_id: None,
            detail: String::new(),
            data,
        };
        // Newest first: the reuse, then its verification, then an older version's.
        let events = [
            event(5, EventKind::Verified, "ujson", "5.10.0", checks("passed")),
            event(
                4,
                EventKind::Reuse,
                "ujson",
                "5.10.0",
                serde_json::Value::Null,
            ),
            event(3, EventKind::Broken, "ujson", "5.9.0", checks("crashed")),
        ];
        let rows = package_rows(&[], &[built], &events);
        let by: BTreeMap<_, _> = rows.iter().map(|r| (r.package.as_str(), r)).collect();
        assert_eq!(
            by["orjson"].verification,
            Some(VerificationBadge {
                level: "smoke".into(),
                outcome: "failed".into(),
                failed_check: Some("smoke:orjson".into()),
            })
        );
        let ujson = by["ujson"].verification.as_ref().unwrap();
        assert_eq!(
            (ujson.level.as_str(), ujson.outcome.as_str()),
            ("smoke", "passed")
        );
        assert_eq!(ujson.failed_check, None);
    }
}
