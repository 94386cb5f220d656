//! The status glossary: one vocabulary for the queue ([`JobStatus`]), the manifest
//! ([`crate::manifest::Status`], a subset), the API (`GET /api/statuses`) and the
//! dashboard, with one meaning and one class per word.
//!
//! The class decides every number: a *build* is a job that ran a build (`built`, or a
//! failure after building); `reused` and `cached` give a wheel without building; `failed`
//! counts every outcome that fails a run (the manifest's [`Status::is_failure`]), so
//! `missing` counts as failed everywhere.

use serde::Serialize;

use crate::manifest::Status;
use crate::queue::JobStatus;

/// What a status amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// In the queue: `pending`, `retry`.
    Waiting,
    /// Held by a worker: `leased`, `building`.
    Running,
    /// Built from source now: `built`.
    Built,
    /// A usable wheel without a build: `reused`, `cached`.
    Reused,
    /// Fails a run: `failed`, `missing`, `system_recipe_failed`, `broken`.
    Failed,
    /// Left out on purpose: `skipped_known_failure`.
    Skipped,
    /// Stopped by someone: `cancelled`.
    Cancelled,
}

impl StatusClass {
    /// The `snake_case` name used in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            StatusClass::Waiting => "waiting",
            StatusClass::Running => "running",
            StatusClass::Built => "built",
            StatusClass::Reused => "reused",
            StatusClass::Failed => "failed",
            StatusClass::Skipped => "skipped",
            StatusClass::Cancelled => "cancelled",
        }
    }
}

/// One entry of the glossary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = GlossaryEntry))]
pub struct Entry {
    pub status: JobStatus,
    pub class: StatusClass,
    /// In words for people who are not packaging experts.
    pub meaning: &'static str,
}

impl JobStatus {
    /// The class of the status (see the module docs).
    pub fn class(&self) -> StatusClass {
        match self {
            JobStatus::Pending | JobStatus::Retry => StatusClass::Waiting,
            JobStatus::Leased | JobStatus::Building => StatusClass::Running,
            JobStatus::Built => StatusClass::Built,
            JobStatus::Reused | JobStatus::Cached => StatusClass::Reused,
            JobStatus::Failed
            | JobStatus::Missing
            | JobStatus::SystemRecipeFailed
            | JobStatus::Broken => StatusClass::Failed,
            JobStatus::SkippedKnownFailure => StatusClass::Skipped,
            JobStatus::Cancelled => StatusClass::Cancelled,
        }
    }

    /// What the status means, in one line.
    pub fn meaning(&self) -> &'static str {
        match self {
            JobStatus::Pending => "in the queue, waiting for a worker",
            JobStatus::Leased => "claimed by a worker, about to start",
            JobStatus::Building => "a worker is building it now",
            JobStatus::Retry => "back in the queue for another try",
            JobStatus::Built => "built from source, repaired and verified for s390x",
            JobStatus::Failed => "the build failed; see the log and hints",
            JobStatus::Cached => "a wheel built earlier from the same sdist was taken from the cache",
            JobStatus::Reused => "an existing wheel already works on s390x and was kept as is",
            JobStatus::Missing => "no source or usable wheel was found",
            JobStatus::SkippedKnownFailure => "skipped: this version failed before and nothing changed",
            JobStatus::SystemRecipeFailed => "installing the suggested system packages failed",
            JobStatus::Cancelled => "cancelled before it finished",
            JobStatus::Broken => "it installs but does not work on s390x: its imports, smoke test or self-test failed under emulation",
        }
    }
}

/// Every status with its class and meaning, in [`JobStatus::ALL`] order.
pub fn glossary() -> Vec<Entry> {
    JobStatus::ALL
        .into_iter()
        .map(|status| Entry {
            status,
            class: status.class(),
            meaning: status.meaning(),
        })
        .collect()
}

/// The queue's word for a manifest status (the manifest's words are a subset).
pub fn job_status_of(status: Status) -> JobStatus {
    status
        .as_str()
        .parse()
        .expect("every manifest status is a job status (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_speaks_the_queues_words_with_the_same_classes() {
        for status in Status::ALL {
            let job = job_status_of(status);
            assert_eq!(job.as_str(), status.as_str());
            assert_eq!(
                status.is_failure(),
                job.class() == StatusClass::Failed,
                "{status}"
            );
            assert_eq!(status.is_success(), job.is_success(), "{status}");
        }
    }

    #[test]
    fn classes_agree_with_the_queue_predicates() {
        for e in glossary() {
            assert_eq!(e.status.is_claimable(), e.class == StatusClass::Waiting);
            assert_eq!(e.status.is_active(), e.class == StatusClass::Running);
            assert_eq!(
                e.status.is_success(),
                matches!(e.class, StatusClass::Built | StatusClass::Reused)
            );
            assert!(!e.meaning.is_empty());
        }
        // A reuse is never a build; a missing package is a failure.
        assert_eq!(JobStatus::Reused.class(), StatusClass::Reused);
        assert_eq!(JobStatus::Cached.class(), StatusClass::Reused);
        assert_eq!(JobStatus::Missing.class(), StatusClass::Failed);
        for e in glossary() {
            assert_eq!(serde_json::to_value(e.class).unwrap(), e.class.as_str());
        }
        let json = serde_json::to_value(glossary()).unwrap();
        assert_eq!(json[0]["status"], "pending");
        assert_eq!(json[0]["class"], "waiting");
    }
}
