//! The answers of the inputs' and plans' endpoints (`GET /api/pending-inputs`,
//! `/api/pending-inputs/{id}`, `POST /api/pending-inputs/{id}/enqueue-plan`,
//! `GET /api/plans`, `/api/plans/{id}`, `POST /api/plans/{id}/enqueue-build(s)`).

use refinery_store::queue::plan_body::PlanAction;
use refinery_store::queue::{Job, PendingInput, StoredPlan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/pending-inputs`: uploaded inputs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputsReply {
    pub inputs: Vec<PendingInput>,
}

/// `GET /api/pending-inputs/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputReply {
    pub input: PendingInput,
}

/// The answer of `POST /api/pending-inputs/{id}/enqueue-plan`: with `?wait=true` (`200`)
/// the input, its `plan` and the plan's `jobs`; without (`202`) the input and
/// `planning: true` (the plan is made in the background).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InputPlanReply {
    pub input: PendingInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub plan: Option<StoredPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jobs: Option<Vec<Job>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub planning: Option<bool>,
}

/// `GET /api/plans`: plans, newest first (their `body` is `null` in the listing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlansReply {
    pub plans: Vec<StoredPlan>,
}

/// `GET /api/plans/{id}`: a plan with its DAG (`plan.body`) and its jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanReply {
    pub plan: StoredPlan,
    pub jobs: Vec<Job>,
}

/// The answer of `POST /api/plans/{id}/enqueue-builds` and `/enqueue-build`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanEnqueued {
    /// Every job of the nodes asked for.
    pub jobs: Vec<Job>,
    /// How many of them this request created (the others were already queued or
    /// finished).
    pub created: u64,
}

/// The answer of `POST /api/requirements/upload` and `POST /api/wheels/upload` (`201`):
/// the stored input; for a wheel also what the scan decided about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputUploaded {
    pub input: PendingInput,
    /// Wheels only: `reuse` (works on the target as it is) or `rebuild`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decision: Option<ScanDecision>,
    /// Wheels only: why the scan decided so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// `AUTO_PLAN` is on: planning the input started.
    pub auto_plan: bool,
}

/// What the scan decided about a wheel (`refinery_plan::Decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanDecision {
    Reuse,
    Rebuild,
    Invalid,
}

/// A plan that holds a package (`GET /api/packages/{name}`): what it decided and whether
/// the package was queued from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedIn {
    pub plan_id: String,
    pub created_ms: i64,
    /// The node, `name==version`: what `POST /api/plans/{id}/enqueue-build` takes.
    pub node: String,
    pub version: String,
    pub action: PlanAction,
    pub reason: String,
    /// A job of this plan exists for the package (`false`: planned, not queued yet).
    pub queued: bool,
}
