//! Build dependencies built on demand, and the layered environments that system packages go into.

use refinery_plan::PlanNode;
use refinery_store::{Event, EventKind, History, ManifestEntry, Status};

use crate::context::{BuildContext, PlanRequirementError};
use crate::layers::{LayerRecipe, LayerStore};
use crate::runner::{apt_install_command, Runner};

use super::build_node;

/// Deepest chain of build dependencies built on demand.
pub const MAX_EXPANSION_DEPTH: u32 = 2;

/// The requirement pip could not find a distribution for while installing build dependencies.
pub fn missing_build_dependency(log: &str) -> Option<String> {
    static PIP: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pip = PIP.get_or_init(|| {
        regex::Regex::new(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._\-]*(\[[^\]]*\])?([<>=!~][^\s;]*)?)")
            .expect("valid pattern")
    });
    if let Some(c) = pip.captures(log) {
        return Some(c[1].trim().to_string());
    }
    uv_missing_build_dependency(log)
}

/// uv's way of saying it (the accelerated frontend): "No solution found when resolving:
/// `a>=1`, `b`" then "Because b was not found in the package registry" or "Because
/// b==1.0 has no usable wheels". The requirement comes from the first line.
fn uv_missing_build_dependency(log: &str) -> Option<String> {
    static BECAUSE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static RESOLVING: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let because = BECAUSE.get_or_init(|| {
        regex::Regex::new(r"Because ([A-Za-z0-9][A-Za-z0-9._\-]*)\S* (?:was not found|has no usable wheels|has no versions)")
            .expect("valid pattern")
    });
    let resolving = RESOLVING.get_or_init(|| {
        regex::Regex::new(r"No solution found when resolving: (.*)").expect("valid pattern")
    });
    let name = because.captures(log)?[1].to_string();
    let key = refinery_index::normalize_name(&name);
    let wanted = resolving.captures(log).and_then(|c| {
        c[1].split('`')
            .skip(1)
            .step_by(2)
            .find(|r| {
                let head = r
                    .split(|ch: char| "<>=!~[; ".contains(ch))
                    .next()
                    .unwrap_or("");
                refinery_index::normalize_name(head) == key
            })
            .map(str::to_string)
    });
    Some(wanted.unwrap_or(name))
}

/// Why a build dependency could not be built on demand ([`expand_dependency`]). The
/// message goes after the parent's failure detail, so it speaks of "its build dependency".
#[derive(Debug, thiserror::Error)]
pub enum ExpansionError {
    /// The chain of build dependencies built on demand is [`MAX_EXPANSION_DEPTH`] deep.
    #[error(
        "its build dependency {requirement} has no wheel for the target, and the dependency \
         expansion stopped at depth {MAX_EXPANSION_DEPTH}"
    )]
    TooDeep { requirement: String },
    /// The run cannot plan requirements (the worker's runs, which build one job).
    #[error("its build dependency {requirement} has no wheel for the target")]
    NoPlanner { requirement: String },
    /// Planning the requirement failed.
    #[error("cannot plan its build dependency {requirement}: {source}")]
    Plan {
        requirement: String,
        #[source]
        source: PlanRequirementError,
    },
    /// The plan has a node without a source or usable wheel.
    #[error("its build dependency {requirement} is missing: {reason}")]
    Missing { requirement: String, reason: String },
    /// A node of the plan was built (or reused) and failed.
    #[error("its build dependency {package} {version} failed: {detail}")]
    Failed {
        package: String,
        version: String,
        detail: String,
    },
}

/// Plan `requirement` for the target and build or reuse what it needs into the output.
///
/// # Errors
/// [`ExpansionError`]: too deep, no planner, the plan failed, or a node of it is missing
/// or did not build; the nodes that did build are in `context.extra_entries` either way.
pub(super) fn expand_dependency(
    requirement: &str,
    parent: &PlanNode,
    runner: &dyn Runner,
    label: &str,
    context: &BuildContext<'_>,
    history: &History,
    depth: u32,
) -> Result<(), ExpansionError> {
    if depth >= MAX_EXPANSION_DEPTH {
        return Err(ExpansionError::TooDeep {
            requirement: requirement.to_string(),
        });
    }
    let Some(expander) = &context.settings.expander else {
        return Err(ExpansionError::NoPlanner {
            requirement: requirement.to_string(),
        });
    };
    context.reporter.message(&format!(
        "{} {}: building its build dependency {requirement} first",
        parent.name,
        parent.version_str()
    ));
    let plan = (expander.0)(requirement).map_err(|source| ExpansionError::Plan {
        requirement: requirement.to_string(),
        source,
    })?;
    context.record_event(
        Event::new(
            EventKind::DependencyExpansion,
            format!(
                "{} needs {requirement}: planned {} nodes",
                parent.name,
                plan.nodes.len()
            ),
        )
        .with_package(parent.name.as_str(), parent.version_str()),
    );
    for node in &plan.nodes {
        let entry = match node.action {
            refinery_plan::Action::Reuse => {
                crate::context::reuse(node, context.settings, context.client)
            }
            refinery_plan::Action::Build => {
                let key = crate::context::artifact_key(
                    node,
                    &context.settings.target,
                    context.settings.strip,
                );
                build_node(node, &key, runner, label, context, history, depth + 1)
            }
            refinery_plan::Action::Missing => {
                return Err(ExpansionError::Missing {
                    requirement: requirement.to_string(),
                    reason: node.reason.clone(),
                });
            }
        };
        let ok = entry.status.is_success();
        let detail = entry.detail.clone();
        context
            .extra_entries
            .lock()
            .expect("entries lock")
            .push(entry);
        if !ok {
            return Err(ExpansionError::Failed {
                package: node.name.to_string(),
                version: node.version_str().to_string(),
                detail,
            });
        }
    }
    Ok(())
}

/// The base environment's name (its folder), for runners that have a rootfs.
pub(super) fn base_environment_name(runner: &dyn Runner) -> Option<String> {
    runner
        .rootfs()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
}

/// The runner over the layer of `packages` on the base environment, made once and reused
/// (see [`crate::layers`]); the base itself is never written. `None` when the layer cannot
/// be had: `entry` then says why, as `system_recipe_failed`.
pub(super) fn layer_runner(
    packages: &[String],
    node: &PlanNode,
    base: &dyn Runner,
    context: &BuildContext<'_>,
    entry: &mut ManifestEntry,
) -> Option<Box<dyn Runner>> {
    let layered = make_layer_runner(packages, node, base, context, entry);
    if let Err(message) = &layered {
        entry.status = Status::SystemRecipeFailed;
        entry.detail.clone_from(message);
    }
    layered.ok()
}

fn make_layer_runner(
    packages: &[String],
    node: &PlanNode,
    base: &dyn Runner,
    context: &BuildContext<'_>,
    entry: &mut ManifestEntry,
) -> Result<Box<dyn Runner>, String> {
    let Some(base_root) = base.rootfs() else {
        return Err(format!(
            "{} cannot keep system packages between builds ({}); add them to the image instead",
            base.describe(),
            packages.join(" ")
        ));
    };
    let base_name = base_environment_name(base).unwrap_or_default();
    let suite = crate::rootfs::read_recipe(base_root)
        .map(|r| r.suite)
        .unwrap_or_else(|| "the environment's suite".into());
    let recipe = LayerRecipe::new(&base_name, &suite, packages);
    let store = LayerStore::new(base_root.parent().unwrap_or(base_root));
    let log_path = context.logs_dir.join(format!(
        "{}-{}-layer-{}.log",
        node.name,
        node.version_str(),
        recipe.key()
    ));
    context
        .recorder
        .log_file(&node.name, node.version.as_ref(), &log_path);
    let layer = store
        .ensure(
            base_root,
            &recipe,
            &apt_install_command,
            &log_path,
            context.settings.stop.as_deref(),
            context.reporter,
        )
        .map_err(|e| {
            format!(
                "the system recipe (install {}) failed: {e}",
                packages.join(" ")
            )
        })?;
    let verb = if layer.created { "made" } else { "reused" };
    context.reporter.message(&format!(
        "{} {}: {verb} the environment layer {} ({})",
        node.name,
        node.version_str(),
        layer.name,
        packages.join(" ")
    ));
    context.record_event(
        Event::new(
            EventKind::SystemRecipe,
            format!("layer {} ({}): {verb}", layer.name, packages.join(" ")),
        )
        .with_package(node.name.as_str(), node.version_str())
        .with_data(serde_json::json!({
            "packages": packages,
            "layer": layer.name,
            "environment": layer.environment_name(),
            "created": layer.created,
            "log_path": log_path,
        })),
    );
    entry.metadata.environment = Some(layer.environment_name());
    entry.metadata.system_packages = packages.to_vec();
    base.over_rootfs(&layer.root)
        .ok_or_else(|| format!("{} cannot run over a layer", base.describe()))
}
