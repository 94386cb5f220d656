//! How a build attempt ended: the `attempts.status` column and the `status` of
//! [`super::Attempt`] in JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a build attempt ended. Serialized (JSON and database) as its string form:
/// `success`, `failed`, `timeout`, `cancelled`, `lost`.
///
/// `success` is a success; `cancelled` and `lost` are neutral (neither success nor
/// failure: the run was stopped, or its worker vanished); `failed` and `timeout` are
/// failures.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Built, repaired and verified.
    Success,
    /// The build, repair or verification failed (the default: nothing said it worked).
    #[default]
    Failed,
    /// The attempt ran out of time.
    Timeout,
    /// The run was stopped while the attempt ran.
    Cancelled,
    /// The worker stopped answering while the attempt ran (its lease expired and the
    /// control plane took the job back): nothing is known of the build's outcome.
    Lost,
}

impl AttemptStatus {
    /// Every status, in declaration order.
    pub const ALL: [AttemptStatus; 5] = [
        AttemptStatus::Success,
        AttemptStatus::Failed,
        AttemptStatus::Timeout,
        AttemptStatus::Cancelled,
        AttemptStatus::Lost,
    ];

    /// The string form (the JSON and the database hold it).
    pub fn as_str(&self) -> &'static str {
        match self {
            AttemptStatus::Success => "success",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Timeout => "timeout",
            AttemptStatus::Cancelled => "cancelled",
            AttemptStatus::Lost => "lost",
        }
    }

    /// True for `failed` and `timeout` (the SQL of the history's summaries says the same).
    pub fn is_failure(&self) -> bool {
        matches!(self, AttemptStatus::Failed | AttemptStatus::Timeout)
    }

    /// True for `success`.
    pub fn is_success(&self) -> bool {
        *self == AttemptStatus::Success
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<8}` in tables lines up.
        f.pad(self.as_str())
    }
}

/// Error of [`AttemptStatus::from_str`], carrying the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown attempt status `{input}`; expected one of: success, failed, timeout, cancelled, lost"
)]
pub struct ParseAttemptStatusError {
    pub input: String,
}

impl FromStr for AttemptStatus {
    type Err = ParseAttemptStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttemptStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseAttemptStatusError {
                input: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip_through_str_and_json() {
        for status in AttemptStatus::ALL {
            assert_eq!(status.as_str().parse::<AttemptStatus>().unwrap(), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(
                serde_json::from_str::<AttemptStatus>(&json).unwrap(),
                status
            );
        }
    }

    #[test]
    fn unknown_spellings_are_refused_with_the_input() {
        // `canceled` was accepted by the readers once but nothing ever wrote it.
        for bad in ["canceled", "Success", "", "skipped"] {
            let err = bad.parse::<AttemptStatus>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn classification() {
        assert!(AttemptStatus::Success.is_success());
        assert!(!AttemptStatus::Success.is_failure());
        assert!(!AttemptStatus::Cancelled.is_failure());
        assert!(!AttemptStatus::Cancelled.is_success());
        assert!(!AttemptStatus::Lost.is_failure());
        assert!(!AttemptStatus::Lost.is_success());
        assert!(AttemptStatus::Failed.is_failure());
        assert!(AttemptStatus::Timeout.is_failure());
    }
}
