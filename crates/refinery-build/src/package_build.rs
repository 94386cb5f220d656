//! All attempts at one package: variants in the order of their past success, hints from
//! failed logs, system recipes (install the suggested packages, one extra attempt), and
//! what worked remembered in the history and applied up front next time.

mod expand;
mod publish;
mod run;
mod up_front;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use refinery_pep::PackageName;
use refinery_plan::{PlanNode, SourceKind};
use refinery_store::{Event, EventKind, History, ManifestEntry, Status, Variant};

use crate::accelerate::{looks_toolchain_related, EMULATED_VARIANT, GCC_CROSS_VARIANT};
use crate::context::{backoff, dist_file, BuildContext};
use crate::fixes::{final_reason, learned_fix, Fixes, HintOutcome};
use crate::hints::Hint;
use crate::packs::{Pack, PackError};
use crate::runner::Runner;
use crate::rust_toolchain::{CrateNeeds, Making, RustToolchain, ToolchainError};

use expand::{base_environment_name, expand_dependency, layer_runner};
use publish::publish;
use run::{choose_frontend, run_attempt};
use up_front::apply_up_front_hints;

pub use expand::{missing_build_dependency, MAX_EXPANSION_DEPTH};

pub use crate::variants::VARIANTS;

/// Environment of a variant.
fn variant_env(variant: &str) -> Vec<(String, String)> {
    match variant {
        "relaxed-cflags" => ["CFLAGS", "CXXFLAGS"]
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    "-O1 -Wno-error -fno-strict-aliasing".to_string(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Variants ordered by past success for this package (successes minus failures), the
/// overridden one first, unknown ones in the default order.
pub fn order_variants(
    history: &History,
    package: &str,
    preferred: Option<&Variant>,
) -> Vec<Variant> {
    // Plan nodes carry names as strings; one that is not a valid name has no history.
    let stats = package
        .parse::<PackageName>()
        .ok()
        .and_then(|package| history.variant_stats(&package).ok())
        .unwrap_or_default();
    let score = |v: &Variant| {
        stats
            .iter()
            .find(|s| s.variant == *v)
            .map_or(0i64, |s| s.successes as i64 - s.failures as i64)
    };
    let mut variants: Vec<Variant> = VARIANTS
        .iter()
        .map(|v| v.parse().expect("the built-in variants are valid (tested)"))
        .collect();
    if let Some(p) = preferred.filter(|p| !variants.contains(p)) {
        variants.push(p.clone());
    }
    variants.sort_by_key(|v| (Some(v) != preferred, -score(v)));
    variants
}

/// Build one plan node with every attempt it is allowed.
pub(crate) fn build_node(
    node: &PlanNode,
    key: &str,
    runner: &dyn Runner,
    label: &str,
    context: &BuildContext<'_>,
    history: &History,
    depth: u32,
) -> ManifestEntry {
    let settings = context.settings;
    let mut entry = ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Failed);
    entry.metadata.python = Some(settings.target.python_str());
    entry.metadata.platform_tag = Some(settings.target.platform_tag().to_string());
    entry.metadata.built_with = Some(label.to_string());
    let Some(source) = &node.source else {
        entry.detail = "the plan gives no sdist".into();
        return entry;
    };
    entry.metadata.source = Some(
        source
            .url
            .clone()
            .or(source.path.clone())
            .unwrap_or_default(),
    );
    let sdist = match source.kind {
        SourceKind::InputSdist => Ok(PathBuf::from(source.path.clone().unwrap_or_default())),
        _ => context
            .client
            .download(&dist_file(source), context.sdist_dir)
            .map_err(|e| e.to_string()),
    };
    let sdist = match sdist {
        Ok(path) => path,
        Err(message) => {
            entry.detail = format!("cannot fetch the sdist {}: {message}", source.filename);
            return entry;
        }
    };
    let overrides = node.overrides.clone().unwrap_or_default();
    let mut fixes = Fixes {
        packages: overrides.system_packages.clone(),
        env: overrides.env.clone(),
        ..Fixes::default()
    };
    fixes.packages.sort();
    fixes.packages.dedup();

    // Apply what worked before, up front.
    if let Some(fix) = learned_fix(history, node.name.as_str()) {
        context.reporter.message(&format!(
            "{} {}: applying the fix learned before: {}",
            node.name,
            node.version_str(),
            fix.describe().join("; ")
        ));
        entry.metadata.hints.extend(fix.hints.iter().cloned());
        fixes.merge(&fix);
    }
    apply_up_front_hints(&mut fixes, node, runner, context);
    if !fixes.packages.is_empty() && !settings.recipes.explicit_allowed() {
        let why = if settings.recipes.forbidden {
            "--no-system-recipes"
        } else {
            "--dry-run-recipes"
        };
        let message = format!(
            "{} {}: would install {} (its recipe or a fix learned before asks for them; {why} is set)",
            node.name,
            node.version_str(),
            fixes.packages.join(" ")
        );
        context.reporter.message(&message);
        context.record_event(
            Event::new(EventKind::Hint, message)
                .with_package(node.name.as_str(), node.version_str()),
        );
        fixes.packages.clear();
    }
    let base_runner = runner;
    let mut layered: Option<Box<dyn Runner>> = None;
    if fixes.packages.is_empty() {
        entry.metadata.environment = base_environment_name(base_runner);
    } else {
        let Some(over) = layer_runner(&fixes.packages, node, base_runner, context, &mut entry)
        else {
            return entry;
        };
        layered = Some(over);
    }
    entry.metadata.actions = fixes.describe();
    let mut rust = match rust_for_sdist(&sdist, fixes.toolchain.is_some(), context) {
        Ok(rust) => rust,
        Err(e) => {
            entry.metadata.interrupted = matches!(e, ToolchainError::Stopped);
            entry.detail = format!("not built: {e}");
            return entry;
        }
    };
    if let Some(toolchain) = &rust {
        context.reporter.message(&format!(
            "{} {}: Rust code: the build gets {}",
            node.name,
            node.version_str(),
            toolchain.describe()
        ));
    }
    let mut packs = match ensure_packs(&fixes.packs, node, base_runner, context) {
        Ok(packs) => packs,
        Err(e) => {
            entry.metadata.interrupted = matches!(e, PackError::Stopped { .. });
            entry.detail = e.to_string();
            return entry;
        }
    };

    if is_stopped(settings.stop.as_deref()) {
        entry.detail = "cancelled before the build started".into();
        entry.metadata.interrupted = true;
        return entry;
    }
    let preferred = match overrides.variant.as_ref().or(fixes.variant.as_ref()) {
        Some(v) => match v.parse::<Variant>() {
            Ok(v) => Some(v),
            Err(e) => {
                entry.detail = format!("not built: {e}");
                return entry;
            }
        },
        None => None,
    };
    let mut variants = order_variants(history, node.name.as_str(), preferred.as_ref());
    // Without acceleration the emulated variant is the default one again.
    variants.retain(|v| {
        preferred.as_ref() == Some(v)
            || match v.as_str() {
                EMULATED_VARIANT => base_runner.accelerated(),
                // Only meaningful when the default compiler is the glibc-targeted one.
                GCC_CROSS_VARIANT => context.zig().is_some(),
                _ => true,
            }
    });
    let mut frontend = choose_frontend(node, base_runner, context, history);
    let mut hint_attempt_done = false;
    let mut expanded: Vec<String> = Vec::new();
    let mut number = 0u32;
    let mut regular = 0u32;
    while regular < settings.max_attempts.max(1) {
        // The base, or the layer that up-front or hint-suggested packages asked for.
        let runner: &dyn Runner = layered.as_deref().unwrap_or(base_runner);
        regular += 1;
        number += 1;
        let variant = variants[(regular as usize - 1) % variants.len()].clone();
        if regular > 1 {
            let delay = backoff(settings.backoff_base, settings.backoff_max, regular - 1);
            context.reporter.message(&format!(
                "{} {}: attempt {number} ({variant}) in {:.1}s",
                node.name,
                node.version_str(),
                delay.as_secs_f64()
            ));
            if !sleep_unless_stopped(delay, settings.stop.as_deref()) {
                entry.detail = format!("cancelled before attempt {number}");
                entry.metadata.interrupted = true;
                return entry;
            }
        }
        let outcome = run_attempt(
            node,
            &sdist,
            number,
            &variant,
            &fixes,
            rust.as_ref(),
            &packs,
            &mut frontend,
            runner,
            context,
            &mut entry,
        );
        let failure = match outcome {
            Ok(built) => return publish(node, key, &built, &fixes, context, history, entry),
            Err(failure) => failure,
        };
        if failure.stopped {
            entry.detail = failure.message;
            entry.metadata.interrupted = true;
            return entry;
        }
        // Hints: what the log says is missing.
        let Some(log_path) = entry.metadata.log_path.clone() else {
            return entry;
        };
        let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let hints: Vec<&Hint> = context.catalog.matches(&log_text);
        for hint in &hints {
            let summary = hint.summary();
            if !entry.metadata.hints.contains(&summary) {
                entry.metadata.hints.push(summary);
            }
        }
        entry.detail = failure.message.clone();
        if !entry.metadata.hints.is_empty() {
            entry.detail = format!(
                "{}; hints: {}",
                failure.message,
                entry.metadata.hints.join("; ")
            );
        }
        // Failures no variant can change end here, without backoff.
        if let Some(reason) = final_reason(failure.policy, &hints) {
            context.reporter.message(&format!(
                "{} {}: not retrying: {reason}",
                node.name,
                node.version_str()
            ));
            entry.detail = format!("{}; not retried: {reason}", entry.detail);
            return entry;
        }
        // An accelerated attempt that failed the way a cross toolchain fails: the next one
        // runs fully emulated.
        if runner.accelerated()
            && variant.base() != EMULATED_VARIANT
            && looks_toolchain_related(&format!("{log_text}\n{}", failure.message))
        {
            move_next(&mut variants, regular as usize, EMULATED_VARIANT, || {
                context.reporter.message(&format!("{} {}: the failure looks like the cross toolchain's; the next attempt runs fully emulated", node.name, node.version_str()));
            });
        }
        // The glibc-targeted compiler refused what GCC takes: the gcc cross comes next.
        if context.zig().is_some()
            && variant.base() != EMULATED_VARIANT
            && variant.base() != GCC_CROSS_VARIANT
            && crate::zig::looks_zig_related(&log_text)
        {
            move_next(&mut variants, regular as usize, GCC_CROSS_VARIANT, || {
                context.reporter.message(&format!("{} {}: the failure looks like the glibc-targeted compiler's; the next attempt uses the gcc cross", node.name, node.version_str()));
            });
        }
        // A Python build dependency without a wheel for the target: build it, then requeue.
        if let Some(requirement) =
            missing_build_dependency(&log_text).filter(|r| !expanded.contains(r))
        {
            expanded.push(requirement.clone());
            match expand_dependency(&requirement, node, runner, label, context, history, depth) {
                Ok(()) => {
                    number += 1;
                    let variant = variant.clone();
                    match run_attempt(
                        node,
                        &sdist,
                        number,
                        &variant,
                        &fixes,
                        rust.as_ref(),
                        &packs,
                        &mut frontend,
                        runner,
                        context,
                        &mut entry,
                    ) {
                        Ok(built) => {
                            return publish(node, key, &built, &fixes, context, history, entry)
                        }
                        Err(f) => entry.detail = f.message,
                    }
                    continue;
                }
                Err(message) => {
                    entry.detail = format!("{}; {message}", entry.detail);
                    return entry;
                }
            }
        }
        if hint_attempt_done {
            continue;
        }
        let recipes = settings.recipes;
        let retry_with = match crate::fixes::outcome(
            &fixes,
            &hints,
            runner.package_family(),
            context.zig().is_some(),
            recipes,
        ) {
            HintOutcome::Nothing => continue,
            HintOutcome::NeedsRecipes { packages } => {
                let verb = if recipes.dry_run {
                    "would install"
                } else {
                    "suggests"
                };
                let message = format!(
                    "{} {}: {verb} {} (re-run with --auto-apply-suggestions to apply)",
                    node.name,
                    node.version_str(),
                    packages.join(" ")
                );
                context.reporter.message(&message);
                context.record_event(
                    Event::new(EventKind::Hint, message)
                        .with_package(node.name.as_str(), node.version_str()),
                );
                // No variant installs them: stop here.
                entry.detail = format!(
                    "{}; not retried: it needs {} and system recipes are not allowed",
                    entry.detail,
                    packages.join(" ")
                );
                return entry;
            }
            HintOutcome::Retry { fixes: next, new } => {
                if let Some(wanted) = next.toolchain.as_deref() {
                    match retry_toolchain(wanted, rust.as_ref(), runner, context) {
                        Ok(chosen) => rust = Some(chosen),
                        Err(reason) => {
                            entry.detail = format!("{}; not retried: {reason}", entry.detail);
                            return entry;
                        }
                    }
                }
                let message = format!(
                    "{} {}: retrying with {}",
                    node.name,
                    node.version_str(),
                    new.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                context.reporter.message(&message);
                context.record_event(
                    Event::new(EventKind::HintActions, message)
                        .with_package(node.name.as_str(), node.version_str())
                        .with_data(serde_json::json!({ "actions": new })),
                );
                next
            }
        };
        hint_attempt_done = true;
        if retry_with.packages != fixes.packages {
            let Some(over) =
                layer_runner(&retry_with.packages, node, base_runner, context, &mut entry)
            else {
                return entry;
            };
            layered = Some(over);
        }
        if retry_with.packs != fixes.packs {
            packs = match ensure_packs(&retry_with.packs, node, base_runner, context) {
                Ok(packs) => packs,
                Err(message) => {
                    entry.detail = format!("{}; not retried: {message}", entry.detail);
                    return entry;
                }
            };
        }
        fixes = retry_with;
        entry.metadata.actions = fixes.describe();
        let runner: &dyn Runner = layered.as_deref().unwrap_or(base_runner);
        // The one extra, hint-based attempt.
        number += 1;
        let hint_variant = match fixes.variant.as_deref().map(str::parse::<Variant>) {
            Some(Ok(v)) => v.with_hints(),
            Some(Err(e)) => {
                entry.detail = format!("{}; not retried: {e}", entry.detail);
                return entry;
            }
            None => variant.with_hints(),
        };
        match run_attempt(
            node,
            &sdist,
            number,
            &hint_variant,
            &fixes,
            rust.as_ref(),
            &packs,
            &mut frontend,
            runner,
            context,
            &mut entry,
        ) {
            Ok(built) => return publish(node, key, &built, &fixes, context, history, entry),
            Err(f) => {
                entry.detail = format!("{}; hints: {}", f.message, entry.metadata.hints.join("; "));
                if let Some(reason) = final_reason(f.policy, &[]) {
                    entry.detail = format!("{}; not retried: {reason}", entry.detail);
                    return entry;
                }
            }
        }
    }
    entry
}

/// The packs `names` and the packs they depend on (dependencies first) for the target's
/// glibc, made first where missing. Empty when the runner does not build with the
/// glibc-targeted compiler (a learned fix from a run for an older target): the
/// environment's libraries serve then.
fn ensure_packs(
    names: &[String],
    node: &PlanNode,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) -> Result<Vec<Pack>, PackError> {
    let (Some(store), Some(zig)) = (context.pack_store(), context.zig()) else {
        return Ok(Vec::new());
    };
    let store = match &context.settings.pack_mirror {
        Some(mirror) => store.clone().with_mirror(mirror.0.clone()),
        None => store.clone(),
    }
    .with_budget(context.attempt_settings.compile_budget)
    .with_stop(context.settings.stop.clone());
    let download = |url: &str, sha256: &str, dir: &std::path::Path| {
        crate::packs::fetch_source(context.client, url, sha256, dir)
    };
    let target = crate::packs::PackTarget::of(zig);
    let mut packs: Vec<Pack> = Vec::new();
    for recipe in crate::packs::with_dependencies(names)? {
        let log_path = context.logs_dir.join(format!(
            "{}-{}-pack-{}.log",
            node.name,
            node.version_str(),
            recipe.key(&target)
        ));
        context
            .recorder
            .log_file(&node.name, node.version.as_ref(), &log_path);
        // Every pack below this one, not only the direct ones (libxslt links zlib too).
        let below = crate::packs::with_dependencies(&[recipe.name.to_string()])?;
        let dependencies: Vec<Pack> = packs
            .iter()
            .filter(|p| {
                below
                    .iter()
                    .any(|r| r.name == p.name && r.name != recipe.name)
            })
            .cloned()
            .collect();
        let pack = store.ensure(
            recipe,
            &target,
            &dependencies,
            runner,
            &download,
            &log_path,
            context.reporter,
        )?;
        context.reporter.message(&format!(
            "{} {}: links the native library pack {}",
            node.name,
            node.version_str(),
            pack.key
        ));
        packs.push(pack);
    }
    Ok(packs)
}

/// The Rust toolchain for an sdist with Rust code, chosen by what its manifests ask for
/// (see [`CrateNeeds`]), or the newest when a fix learned before asks for it (`newest`:
/// the manifests did not tell the MSRV, the build did; also for an sdist that does not
/// show Rust); `Ok(None)` when it needs none or the environment cannot bind one in (it
/// then builds with what its environment has). `Err` when no toolchain is new enough,
/// making it failed, or the run was stopped.
fn rust_for_sdist(
    sdist: &std::path::Path,
    newest: bool,
    context: &BuildContext<'_>,
) -> Result<Option<RustToolchain>, ToolchainError> {
    let Some(store) = context.rust_store() else {
        return Ok(None);
    };
    let needs = CrateNeeds::read(sdist);
    if newest {
        return match store.ensure(&store.newest(), &making(context)) {
            Ok(toolchain) => Ok(Some(toolchain)),
            // An sdist that shows no Rust builds on with what its environment has.
            Err(e) if needs.is_none() && !matches!(e, ToolchainError::Stopped) => {
                context.reporter.message(&format!(
                    "the Rust toolchain a fix learned before asks for cannot be made ({e}); the build goes on without it"
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        };
    }
    let Some(needs) = needs else {
        return Ok(None);
    };
    store.ensure_for(&needs, &making(context)).map(Some)
}

/// What making a Rust toolchain may use in this run (see [`Making`]).
fn making<'a>(context: &'a BuildContext<'a>) -> Making<'a> {
    Making {
        client: context.client,
        stop: context.settings.stop.as_deref(),
        reporter: context.reporter,
    }
}

/// The Rust toolchain of an attempt: the emulated variant runs every compiler as s390x
/// code, Rust's too, so it gets the s390x tree of the same Debian release (made once) in
/// place of the amd64 one; for the Rust project's release, which has amd64 trees only,
/// Debian's newest (see [`crate::rust_toolchain::RustRecipe::for_arch`]). If that tree
/// cannot be made, the attempt keeps the amd64 one and says so.
fn rust_for_variant(
    rust: Option<&RustToolchain>,
    variant: &str,
    context: &BuildContext<'_>,
) -> Option<RustToolchain> {
    let rust = rust?;
    let store = context.rust_store();
    let Some(store) = store.filter(|_| variant == EMULATED_VARIANT && rust.cross_compiles()) else {
        return Some(rust.clone());
    };
    let emulated = rust
        .recipe
        .for_arch(crate::rust_toolchain::ToolchainArch::S390x);
    match store.ensure(&emulated, &making(context)) {
        Ok(toolchain) => Some(toolchain),
        Err(e) => {
            context.reporter.message(&format!(
                "the s390x Rust toolchain {} cannot be made ({e}); the emulated attempt keeps the native one",
                emulated.key()
            ));
            Some(rust.clone())
        }
    }
}

/// The toolchain a hint asked for (see [`crate::hints::TOOLCHAINS`]), or why the retry
/// cannot have it. Asking the environment for its own old Rust again would only repeat the
/// failure, and a build that had the newest toolchain already gains nothing from a retry.
fn retry_toolchain(
    wanted: &str,
    current: Option<&RustToolchain>,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) -> Result<RustToolchain, String> {
    let Some(store) = context.rust_store() else {
        return Err(format!(
            "it needs the toolchain {wanted}, which this refinery cannot provide for {}",
            runner.describe()
        ));
    };
    let newest = store.newest();
    if let Some(current) = current.filter(|c| c.recipe == newest) {
        return Err(format!(
            "it had the newest Rust toolchain this refinery has ({}) already",
            current.recipe.rust
        ));
    }
    store
        .ensure(&newest, &making(context))
        .map_err(|e| e.to_string())
}

/// Put `variant` right after the `done` attempts made so far (variants cycle), when it
/// would otherwise come later; `said` reports the change.
fn move_next(variants: &mut Vec<Variant>, done: usize, variant: &str, said: impl FnOnce()) {
    let next = done % variants.len();
    if let Some(pos) = variants
        .iter()
        .position(|v| v == variant)
        .filter(|p| *p > next)
    {
        let moved = variants.remove(pos);
        variants.insert(next, moved);
        said();
    }
}

/// The detail of a plan node the run's stop came before: it was never started.
pub(crate) const NOT_STARTED: &str = "not started: the run was stopped";

/// Whether `stop` is set (the run or job is being stopped).
pub(crate) fn is_stopped(stop: Option<&AtomicBool>) -> bool {
    stop.is_some_and(|s| s.load(Ordering::SeqCst))
}

/// Sleep for `delay`; `false` when `stop` was set meanwhile.
fn sleep_unless_stopped(delay: Duration, stop: Option<&AtomicBool>) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if is_stopped(stop) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
    }
    !is_stopped(stop)
}
