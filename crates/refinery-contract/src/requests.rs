//! The bodies of the dashboard's (and scripts') writes. Unknown fields are refused
//! (`400`), so a misspelt field is an error rather than silently ignored.

use refinery_store::queue::{JobStatus, Recipe};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/queue/enqueue`: queue one build (the seeds' retry request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    pub package: String,
    pub version: String,
    /// `3.11`.
    #[schema(example = "3.11")]
    pub python: Option<String>,
    /// `cp311` (instead of `python`).
    #[schema(example = "cp311")]
    pub python_tag: Option<String>,
    #[schema(example = "manylinux2014_s390x")]
    pub platform_tag: Option<String>,
    /// What the build may change: steps, variant, system packages, environment.
    #[serde(default)]
    pub recipe: Option<Recipe>,
    /// Recipe steps (instead of `recipe.steps`).
    #[serde(default)]
    pub steps: Vec<String>,
    /// Higher builds first.
    #[serde(default)]
    pub priority: i64,
}

/// `POST /api/queue/retry` (`ids` only; empty: every failed job) and `POST
/// /api/queue/clear` (empty: every finished job).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Job statuses (`failed`, `built`, …).
    #[serde(default)]
    pub statuses: Vec<JobStatus>,
}

/// `POST /api/hints` and `PUT /api/hints/{id}`: a hint added through the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HintRequest {
    /// A Rust regex matched against build logs (at most 500 characters).
    pub pattern: String,
    /// The packages it applies to (empty: every package).
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// `POST /api/plans/{id}/enqueue-build`: one node of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRequest {
    /// `name==version`, or a package name.
    pub node: Option<String>,
    /// A package name (instead of `node`).
    pub package: Option<String>,
}

/// `PUT /api/settings`: the settings to change; the others keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// Plan uploads as they arrive (`AUTO_PLAN`).
    pub auto_plan: Option<bool>,
    /// Enqueue the builds of new plans (`AUTO_BUILD`).
    pub auto_build: Option<bool>,
}

/// `GET /api/settings`, and the answer of `PUT /api/settings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// Plan uploads as they arrive (`AUTO_PLAN`).
    pub auto_plan: bool,
    /// Enqueue the builds of new plans (`AUTO_BUILD`).
    pub auto_build: bool,
}

impl From<refinery_store::queue::Settings> for Settings {
    fn from(s: refinery_store::queue::Settings) -> Settings {
        Settings {
            auto_plan: s.auto_plan,
            auto_build: s.auto_build,
        }
    }
}

/// `POST /api/session/token`: set the token cookie (or `?token=`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: Option<String>,
}
