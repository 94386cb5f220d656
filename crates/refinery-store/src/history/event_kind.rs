//! What an event says happened: the `events.kind` column, the `kind` of [`super::Event`]
//! and [`super::EventRow`] in JSON, and the `?kind=` filter of `GET /api/events`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an event says happened. Serialized (JSON and database) as its string form, the
/// `snake_case` name of the variant (`plan`, `built`, `skipped_known_failure`, …).
///
/// **Rows written by other refinery versions.** The history is append-only and so is this
/// enum: a kind that any refinery ever wrote stays a variant with the same spelling, even
/// when nothing writes it any more, so a database filled by an older binary reads in full.
/// A kind this binary does not know (a newer refinery wrote it into a shared database, or
/// the file is damaged) is reported, not guessed: reading that row gives
/// [`super::HistoryError::Invalid`] naming the table, column, row id and value, as an
/// unknown `attempts.status` does. There is deliberately no catch-all `Other(String)`
/// variant: it would let a misspelled kind through at every writer and every `match` on a
/// kind would need a branch for words nobody defined.
///
/// To add a kind: add a variant here (and to [`EventKind::ALL`]); never rename or remove
/// one. The dashboard's `ui/src/lib/timeline.ts` sorts kinds into timeline steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A plan was made (CLI run or the server planning an input); `data` holds its counts.
    Plan,
    /// The server put a plan's nodes into the queue; `data` holds the job ids.
    Enqueue,
    /// An input wheel already works on the target and was kept.
    Reuse,
    /// A wheel built earlier from the same sdist for the same target came from the store.
    Cached,
    /// No source or usable wheel was found.
    Missing,
    /// A requirement known to fail was left out (no version to list in the manifest).
    Skipped,
    /// A version that failed before and nothing changed was left out
    /// (`--skip-known-failures`).
    SkippedKnownFailure,
    /// An input file was rejected by the scan (not a wheel or sdist, unreadable, …).
    Rejected,
    /// A build needed a build dependency that was not planned; it was planned and built
    /// first.
    DependencyExpansion,
    /// An environment layer with system packages was created or reused for a build.
    SystemRecipe,
    /// The hint catalog matched a build log (or a package up front).
    Hint,
    /// A build is retried with the actions of matching hints.
    HintActions,
    /// A build succeeded with fixes (packages, variant, hints): later runs start with them.
    LearnedFix,
    /// The native build frontend failed for a package; later runs emulate it at once.
    NativeFrontendFailed,
    /// A package was built from source, repaired and verified.
    Built,
    /// A package's build failed.
    Failure,
    /// A reused or cached wheel passed verification on the target.
    Verified,
    /// A wheel installs but does not work on the target (imports or checks failed).
    Broken,
    /// The run ended; `detail` holds the counts per status.
    RunEnd,
    /// A package's build was stopped before it ended (a cancelled job, a stopped run or
    /// worker): not a failure of the package.
    Cancelled,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 20] = [
        EventKind::Plan,
        EventKind::Enqueue,
        EventKind::Reuse,
        EventKind::Cached,
        EventKind::Missing,
        EventKind::Skipped,
        EventKind::SkippedKnownFailure,
        EventKind::Rejected,
        EventKind::DependencyExpansion,
        EventKind::SystemRecipe,
        EventKind::Hint,
        EventKind::HintActions,
        EventKind::LearnedFix,
        EventKind::NativeFrontendFailed,
        EventKind::Built,
        EventKind::Failure,
        EventKind::Verified,
        EventKind::Broken,
        EventKind::RunEnd,
        EventKind::Cancelled,
    ];

    /// The string form (the JSON and the database hold it).
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Plan => "plan",
            EventKind::Enqueue => "enqueue",
            EventKind::Reuse => "reuse",
            EventKind::Cached => "cached",
            EventKind::Missing => "missing",
            EventKind::Skipped => "skipped",
            EventKind::SkippedKnownFailure => "skipped_known_failure",
            EventKind::Rejected => "rejected",
            EventKind::DependencyExpansion => "dependency_expansion",
            EventKind::SystemRecipe => "system_recipe",
            EventKind::Hint => "hint",
            EventKind::HintActions => "hint_actions",
            EventKind::LearnedFix => "learned_fix",
            EventKind::NativeFrontendFailed => "native_frontend_failed",
            EventKind::Built => "built",
            EventKind::Failure => "failure",
            EventKind::Verified => "verified",
            EventKind::Broken => "broken",
            EventKind::RunEnd => "run_end",
            EventKind::Cancelled => "cancelled",
        }
    }

    /// The string forms of every kind, comma-separated (for error messages).
    #[must_use]
    pub fn known() -> String {
        EventKind::ALL.map(|k| k.as_str()).join(", ")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<10}` in tables lines up.
        f.pad(self.as_str())
    }
}

/// Error of [`EventKind::from_str`], carrying the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown event kind `{input}`; expected one of: {}",
    EventKind::known()
)]
pub struct ParseEventKindError {
    pub input: String,
}

impl FromStr for EventKind {
    type Err = ParseEventKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| ParseEventKindError {
                input: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip_through_str_and_json() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
        let mut spellings: Vec<_> = EventKind::ALL.iter().map(EventKind::as_str).collect();
        spellings.sort_unstable();
        spellings.dedup();
        assert_eq!(
            spellings.len(),
            EventKind::ALL.len(),
            "one spelling per kind"
        );
    }

    /// The spellings that databases already hold (every kind any refinery wrote): they must
    /// keep reading as the same kinds.
    #[test]
    fn stored_spellings_do_not_change() {
        let stored = [
            "plan",
            "enqueue",
            "reuse",
            "cached",
            "missing",
            "skipped",
            "skipped_known_failure",
            "rejected",
            "dependency_expansion",
            "system_recipe",
            "hint",
            "hint_actions",
            "learned_fix",
            "native_frontend_failed",
            "built",
            "failure",
            "verified",
            "broken",
            "run_end",
            "cancelled",
        ];
        let parsed: Vec<EventKind> = stored.iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(parsed, EventKind::ALL);
    }

    #[test]
    fn unknown_kinds_are_refused_with_the_input_and_the_known_ones() {
        for bad in ["Built", "build_start", "", "run-end"] {
            let err = bad.parse::<EventKind>().unwrap_err();
            assert_eq!(err.input, bad);
            let message = err.to_string();
            assert!(message.contains(&format!("`{bad}`")), "{message}");
            assert!(message.contains("plan, enqueue, reuse"), "{message}");
            assert!(message.ends_with("run_end, cancelled"), "{message}");
        }
        let err = serde_json::from_str::<EventKind>("\"build_start\"").unwrap_err();
        assert!(err.to_string().contains("build_start"), "{err}");
    }

    #[test]
    fn display_pads_like_a_string() {
        assert_eq!(format!("{:<8}|", EventKind::Plan), "plan    |");
        assert_eq!(format!("{}", EventKind::RunEnd), "run_end");
    }
}
