//! Appending to the history: events, attempts and the artifact index.

use super::{Attempt, Event, History, HistoryError};
use crate::db::Value;
use crate::manifest::normalize_name;
use crate::time::now_rfc3339;

impl History {
    /// Appends an event; returns its id.
    pub fn record_event(&self, event: &Event) -> Result<i64, HistoryError> {
        let data = self.encode_json("event data", &event.data)?;
        let key = event.package.as_deref().map(normalize_name);
        self.insert(
            "INSERT INTO events (timestamp, kind, package, package_key, version, run_id, \
             detail, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            &[
                now_rfc3339().into(),
                event.kind.as_str().into(),
                event.package.as_ref().into(),
                key.into(),
                event.version.as_ref().into(),
                event.run_id.as_ref().into(),
                (&event.detail).into(),
                data.into(),
            ],
        )
    }

    /// Appends one finished build attempt; returns its id.
    pub fn record_attempt(&self, attempt: &Attempt) -> Result<i64, HistoryError> {
        let hints = self.encode_json("attempt hints", &attempt.hints)?;
        self.insert(
            "INSERT INTO attempts (timestamp, package, package_key, version, python_tag, \
             platform, variant, attempt, status, duration_secs, log_path, hints, worker, \
             run_id, detail, environment) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             RETURNING id",
            &[
                now_rfc3339().into(),
                (&attempt.package).into(),
                normalize_name(&attempt.package).into(),
                (&attempt.version).into(),
                (&attempt.python_tag).into(),
                (&attempt.platform).into(),
                attempt.variant.as_str().into(),
                Value::Int(i64::from(attempt.attempt)),
                attempt.status.as_str().into(),
                Value::Real(attempt.duration_secs),
                attempt.log_path.as_ref().into(),
                hints.into(),
                attempt.worker.as_ref().into(),
                attempt.run_id.as_ref().into(),
                (&attempt.detail).into(),
                attempt.environment.as_ref().into(),
            ],
        )
    }

    /// Records (or replaces) which CAS object holds the artifact `key`.
    pub fn record_artifact(
        &self,
        key: &str,
        filename: &str,
        sha256: &str,
    ) -> Result<(), HistoryError> {
        self.exec(
            "INSERT INTO artifacts (key, filename, sha256, recorded_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (key) DO UPDATE SET filename = excluded.filename, \
             sha256 = excluded.sha256, recorded_at = excluded.recorded_at",
            &[
                key.into(),
                filename.into(),
                sha256.into(),
                now_rfc3339().into(),
            ],
        )?;
        // The name keeps its bytes even when the key's row above is replaced.
        self.exec(
            "INSERT INTO artifact_names (filename, sha256) VALUES (?1, ?2) \
             ON CONFLICT (filename, sha256) DO NOTHING",
            &[filename.into(), sha256.into()],
        )?;
        Ok(())
    }
}
