//! A plan as the Plans page lists it: the row (id, target, counts, the whole plan) and
//! the plan file, made the same way for every entry point (the binary, the server).

use refinery_plan::{Action, Plan};
use refinery_store::queue::StoredPlan;
use refinery_store::PlanRecord;

/// The record of `plan` (from input `input_id`, if an uploaded input was planned).
/// `summary` counts nodes by action: `{reuse, build, missing, rejected, skipped}`.
pub fn plan_record(plan: &Plan, input_id: Option<i64>) -> Result<PlanRecord, serde_json::Error> {
    Ok(PlanRecord {
        stored: StoredPlan {
            id: plan.id.clone(),
            input_id,
            python: plan.python.clone(),
            platform_tag: plan.platform_tag.clone(),
            summary: serde_json::json!({
                "reuse": plan.count(Action::Reuse),
                "build": plan.count(Action::Build),
                "missing": plan.count(Action::Missing),
                "rejected": plan.rejected.len(),
                "skipped": plan.skipped.len(),
            }),
            body: serde_json::to_value(plan)?,
            created_ms: 0,
        },
        file: serde_json::to_vec_pretty(plan)?,
    })
}
