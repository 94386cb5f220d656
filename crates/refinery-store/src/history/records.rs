//! What the history stores and returns: events, attempts and summaries.

use serde::{Deserialize, Serialize};

use super::{AttemptStatus, EventKind, Variant};

/// Something that happened, to be appended to the history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Event {
    pub kind: EventKind,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub package: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub version: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub run_id: Option<String>,
    pub detail: String,
    /// Free-form structured data (stored as JSON text).
    pub data: serde_json::Value,
}

impl Event {
    /// An event of `kind` with a human-readable `detail` and nothing else.
    pub fn new(kind: EventKind, detail: impl Into<String>) -> Self {
        Event {
            kind,
            package: None,
            version: None,
            run_id: None,
            detail: detail.into(),
            data: serde_json::Value::Null,
        }
    }

    /// Sets the package and version.
    pub fn with_package(mut self, package: impl Into<String>, version: impl Into<String>) -> Self {
        self.package = Some(package.into());
        self.version = Some(version.into());
        self
    }

    /// Sets the run id.
    pub fn with_run(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Sets the structured data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// A stored event.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EventRow {
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    pub kind: EventKind,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub package: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub version: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub run_id: Option<String>,
    pub detail: String,
    pub data: serde_json::Value,
}

/// One finished build attempt.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Attempt {
    pub package: String,
    pub version: String,
    pub python_tag: String,
    pub platform: String,
    pub variant: Variant,
    pub attempt: u32,
    pub status: AttemptStatus,
    pub duration_secs: f64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub log_path: Option<String>,
    pub hints: Vec<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub worker: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub run_id: Option<String>,
    pub detail: String,
    /// The environment it ran in: a base (`rootfs-bookworm-…`) or `base+layer-…`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub environment: Option<String>,
}

/// A stored build attempt: its row id and time, then the attempt's own keys, in one
/// object.
// Rust code reads the attempt's fields through `Deref`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AttemptRow {
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    #[serde(flatten)]
    pub record: Attempt,
}

impl std::ops::Deref for AttemptRow {
    type Target = Attempt;

    fn deref(&self) -> &Attempt {
        &self.record
    }
}

/// A package's failed attempts: how many, and what the latest one said.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FailureSummary {
    /// The name as recorded by the latest failed attempt.
    pub package: String,
    pub failures: u64,
    pub last_version: String,
    pub last_detail: String,
    pub last_hints: Vec<String>,
}

/// Successes and failures of one build variant of a package.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct VariantStats {
    pub variant: Variant,
    pub successes: u64,
    pub failures: u64,
}
/// A package's build speed (successful attempts) and failures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SlowSummary {
    pub package: String,
    pub average_secs: f64,
    pub max_secs: f64,
    pub successes: u64,
    pub failures: u64,
}

/// One package of the history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageSummary {
    pub package: String,
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
    pub last_version: String,
    pub last_status: AttemptStatus,
    pub last_timestamp: String,
}
