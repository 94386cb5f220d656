//! The answers of the history's read side (`GET /api/events`, `/api/status-counts`,
//! `/api/statuses`, `/api/packages`, `/api/packages/{name}`, `/api/top-failures`,
//! `/api/top-slowest`). The rows are the store's own records ([`refinery_store`]).

use std::collections::{BTreeMap, BTreeSet};

use refinery_store::glossary::Entry;
use refinery_store::queue::{Job, JobStatus};
use refinery_store::{
    AttemptRow, AttemptStatus, EventKind, EventRow, FailureSummary, SlowSummary, VariantStats,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/events`: a page of history events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventRow>,
    /// The `?before` of the next page: the id of this page's last event when the page is
    /// full, else `null` (no more events).
    #[schema(required = true)]
    pub next_before: Option<i64>,
}

/// `GET /api/status-counts`: how many events of each kind and attempts of each status
/// the history holds (kinds and statuses without any are absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusCounts {
    pub events: BTreeMap<EventKind, u64>,
    pub attempts: BTreeMap<AttemptStatus, u64>,
}

/// `GET /api/statuses`: the status glossary ([`refinery_store::glossary`]), every job
/// status with its class and meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusGlossary {
    pub statuses: Vec<Entry>,
}

/// `GET /api/packages`: one row per package, in the glossary's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PackagesReply {
    pub packages: Vec<PackageRow>,
}

/// A package as the Packages page lists it (built by the server from the queue's jobs,
/// the history's attempts and its `reuse`/`cached`/`missing`/… events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PackageRow {
    /// PEP 503 normalized name.
    pub package: String,
    /// The version [`PackageRow::status`] is about.
    pub version: String,
    /// A job status word (the glossary), never an attempt's `success`.
    pub status: JobStatus,
    /// The job the status comes from, when it comes from the queue.
    #[schema(required = true)]
    pub job: Option<i64>,
    /// Build attempts recorded in the history, and how many succeeded or failed.
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
    /// RFC 3339 UTC: when anything last happened to it.
    pub last_timestamp: String,
    /// What verification did for the version the row is about: from its job's result,
    /// else from the history's newest `verified`/`broken` event; `null` when neither says.
    #[schema(required = true)]
    pub verification: Option<VerificationBadge>,
}

/// Verification in two words: the level asked for and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerificationBadge {
    /// `import`, `smoke` or `tests`.
    pub level: String,
    /// `passed`, or the first failing check's outcome (`failed`, `timed_out`, `crashed`).
    pub outcome: String,
    /// The first failing check's name (`smoke:orjson`), when one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failed_check: Option<String>,
}

/// `GET /api/packages/{name}`: everything known about one package, plans included (a
/// `404` when nothing is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PackageDetail {
    /// PEP 503 normalized name.
    pub name: String,
    /// The newest 100 build attempts, newest first.
    pub attempts: Vec<AttemptRow>,
    /// Successes and failures per build variant.
    pub variants: Vec<VariantStats>,
    /// The newest 100 events about it, newest first.
    pub events: Vec<EventRow>,
    /// The failed (or timed-out) ones among `attempts`.
    pub failures: Vec<AttemptRow>,
    /// Every hint the attempts matched, sorted, once each.
    pub hints: BTreeSet<String>,
    /// Mean seconds of the successful attempts; `null` without any.
    #[schema(required = true)]
    pub average_duration_secs: Option<f64>,
    /// Its newest 50 queue jobs.
    pub jobs: Vec<Job>,
    /// The newest 20 plans that hold it, newest first: a package planned but not queued
    /// yet is known by these alone.
    pub plans: Vec<crate::PlannedIn>,
}

/// `GET /api/top-failures`: packages by failed attempts, most first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TopFailures {
    pub top_failures: Vec<FailureSummary>,
}

/// `GET /api/top-slowest`: packages by mean successful build time, slowest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TopSlowest {
    pub top_slowest: Vec<SlowSummary>,
}
