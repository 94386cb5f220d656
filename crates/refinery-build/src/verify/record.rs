//! What verification found for a wheel the refinery built, kept next to the wheel in the
//! cache (`<cache>/verifications/v1/<wheel sha256>.json`, the [`Verification`] as JSON),
//! so that a later run that takes the wheel from the cache knows which level it passed.
//! A cached wheel is verified again when the run asks for a stricter level than its
//! record, or when it has no record (built before records were kept, or the record was
//! removed); see [`crate::verify_reused`].

use std::path::Path;

use refinery_store::Verification;

use super::VerifyLevel;

use crate::write_error::WriteFileError;

/// The records' folder below the cache.
pub const RECORDS_DIR: &str = "verifications/v1";

/// Keep `verification` as the record of the wheel whose sha256 (hex) is `sha256`,
/// atomically. Errors name the file.
pub fn write(
    cache: &Path,
    sha256: &str,
    verification: &Verification,
) -> Result<(), WriteFileError> {
    crate::sha_records::write(
        &cache.join(RECORDS_DIR),
        sha256,
        "verification record",
        verification,
    )
}

/// The record of the wheel `sha256`, if there is a readable one.
pub fn read(cache: &Path, sha256: &str) -> Option<Verification> {
    crate::sha_records::read(&cache.join(RECORDS_DIR), sha256)
}

/// Whether `record` spares a verification at `level`: it passed (no check failed) at
/// `level` or a stricter one, and no check was skipped because its job was stopped
/// (such records were written by earlier versions).
pub fn covers(record: &Verification, level: VerifyLevel) -> bool {
    record.first_failure().is_none()
        && !record.checks.iter().any(|check| {
            check.outcome == refinery_store::CheckOutcome::Skipped
                && check.detail == super::sandbox::STOPPED_DETAIL
        })
        && record
            .level
            .parse::<VerifyLevel>()
            .is_ok_and(|passed| passed >= level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::{CheckOutcome, CheckResult};

    fn record(level: &str, outcome: CheckOutcome) -> Verification {
        Verification {
            level: level.into(),
            checks: vec![CheckResult {
                name: "import".into(),
                outcome,
                detail: String::new(),
                evidence: Vec::new(),
                duration_secs: 1.0,
            }],
            ..Verification::default()
        }
    }

    #[test]
    fn a_record_with_a_check_skipped_by_a_stop_covers_nothing() {
        let mut stopped = record("smoke", CheckOutcome::Passed);
        stopped.checks.push(CheckResult {
            name: "smoke:numpy".into(),
            outcome: CheckOutcome::Skipped,
            detail: crate::verify::sandbox::STOPPED_DETAIL.into(),
            evidence: Vec::new(),
            duration_secs: 0.0,
        });
        assert!(!covers(&stopped, VerifyLevel::Import));
        stopped.checks[1].detail = "the smoke-test catalog has nothing for numpy 2.4".into();
        assert!(covers(&stopped, VerifyLevel::Smoke));
    }

    #[test]
    fn a_record_covers_its_level_and_the_weaker_ones_only_when_it_passed() {
        let smoke = record("smoke", CheckOutcome::Passed);
        assert!(covers(&smoke, VerifyLevel::Import));
        assert!(covers(&smoke, VerifyLevel::Smoke));
        assert!(!covers(&smoke, VerifyLevel::Tests));
        assert!(!covers(
            &record("tests", CheckOutcome::Failed),
            VerifyLevel::Import
        ));
        assert!(!covers(
            &record("everything", CheckOutcome::Passed),
            VerifyLevel::Import
        ));
    }

    #[test]
    fn records_round_trip_by_wheel_digest() {
        let cache = tempfile::tempdir().unwrap();
        let sha = "ab".repeat(32);
        assert_eq!(read(cache.path(), &sha), None);
        let smoke = record("smoke", CheckOutcome::Passed);
        write(cache.path(), &sha, &smoke).unwrap();
        assert_eq!(read(cache.path(), &sha), Some(smoke));
        assert!(cache
            .path()
            .join(RECORDS_DIR)
            .join(format!("{sha}.json"))
            .is_file());
        assert_eq!(read(cache.path(), &"cd".repeat(32)), None);
    }
}
