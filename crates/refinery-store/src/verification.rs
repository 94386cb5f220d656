//! What verification found for one wheel, as the manifest (`metadata.verification`) and
//! the history events carry it: the modules imported, each smoke test and the package's
//! own self-test, with the evidence (the last lines they printed).

use serde::{Deserialize, Serialize};

/// How one verification check ended.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Passed,
    /// The check ran and reported a failure (exit status not 0).
    Failed,
    /// Killed at its time limit.
    TimedOut,
    /// The interpreter died of a signal (a segfault, an abort).
    Crashed,
    /// It failed because it needs the network, which verification cuts: no verdict.
    NeedsNetwork,
    /// Not run (nothing in the catalog for this package, or an earlier step failed).
    Skipped,
}

impl CheckOutcome {
    /// Whether this outcome makes the wheel fail verification.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            CheckOutcome::Failed | CheckOutcome::TimedOut | CheckOutcome::Crashed
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CheckOutcome::Passed => "passed",
            CheckOutcome::Failed => "failed",
            CheckOutcome::TimedOut => "timed_out",
            CheckOutcome::Crashed => "crashed",
            CheckOutcome::NeedsNetwork => "needs_network",
            CheckOutcome::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check: the import of the extension modules, a smoke test, or the self-test.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// `import`, `smoke:<catalog id>` or `tests:<catalog id>`.
    pub name: String,
    pub outcome: CheckOutcome,
    /// One line: why it failed (`exit status 1: AssertionError: …`, `killed after 120 s`,
    /// `signal 11 (SIGSEGV)`), or empty when it passed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The last lines it printed (at most [`EVIDENCE_LINES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Wall-clock seconds, one decimal.
    pub duration_secs: f64,
}

/// Lines of output kept as evidence per check.
pub const EVIDENCE_LINES: usize = 20;

/// Everything verification did for one wheel.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Verification {
    /// The level asked for: `import`, `smoke` or `tests`.
    pub level: String,
    /// Dotted names of the modules imported: the top-level ones and every compiled
    /// extension module of the wheel (from its RECORD).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The log that holds every line of every check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    /// Wall-clock seconds of the whole verification (install included), one decimal.
    pub duration_secs: f64,
}

impl Verification {
    /// The first check that failed, if one did.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.outcome.is_failure())
    }

    /// `smoke:orjson failed (…); tests:bitarray passed`: one line for details and logs.
    pub fn summary(&self) -> String {
        self.checks
            .iter()
            .map(|c| {
                if c.detail.is_empty() {
                    format!("{} {}", c.name, c.outcome)
                } else {
                    format!("{} {} ({})", c.name, c.outcome, c.detail)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A version `--fallback-latest` passed over because its reused wheel does not work on the
/// target: the evidence, kept on the entry of the version that took its place.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BrokenVersion {
    pub version: String,
    /// The wheel's file name.
    pub file: String,
    /// Why it is broken (as the `broken` entry's detail would say).
    pub detail: String,
    /// What verification found, when it ran (a wheel for another machine is not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_failed_timed_out_and_crashed_only() {
        use CheckOutcome::*;
        for outcome in [Failed, TimedOut, Crashed] {
            assert!(outcome.is_failure(), "{outcome}");
        }
        for outcome in [Passed, NeedsNetwork, Skipped] {
            assert!(!outcome.is_failure(), "{outcome}");
        }
    }

    #[test]
    fn round_trips_through_json_and_summarises() {
        let v = Verification {
            level: "smoke".into(),
            imported: vec!["orjson".into(), "orjson.orjson".into()],
            checks: vec![
                CheckResult {
                    name: "import".into(),
                    outcome: CheckOutcome::Passed,
                    detail: String::new(),
                    evidence: vec![],
                    duration_secs: 1.5,
                },
                CheckResult {
                    name: "smoke:orjson".into(),
                    outcome: CheckOutcome::Failed,
                    detail: "exit status 1".into(),
                    evidence: vec!["AssertionError: b'128'".into()],
                    duration_secs: 0.9,
                },
            ],
            log_path: None,
            duration_secs: 4.0,
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["checks"][1]["outcome"], "failed");
        assert_eq!(serde_json::from_value::<Verification>(json).unwrap(), v);
        assert_eq!(v.first_failure().unwrap().name, "smoke:orjson");
        assert_eq!(
            v.summary(),
            "import passed; smoke:orjson failed (exit status 1)"
        );
    }
}
