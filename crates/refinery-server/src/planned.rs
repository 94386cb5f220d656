//! The plans that hold a package, for its page: a package that was planned but not queued
//! yet has no job, attempt or event, and its page says so instead of "nothing is known".

use refinery_contract::PlannedIn;
use refinery_store::queue::plan_body::PlanNode;
use refinery_store::queue::{JobFilter, QueueStore};
use refinery_store::QueueError;

/// How many plans a package page lists.
const PLANS_PER_PACKAGE: usize = 20;

/// The newest plans with a node of `name` (normalized), newest first.
///
/// # Errors
///
/// The store's, when it cannot be read.
pub fn planned_in(store: &dyn QueueStore, name: &str) -> Result<Vec<PlannedIn>, QueueError> {
    let mut out = Vec::new();
    for plan in store.plans_with_package(name, PLANS_PER_PACKAGE)? {
        let nodes = plan.body["nodes"].as_array().cloned().unwrap_or_default();
        let mine = nodes
            .into_iter()
            .filter_map(|n| serde_json::from_value::<PlanNode>(n).ok())
            // Nodes keep the project's spelling (`PyYAML`); `name` is normalized.
            .filter(|n| refinery_index::normalize_name(&n.name) == name);
        for node in mine {
            let queued = !store
                .jobs(&JobFilter {
                    package: Some(name.to_string()),
                    version: Some(node.version.clone()).filter(|v| !v.is_empty()),
                    plan_id: Some(plan.id.clone()),
                    limit: 1,
                    ..JobFilter::default()
                })?
                .is_empty();
            out.push(PlannedIn {
                plan_id: plan.id.clone(),
                created_ms: plan.created_ms,
                node: node.id,
                version: node.version,
                action: node.action,
                reason: node.reason,
                queued,
            });
        }
    }
    Ok(out)
}
