//! What the control plane keeps besides jobs: uploaded inputs and their status, plans,
//! runtime settings, the wheels the `/simple` index publishes, and users' hints.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::queue_error::QueueError;

/// State of a pending input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputStatus {
    Pending,
    Planning,
    Planned,
    BuildQueued,
    Failed,
}

impl InputStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            InputStatus::Pending => "pending",
            InputStatus::Planning => "planning",
            InputStatus::Planned => "planned",
            InputStatus::BuildQueued => "build_queued",
            InputStatus::Failed => "failed",
        }
    }
}

impl FromStr for InputStatus {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            InputStatus::Pending,
            InputStatus::Planning,
            InputStatus::Planned,
            InputStatus::BuildQueued,
            InputStatus::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| QueueError::Invalid(format!("unknown input status `{s}`")))
    }
}

/// An uploaded input to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInput {
    /// `requirements` or `wheel`.
    pub kind: String,
    pub filename: String,
    /// Where the file is stored, relative to the cache folder.
    pub path: String,
    pub size: i64,
    pub sha256: String,
}

/// A stored input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PendingInput {
    pub id: i64,
    pub kind: String,
    pub filename: String,
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub status: InputStatus,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub plan_id: Option<String>,
    pub error: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StoredPlan {
    pub id: String,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub input_id: Option<i64>,
    pub python: String,
    pub platform_tag: String,
    /// Counts: reuse, build, missing, rejected, skipped (shaped as `PlanSummary`).
    #[cfg_attr(feature = "schema", schema(value_type = super::plan_body::PlanSummary))]
    pub summary: serde_json::Value,
    /// The whole plan (nodes and edges, shaped as `PlanBody`); `null` in
    /// listings.
    #[cfg_attr(
        feature = "schema",
        schema(value_type = Option<super::plan_body::PlanBody>, required = true)
    )]
    pub body: serde_json::Value,
    pub created_ms: i64,
}

/// Runtime settings of the control plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Plan uploads as they arrive.
    pub auto_plan: bool,
    /// Enqueue the builds of new plans.
    pub auto_build: bool,
}

/// A wheel listed by the `/simple` index, stored in the content-addressed store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PublishedFile {
    pub filename: String,
    /// PEP 503 normalized project name.
    pub project: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub requires_python: Option<String>,
    /// sha256 of the wheel's METADATA (PEP 658), also in the store.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub metadata_sha256: Option<String>,
    /// `built`, `cached`, `reused`, `uploaded`.
    pub origin: String,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub job_id: Option<i64>,
    pub created_ms: i64,
}

/// A hint added through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = UserHint))]
pub struct Hint {
    pub id: i64,
    /// Regular expression matched against build log lines.
    pub pattern: String,
    /// Suggested system packages.
    pub packages: Vec<String>,
    pub note: String,
    pub created_ms: i64,
}
