//! Storage for the s390x Wheel Refinery.
//!
//! * [`history`]: the SQLite history database (append-only events, one row per build
//!   attempt, the artifact index of the content-addressed store).
//! * [`manifest`]: `manifest.json` in the output folder, written atomically.
//! * [`cas`]: the content-addressed store of built wheels (`<root>/sha256/ab/cdef…`).
//! * [`queue`]: the control plane's build queue (leases, fencing, heartbeats), job logs,
//!   inputs, plans and settings, on SQLite or PostgreSQL.
//! * [`verification`]: what verification found for a wheel (imports, smoke tests,
//!   self-tests, evidence), carried by the manifest and the history.
//! * [`recorder`]: the [`Recorder`] a run reports to (events, attempts, build logs, the
//!   plan, final statuses), and its implementation over the history and the queue store.
//! * [`glossary`]: the status glossary, one vocabulary with one class per status for the
//!   queue, the manifest, the API and the dashboard.
//! * [`atomic`]: write a file through a temp file + fsync + rename, so readers never see it
//!   half-written.
//!
//! This crate deliberately does not depend on `refinery-pep`: names and versions are plain
//! strings here, the caller decides their canonical form.

pub mod atomic;
pub mod cas;
pub(crate) mod db;
pub mod file_id;
pub mod glossary;
pub mod history;
pub mod manifest;
pub mod queue;
mod queue_error;
pub mod recorder;
pub mod time;
pub mod verification;

pub use queue::{open_queue, QueueError, QueueStore};
pub use recorder::{PackageRecord, PlanRecord, RecordError, Recorder, StoreRecorder};

pub use atomic::{copy_atomic, write_atomic, write_executable_atomic};
pub use cas::{digest_file, sha256_file, sha256_hex, Cas, CasError};
pub use history::{
    Attempt, AttemptRow, AttemptStatus, Event, EventKind, EventRow, FailureSummary, History,
    HistoryError, PackageSummary, SlowSummary, Variant, VariantStats,
};
pub use manifest::{
    Manifest, ManifestEntry, ManifestError, ManifestMetadata, RejectedFile, Status,
};
pub use verification::{BrokenVersion, CheckOutcome, CheckResult, Verification};
