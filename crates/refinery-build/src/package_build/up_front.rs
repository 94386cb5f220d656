//! The hint catalog's `up_front` actions, taken before the first attempt.

use refinery_plan::PlanNode;
use refinery_store::{Event, EventKind};

use crate::context::BuildContext;
use crate::fixes::{Fixes, HintOutcome};
use crate::runner::Runner;

/// Take the actions of the catalog entries that name this package `up_front` (see
/// [`crate::hints::Hint::up_front`]) before the first attempt, as a failure's hints would
/// be taken: packs where the target's glibc is older than the environment's, else system
/// packages, which need `--allow-system-recipes` like any recipe (without it the build
/// goes on without them and says so).
pub(super) fn apply_up_front_hints(
    fixes: &mut Fixes,
    node: &PlanNode,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) {
    let hints = context.catalog.up_front(
        node.name.as_str(),
        node.version
            .as_ref()
            .map(refinery_pep::ProjectVersion::version),
    );
    if hints.is_empty() {
        return;
    }
    let ids: Vec<&str> = hints.iter().map(|h| h.id.as_str()).collect();
    match crate::fixes::outcome(
        fixes,
        &hints,
        runner.package_family(),
        context.zig().is_some(),
        context.settings.recipes,
    ) {
        HintOutcome::Retry { fixes: with, new } => {
            let actions: Vec<String> = new.iter().map(ToString::to_string).collect();
            context.reporter.message(&format!(
                "{} {}: the catalog's up-front entries ({}) add: {}",
                node.name,
                node.version_str(),
                ids.join(", "),
                actions.join("; ")
            ));
            *fixes = with;
        }
        HintOutcome::NeedsRecipes { packages } => {
            let message = format!(
                "{} {}: the catalog's up-front entries ({}) suggest {} (allow system recipes to apply them); building without",
                node.name,
                node.version_str(),
                ids.join(", "),
                packages.join(" ")
            );
            context.reporter.message(&message);
            context.record_event(
                Event::new(EventKind::Hint, message)
                    .with_package(node.name.as_str(), node.version_str()),
            );
        }
        HintOutcome::Nothing => {}
    }
}
