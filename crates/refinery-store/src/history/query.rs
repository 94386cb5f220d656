//! Reading the history: events, attempts and the summaries the dashboard shows.

use std::collections::{BTreeMap, HashMap};

use refinery_pep::PackageName;

use super::db::{count, limit_param, real};
use super::{
    Attempt, AttemptRow, AttemptStatus, EventKind, EventRow, FailureSummary, History, HistoryError,
    PackageSummary, SlowSummary, VariantStats,
};
use crate::db::{RowExt, Value};
use crate::manifest::normalize_name;

/// SQL condition: the attempt failed (see the module docs).
macro_rules! failed {
    () => {
        "status NOT IN ('success', 'cancelled', 'lost')"
    };
}
/// SQL condition: the attempt counts as a success or a failure (not neutral).
macro_rules! decisive {
    () => {
        "status NOT IN ('cancelled', 'lost')"
    };
}

/// SQL expression: the number of successful attempts of the group.
macro_rules! successes {
    () => {
        "COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0)"
    };
}
/// SQL expression: the number of failed attempts of the group (see the module docs).
macro_rules! failures {
    () => {
        "COALESCE(SUM(CASE WHEN status NOT IN ('success', 'cancelled', 'lost') THEN 1 ELSE 0 END), 0)"
    };
}

impl History {
    fn query_events(&self, sql: &str, params: &[Value]) -> Result<Vec<EventRow>, HistoryError> {
        self.rows(sql, params)?
            .iter()
            .map(|row| {
                let id = row.int(0);
                Ok(EventRow {
                    id,
                    timestamp: row.text(1),
                    kind: self.parse_column("events", "kind", id, row.text(2))?,
                    package: row.opt_text(3),
                    version: row.opt_text(4),
                    run_id: row.opt_text(5),
                    detail: row.text(6),
                    data: self.decode_json("events", "data", id, &row.text(7))?,
                })
            })
            .collect()
    }

    /// The latest events, newest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             ORDER BY id DESC LIMIT ?1",
            &[limit_param(limit)],
        )
    }

    /// The latest events of one package (matched by its normalized name, so events
    /// recorded for `PyYAML` are found for `pyyaml`), newest first.
    pub fn events_for(
        &self,
        package: &PackageName,
        limit: usize,
    ) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             WHERE package_key = ?1 ORDER BY id DESC LIMIT ?2",
            &[package_key(package).into(), limit_param(limit)],
        )
    }

    /// The latest build attempts of one package (matched by its normalized name), newest
    /// first.
    pub fn attempts_for(
        &self,
        package: &PackageName,
        limit: usize,
    ) -> Result<Vec<AttemptRow>, HistoryError> {
        self.attempt_rows(
            "WHERE package_key = ?1 ORDER BY id DESC LIMIT ?2",
            &[package_key(package).into(), limit_param(limit)],
        )
    }

    /// The newest `limit` build attempts of every package, newest first.
    pub fn recent_attempts(&self, limit: usize) -> Result<Vec<AttemptRow>, HistoryError> {
        self.attempt_rows("ORDER BY id DESC LIMIT ?1", &[limit_param(limit)])
    }

    /// Attempt rows selected by `tail` (a `WHERE`/`ORDER BY`/`LIMIT` clause).
    fn attempt_rows(
        &self,
        tail: &str,
        params: &[crate::db::Value],
    ) -> Result<Vec<AttemptRow>, HistoryError> {
        self.rows(
            &format!(
                "SELECT id, timestamp, package, version, python_tag, platform, variant, \
                 attempt, status, duration_secs, log_path, hints, worker, run_id, detail, \
                 environment FROM attempts {tail}"
            ),
            params,
        )?
        .iter()
        .map(|row| {
            let id = row.int(0);
            Ok(AttemptRow {
                id,
                timestamp: row.text(1),
                record: Attempt {
                    package: row.text(2),
                    version: row.text(3),
                    python_tag: row.text(4),
                    platform: row.text(5),
                    variant: self.parse_column("attempts", "variant", id, row.text(6))?,
                    attempt: u32::try_from(row.int(7)).unwrap_or(0),
                    status: self.parse_column("attempts", "status", id, row.text(8))?,
                    duration_secs: real(row, 9),
                    log_path: row.opt_text(10),
                    hints: self.decode_json("attempts", "hints", id, &row.text(11))?,
                    worker: row.opt_text(12),
                    run_id: row.opt_text(13),
                    detail: row.text(14),
                    environment: row.opt_text(15),
                },
            })
        })
        .collect()
    }

    /// Packages by number of failed attempts (most first, then by name), with the version,
    /// detail and hints of each package's latest failed attempt.
    pub fn top_failures(&self, limit: usize) -> Result<Vec<FailureSummary>, HistoryError> {
        self.rows(
            concat!(
                "SELECT a.package, f.failures, a.version, a.detail, a.hints, a.id \
                 FROM (SELECT package_key, COUNT(*) AS failures, MAX(id) AS last_id \
                       FROM attempts WHERE ",
                failed!(),
                " GROUP BY package_key) AS f \
                 JOIN attempts AS a ON a.id = f.last_id \
                 ORDER BY f.failures DESC, f.package_key ASC LIMIT ?1"
            ),
            &[limit_param(limit)],
        )?
        .iter()
        .map(|row| {
            Ok(FailureSummary {
                package: row.text(0),
                failures: count(row, 1),
                last_version: row.text(2),
                last_detail: row.text(3),
                last_hints: self.decode_json("attempts", "hints", row.int(5), &row.text(4))?,
            })
        })
        .collect()
    }

    /// Mean duration in seconds of the successful attempts, keyed by PEP 503 normalized
    /// package name.
    pub fn average_durations(&self) -> Result<HashMap<String, f64>, HistoryError> {
        Ok(self
            .rows(
                "SELECT package_key, AVG(duration_secs) FROM attempts \
                 WHERE status = 'success' GROUP BY package_key",
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), real(row, 1)))
            .collect())
    }

    /// `(package, version)` pairs whose latest decisive attempt (ignoring cancelled and
    /// skipped ones) failed, i.e. that never succeeded after their last failure. Package
    /// names are PEP 503 normalized; sorted by package, then version.
    pub fn known_failures(&self) -> Result<Vec<(String, String)>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT a.package_key, a.version \
                     FROM (SELECT MAX(id) AS last_id FROM attempts WHERE ",
                    decisive!(),
                    " GROUP BY package_key, version) AS l \
                     JOIN attempts AS a ON a.id = l.last_id \
                     WHERE a.",
                    failed!(),
                    " ORDER BY a.package_key, a.version"
                ),
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), row.text(1)))
            .collect())
    }

    /// Successes and failures per build variant of one package, sorted by variant.
    pub fn variant_stats(&self, package: &PackageName) -> Result<Vec<VariantStats>, HistoryError> {
        self.rows(
            concat!(
                "SELECT variant, ",
                successes!(),
                ", ",
                failures!(),
                ", MAX(id) FROM attempts WHERE package_key = ?1 GROUP BY variant ORDER BY variant"
            ),
            &[package_key(package).into()],
        )?
        .iter()
        .map(|row| {
            Ok(VariantStats {
                variant: self.parse_column("attempts", "variant", row.int(3), row.text(0))?,
                successes: count(row, 1),
                failures: count(row, 2),
            })
        })
        .collect()
    }

    /// Number of events per kind (in JSON an object keyed by the kinds' string forms).
    ///
    /// # Errors
    /// [`HistoryError::Invalid`] for a kind this refinery does not know, naming the newest
    /// row that holds it.
    pub fn status_counts(&self) -> Result<BTreeMap<EventKind, u64>, HistoryError> {
        self.rows(
            "SELECT kind, COUNT(*), MAX(id) FROM events GROUP BY kind",
            &[],
        )?
        .iter()
        .map(|row| {
            let kind = self.parse_column("events", "kind", row.int(2), row.text(0))?;
            Ok((kind, count(row, 1)))
        })
        .collect()
    }

    /// The `(filename, sha256)` recorded for the artifact `key`.
    pub fn lookup_artifact(&self, key: &str) -> Result<Option<(String, String)>, HistoryError> {
        Ok(self
            .rows(
                "SELECT filename, sha256 FROM artifacts WHERE key = ?1",
                &[key.into()],
            )?
            .first()
            .map(|row| (row.text(0), row.text(1))))
    }

    /// The sha256 of every artifact ever recorded under `filename` (any key, also rows
    /// replaced since), sorted: another one than a wheel's means the name was given to
    /// other bytes before (see the build number in `refinery-build`'s naming).
    pub fn artifact_sha256s(&self, filename: &str) -> Result<Vec<String>, HistoryError> {
        Ok(self
            .rows(
                "SELECT sha256 FROM artifact_names WHERE filename = ?1 ORDER BY sha256",
                &[filename.into()],
            )?
            .iter()
            .map(|row| row.text(0))
            .collect())
    }

    /// Every artifact of the index: `(key, filename, sha256)`, by filename.
    pub fn artifacts(&self) -> Result<Vec<(String, String, String)>, HistoryError> {
        Ok(self
            .rows(
                "SELECT key, filename, sha256 FROM artifacts ORDER BY filename",
                &[],
            )?
            .iter()
            .map(|row| (row.text(0), row.text(1), row.text(2)))
            .collect())
    }

    /// Events newest first, optionally of one package (matched by its normalized name)
    /// and/or one kind, older than `before_id` (for paging).
    pub fn events_page(
        &self,
        package: Option<&PackageName>,
        kind: Option<EventKind>,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRow>, HistoryError> {
        self.query_events(
            "SELECT id, timestamp, kind, package, version, run_id, detail, data FROM events \
             WHERE (CAST(?1 AS TEXT) IS NULL OR package_key = ?1) \
             AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) \
             AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4",
            &[
                package.map(package_key).into(),
                kind.map(|k| k.as_str()).into(),
                before_id.into(),
                limit_param(limit),
            ],
        )
    }

    /// Packages by mean duration of their successful attempts (slowest first), with
    /// their failure counts.
    pub fn top_slowest(&self, limit: usize) -> Result<Vec<SlowSummary>, HistoryError> {
        Ok(self
            .rows(
                concat!(
                    "SELECT MAX(package), \
                            AVG(CASE WHEN status = 'success' THEN duration_secs END), \
                            MAX(duration_secs), ",
                    successes!(),
                    ", ",
                    failures!(),
                    " FROM attempts GROUP BY package_key HAVING ",
                    successes!(),
                    " > 0 ORDER BY 2 DESC, package_key LIMIT ?1"
                ),
                &[limit_param(limit)],
            )?
            .iter()
            .map(|row| SlowSummary {
                package: row.text(0),
                average_secs: real(row, 1),
                max_secs: real(row, 2),
                successes: count(row, 3),
                failures: count(row, 4),
            })
            .collect())
    }

    /// Every package with attempts or events: counts and its latest attempt.
    pub fn packages(&self, limit: usize) -> Result<Vec<PackageSummary>, HistoryError> {
        self.rows(
            concat!(
                "SELECT a.package, s.attempts, s.successes, s.failures, a.version, \
                            a.status, a.timestamp, a.id \
                     FROM (SELECT package_key, COUNT(*) AS attempts, ",
                successes!(),
                " AS successes, ",
                failures!(),
                " AS failures, MAX(id) AS last_id \
                           FROM attempts GROUP BY package_key) AS s \
                     JOIN attempts AS a ON a.id = s.last_id \
                     ORDER BY s.package_key LIMIT ?1"
            ),
            &[limit_param(limit)],
        )?
        .iter()
        .map(|row| {
            Ok(PackageSummary {
                package: row.text(0),
                attempts: count(row, 1),
                successes: count(row, 2),
                failures: count(row, 3),
                last_version: row.text(4),
                last_status: self.parse_column("attempts", "status", row.int(7), row.text(5))?,
                last_timestamp: row.text(6),
            })
        })
        .collect()
    }

    /// Number of attempts per status (statuses without attempts are absent). A status
    /// this binary does not know is [`HistoryError::Invalid`], as for [`Self::status_counts`].
    pub fn attempt_status_counts(&self) -> Result<BTreeMap<AttemptStatus, u64>, HistoryError> {
        self.rows(
            "SELECT status, COUNT(*), MAX(id) FROM attempts GROUP BY status",
            &[],
        )?
        .iter()
        .map(|row| {
            let status = self.parse_column("attempts", "status", row.int(2), row.text(0))?;
            Ok((status, count(row, 1)))
        })
        .collect()
    }

    /// A histogram of attempt durations: the cumulative count at or below each bound of
    /// `bounds` (ascending), the total count and the sum of seconds.
    pub fn duration_histogram(&self, bounds: &[f64]) -> Result<(Vec<u64>, u64, f64), HistoryError> {
        let durations: Vec<f64> = self
            .rows("SELECT duration_secs FROM attempts", &[])?
            .iter()
            .map(|row| real(row, 0))
            .collect();
        let cumulative = bounds
            .iter()
            .map(|b| durations.iter().filter(|d| **d <= *b).count() as u64)
            .collect();
        Ok((cumulative, durations.len() as u64, durations.iter().sum()))
    }
}

/// The `package_key` column's value for `package`: the writers store
/// [`normalize_name`] of the name as given, which is a valid name's PEP 503 form, the
/// string form of [`PackageName`].
fn package_key(package: &PackageName) -> String {
    normalize_name(package.as_ref())
}
