//! All attempts at one package: variants in the order of their past success, hints from
//! failed logs, system recipes (install the suggested packages, one extra attempt), and
//! what worked remembered in the history and applied up front next time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use refinery_plan::{PlanNode, SourceKind};
use refinery_store::{Attempt, Event, History, ManifestEntry, Status};

use crate::accelerate::{looks_toolchain_related, EMULATED_VARIANT, GCC_CROSS_VARIANT};
use crate::builder::{
    attempt, AttemptFailure, AttemptRequest, BuiltWheel, NativeOutcome, NativeRequest,
};
use crate::context::{backoff, dist_file, file_name, BuildContext};
use crate::exec::{Log, DEFAULT_LOG_CAP};
use crate::fixes::{final_reason, learned_fix, Fixes, HintOutcome};
use crate::hints::Hint;
use crate::layers::{LayerRecipe, LayerStore};
use crate::native_frontend::{FrontendChoice, FrontendMode, NativeFrontend};
use crate::packs::{Pack, PackStore};
use crate::runner::{apt_install_command, Runner};
use crate::rust_toolchain::{CrateNeeds, RustToolchain};

/// Named ways to build, tried in this order unless history says otherwise.
/// `emulated` turns the host's cross compilers off for the attempt (see `accelerate`).
pub const VARIANTS: &[&str] = &[
    "default",
    "relaxed-cflags",
    "no-isolation",
    EMULATED_VARIANT,
    GCC_CROSS_VARIANT,
];

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
pub fn order_variants(history: &History, package: &str, preferred: Option<&str>) -> Vec<String> {
    let stats = history.variant_stats(package).unwrap_or_default();
    let score = |v: &str| {
        stats
            .iter()
            .find(|s| s.variant == v)
            .map_or(0i64, |s| s.successes as i64 - s.failures as i64)
    };
    let mut variants: Vec<String> = VARIANTS.iter().map(ToString::to_string).collect();
    if let Some(p) = preferred.filter(|p| !variants.iter().any(|v| v == p)) {
        variants.push(p.to_string());
    }
    variants.sort_by_key(|v| (Some(v.as_str()) != preferred, -score(v)));
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
    let mut entry = ManifestEntry::new(&node.name, &node.version, Status::Failed);
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
    if let Some(fix) = learned_fix(history, &node.name) {
        context.reporter.message(&format!(
            "{} {}: applying the fix learned before: {}",
            node.name,
            node.version,
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
            node.version,
            fixes.packages.join(" ")
        );
        context.reporter.message(&message);
        context.record_event(Event::new("hint", message).with_package(&node.name, &node.version));
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
    let mut rust = match rust_for_sdist(&sdist, base_runner, context) {
        // A learned fix may ask for the toolchain where the sdist does not show Rust.
        Ok(None) if fixes.toolchain.is_some() => {
            retry_toolchain("rust-newest", None, base_runner, context).ok()
        }
        Ok(rust) => rust,
        Err(message) => {
            entry.detail = format!("not built: {message}");
            return entry;
        }
    };
    if let Some(toolchain) = &rust {
        context.reporter.message(&format!(
            "{} {}: Rust code: the build gets {}",
            node.name,
            node.version,
            toolchain.describe()
        ));
    }
    let mut packs = match ensure_packs(&fixes.packs, node, base_runner, context) {
        Ok(packs) => packs,
        Err(message) => {
            entry.detail = message;
            return entry;
        }
    };

    if is_stopped(settings.stop.as_deref()) {
        entry.detail = "cancelled before the build started".into();
        return entry;
    }
    let preferred = overrides.variant.clone().or(fixes.variant.clone());
    let mut variants = order_variants(history, &node.name, preferred.as_deref());
    // Without acceleration the emulated variant is the default one again.
    variants.retain(|v| {
        preferred.as_deref() == Some(v)
            || match v.as_str() {
                EMULATED_VARIANT => base_runner.accelerated(),
                // Only meaningful when the default compiler is the glibc-targeted one.
                GCC_CROSS_VARIANT => base_runner.zig().is_some(),
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
                node.version,
                delay.as_secs_f64()
            ));
            if !sleep_unless_stopped(delay, settings.stop.as_deref()) {
                entry.detail = format!("cancelled before attempt {number}");
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
                node.name, node.version
            ));
            entry.detail = format!("{}; not retried: {reason}", entry.detail);
            return entry;
        }
        // An accelerated attempt that failed the way a cross toolchain fails: the next one
        // runs fully emulated.
        if runner.accelerated()
            && !variant.starts_with(EMULATED_VARIANT)
            && looks_toolchain_related(&format!("{log_text}\n{}", failure.message))
        {
            move_next(&mut variants, regular as usize, EMULATED_VARIANT, || {
                context.reporter.message(&format!("{} {}: the failure looks like the cross toolchain's; the next attempt runs fully emulated", node.name, node.version));
            });
        }
        // The glibc-targeted compiler refused what GCC takes: the gcc cross comes next.
        if runner.zig().is_some()
            && !variant.starts_with(EMULATED_VARIANT)
            && !variant.starts_with(GCC_CROSS_VARIANT)
            && crate::zig::looks_zig_related(&log_text)
        {
            move_next(&mut variants, regular as usize, GCC_CROSS_VARIANT, || {
                context.reporter.message(&format!("{} {}: the failure looks like the glibc-targeted compiler's; the next attempt uses the gcc cross", node.name, node.version));
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
            runner.zig().is_some(),
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
                    node.version,
                    packages.join(" ")
                );
                context.reporter.message(&message);
                context.record_event(
                    Event::new("hint", message).with_package(&node.name, &node.version),
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
                    node.version,
                    new.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                context.reporter.message(&message);
                context.record_event(
                    Event::new("hint_actions", message)
                        .with_package(&node.name, &node.version)
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
        let hint_variant = format!("{}+hints", fixes.variant.as_deref().unwrap_or(&variant));
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
) -> Result<Vec<Pack>, String> {
    let (Some(store), Some(zig)) = (runner.pack_store(), runner.zig()) else {
        return Ok(Vec::new());
    };
    let store = match &context.settings.pack_mirror {
        Some(mirror) => store.clone().with_mirror(mirror.0.clone()),
        None => store.clone(),
    };
    let download = |url: &str, sha256: &str, dir: &std::path::Path| {
        crate::packs::fetch_source(context.client, url, sha256, dir)
    };
    let target = crate::packs::PackTarget::of(zig);
    let mut packs: Vec<Pack> = Vec::new();
    for recipe in crate::packs::with_dependencies(names)? {
        let log_path = context.logs_dir.join(format!(
            "{}-{}-pack-{}.log",
            node.name,
            node.version,
            recipe.key(&target)
        ));
        context
            .recorder
            .log_file(&node.name, &node.version, &log_path);
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
            node.name, node.version, pack.key
        ));
        packs.push(pack);
    }
    Ok(packs)
}

/// The Rust toolchain for an sdist with Rust code, chosen by what its manifests ask for
/// (see [`CrateNeeds`]); `Ok(None)` when it has none or the runner cannot bind one in (it
/// then builds with what its environment has). `Err` when no toolchain is new enough or
/// making it failed.
fn rust_for_sdist(
    sdist: &std::path::Path,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) -> Result<Option<RustToolchain>, String> {
    let (Some(needs), Some(store)) = (CrateNeeds::read(sdist), runner.rust_store()) else {
        return Ok(None);
    };
    let recipe = store.choose(&needs)?;
    store.ensure(&recipe, context.reporter).map(Some)
}

/// The Rust toolchain of an attempt: the emulated variant runs every compiler as s390x
/// code, Rust's too, so it gets the s390x tree of the same release (made once) in place of
/// the amd64 one. If that tree cannot be made, the attempt keeps the amd64 one and says so.
fn rust_for_variant(
    rust: Option<&RustToolchain>,
    variant: &str,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) -> Option<RustToolchain> {
    let rust = rust?;
    let store = runner.rust_store();
    let Some(store) = store.filter(|_| variant == EMULATED_VARIANT && rust.cross_compiles()) else {
        return Some(rust.clone());
    };
    let emulated = rust
        .recipe
        .for_arch(crate::rust_toolchain::ToolchainArch::S390x);
    match store.ensure(&emulated, context.reporter) {
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
    let Some(store) = runner.rust_store() else {
        return Err(format!(
            "it needs the toolchain {wanted}, which this refinery cannot provide for {}",
            runner.describe()
        ));
    };
    let newest = store.choose(&CrateNeeds::default())?;
    if let Some(current) = current.filter(|c| c.recipe == newest) {
        return Err(format!(
            "it had the newest Rust toolchain this refinery has ({}) already",
            current.recipe.rust
        ));
    }
    store.ensure(&newest, context.reporter)
}

/// Put `variant` right after the `done` attempts made so far (variants cycle), when it
/// would otherwise come later; `said` reports the change.
fn move_next(variants: &mut Vec<String>, done: usize, variant: &str, said: impl FnOnce()) {
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

fn is_stopped(stop: Option<&AtomicBool>) -> bool {
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

/// Plan `requirement` for the target and build or reuse what it needs into the output.
fn expand_dependency(
    requirement: &str,
    parent: &PlanNode,
    runner: &dyn Runner,
    label: &str,
    context: &BuildContext<'_>,
    history: &History,
    depth: u32,
) -> Result<(), String> {
    if depth >= MAX_EXPANSION_DEPTH {
        return Err(format!(
            "its build dependency {requirement} has no wheel for the target, and the dependency expansion stopped at depth {MAX_EXPANSION_DEPTH}"
        ));
    }
    let Some(expander) = &context.settings.expander else {
        return Err(format!(
            "its build dependency {requirement} has no wheel for the target"
        ));
    };
    context.reporter.message(&format!(
        "{} {}: building its build dependency {requirement} first",
        parent.name, parent.version
    ));
    let plan = (expander.0)(requirement)
        .map_err(|e| format!("cannot plan its build dependency {requirement}: {e}"))?;
    context.record_event(
        Event::new(
            "dependency_expansion",
            format!(
                "{} needs {requirement}: planned {} nodes",
                parent.name,
                plan.nodes.len()
            ),
        )
        .with_package(&parent.name, &parent.version),
    );
    for node in &plan.nodes {
        let entry = match node.action {
            refinery_plan::Action::Reuse => {
                crate::context::reuse(node, context.settings, context.client)
            }
            refinery_plan::Action::Build => {
                let key = crate::context::artifact_key(node, &context.settings.target);
                build_node(node, &key, runner, label, context, history, depth + 1)
            }
            refinery_plan::Action::Missing => {
                return Err(format!(
                    "its build dependency {requirement} is missing: {}",
                    node.reason
                ));
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
            return Err(format!(
                "its build dependency {} {} failed: {detail}",
                node.name, node.version
            ));
        }
    }
    Ok(())
}

/// The base environment's name (its folder), for runners that have a rootfs.
fn base_environment_name(runner: &dyn Runner) -> Option<String> {
    runner
        .rootfs()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
}

/// The runner over the layer of `packages` on the base environment, made once and reused
/// (see [`crate::layers`]); the base itself is never written. `None` when the layer cannot
/// be had: `entry` then says why, as `system_recipe_failed`.
fn layer_runner(
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
        node.version,
        recipe.key()
    ));
    context
        .recorder
        .log_file(&node.name, &node.version, &log_path);
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
        node.version,
        layer.name,
        packages.join(" ")
    ));
    context.record_event(
        Event::new(
            "system_recipe",
            format!("layer {} ({}): {verb}", layer.name, packages.join(" ")),
        )
        .with_package(&node.name, &node.version)
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

#[allow(clippy::too_many_arguments)]
fn run_attempt(
    node: &PlanNode,
    sdist: &std::path::Path,
    number: u32,
    variant: &str,
    fixes: &Fixes,
    rust: Option<&RustToolchain>,
    packs: &[Pack],
    frontend: &mut FrontendChoice,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
    entry: &mut ManifestEntry,
) -> Result<BuiltWheel, AttemptFailure> {
    let settings = context.settings;
    let log_path = context.logs_dir.join(format!(
        "{}-{}-attempt{number}-{variant}.log",
        node.name, node.version
    ));
    entry.metadata.attempt = Some(number);
    entry.metadata.variant = Some(variant.to_string());
    entry.metadata.log_path = Some(log_path.to_string_lossy().into_owned());
    context
        .recorder
        .log_file(&node.name, &node.version, &log_path);
    let log = Log::create(&log_path, DEFAULT_LOG_CAP).map_err(|e| AttemptFailure {
        stage: crate::builder::Stage::Build,
        message: format!("cannot create the log {}: {e}", log_path.display()),
        timed_out: false,
        stopped: false,
        policy: false,
        verification: None,
    })?;
    let base_variant = variant.split('+').next().unwrap_or(variant);
    let for_variant = rust_for_variant(rust, base_variant, runner, context);
    let rust = for_variant.as_ref();
    entry.metadata.built_with = Some(runner.describe_build(
        base_variant != EMULATED_VARIANT,
        base_variant != EMULATED_VARIANT && base_variant != GCC_CROSS_VARIANT,
        rust,
    ));
    entry.metadata.rust_toolchain = rust.map(RustToolchain::describe);
    let mut attempt_env = variant_env(base_variant);
    attempt_env.extend(fixes.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let FrontendChoice::Refused { why } = frontend {
        return Err(AttemptFailure {
            stage: crate::builder::Stage::Build,
            message: why.clone(),
            timed_out: false,
            stopped: false,
            policy: true,
            verification: None,
        });
    }
    let native_outcome = std::sync::Mutex::new(NativeOutcome::NotTried);
    let native = match frontend {
        FrontendChoice::Native { frontend, fallback } => Some(NativeRequest {
            frontend,
            fallback: *fallback,
            outcome: &native_outcome,
        }),
        _ => None,
    };
    let request = AttemptRequest {
        name: &node.name,
        version: &node.version,
        sdist,
        attempt: number,
        variant: base_variant,
        env: attempt_env,
        build_constraints: fixes.build_constraints.clone(),
        rust,
        packs,
        packs_dir: runner.pack_store().map(PackStore::dir),
        native,
    };
    let started = Instant::now();
    let result_dir = settings.cache.join("builds").join("results");
    let outcome = attempt(
        runner,
        context.attempt_settings,
        &request,
        &log,
        &result_dir,
    );
    let duration = started.elapsed().as_secs_f64();
    let native_outcome = native_outcome
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A fallback whose emulated build failed too says nothing against the native frontend.
    let emulated_built = match &outcome {
        Ok(_) => true,
        Err(f) => f.stage != crate::builder::Stage::Build,
    };
    let frontend_note =
        native_frontend_outcome(node, &native_outcome, emulated_built, frontend, context);
    entry.metadata.build_frontend = Some(
        match native_outcome {
            NativeOutcome::Built | NativeOutcome::Failed(_) => "native",
            _ => "emulated",
        }
        .to_string(),
    );
    entry.metadata.duration_secs = Some((duration * 10.0).round() / 10.0);
    entry.metadata.verification = match &outcome {
        Ok(built) => Some(built.verification.clone()),
        Err(f) => f.verification.as_deref().cloned(),
    };
    let (status, detail, hints) = match &outcome {
        Ok(built) => (
            "success",
            format!(
                "built, repaired={}, imports {}",
                built.repaired,
                built.modules.join(", ")
            ),
            Vec::new(),
        ),
        Err(f) => {
            let text = log.read_all();
            let hints = context
                .catalog
                .matches(&text)
                .iter()
                .map(|h| h.summary())
                .collect();
            let status = if f.stopped {
                "cancelled"
            } else if f.timed_out {
                "timeout"
            } else {
                "failed"
            };
            (status, f.message.clone(), hints)
        }
    };
    let detail = match frontend_note {
        Some(note) => format!("{detail}; {note}"),
        None => detail,
    };
    entry.detail = detail.clone();
    context.record_attempt(&Attempt {
        package: node.name.clone(),
        version: node.version.clone(),
        python_tag: settings.target.cpython_tag(),
        platform: settings.target.platform_tag().to_string(),
        variant: base_variant.to_string(),
        attempt: number,
        status: status.to_string(),
        duration_secs: duration,
        log_path: Some(log_path.to_string_lossy().into_owned()),
        hints,
        worker: None,
        run_id: Some(settings.run_id.clone()),
        detail,
        environment: entry.metadata.environment.clone(),
    });
    outcome
}

/// The frontend of a package's attempts (see [`crate::native_frontend::choose`]); the
/// log of the run says when it is not the native one and why.
fn choose_frontend(
    node: &PlanNode,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
    history: &History,
) -> FrontendChoice {
    let settings = context.settings;
    let mode = settings.build_frontend;
    let prepared = (mode != FrontendMode::Emulated)
        .then(|| {
            runner.rootfs().map(|r| {
                NativeFrontend::prepare(r, &settings.target.python_str(), runner.host_python())
                    .map_err(|e| e.to_string())
            })
        })
        .flatten();
    let remembered = (mode == FrontendMode::Auto)
        .then(|| crate::native_frontend::remembered_failure(history, &node.name))
        .flatten();
    let choice = crate::native_frontend::choose(
        mode,
        prepared.as_ref(),
        runner.native_frontend().is_some() && runner.accelerated(),
        remembered,
    );
    if let FrontendChoice::Emulated { why } = &choice {
        if mode != FrontendMode::Emulated {
            context.reporter.message(&format!(
                "{} {}: emulated build frontend: {why}",
                node.name, node.version
            ));
        }
    }
    choice
}

/// Record a fallback of the native frontend after which the emulated one built (an
/// event the next runs read, see [`crate::native_frontend::remembered_failure`]) and turn
/// it off for the package's later attempts; the note for the attempt's detail.
fn native_frontend_outcome(
    node: &PlanNode,
    outcome: &NativeOutcome,
    emulated_built: bool,
    frontend: &mut FrontendChoice,
    context: &BuildContext<'_>,
) -> Option<String> {
    match outcome {
        // Why not natively, when the run asked for it: the attempt's record says so.
        NativeOutcome::NotTried => match frontend {
            FrontendChoice::Emulated { why }
                if context.settings.build_frontend != FrontendMode::Emulated =>
            {
                Some(format!("emulated build frontend: {why}"))
            }
            _ => None,
        },
        NativeOutcome::Built => Some("native build frontend".to_string()),
        NativeOutcome::Failed(_) => None,
        NativeOutcome::FellBack(why) if !emulated_built => Some(format!(
            "the native frontend failed ({why}) and so did the emulated one"
        )),
        NativeOutcome::FellBack(why) => {
            let message = format!(
                "{} {}: the native build frontend failed ({why}); built with the emulated one, and later runs go straight to it",
                node.name, node.version
            );
            context.reporter.message(&message);
            context.record_event(
                Event::new(crate::native_frontend::FAILED_EVENT, why.clone())
                    .with_package(&node.name, &node.version)
                    .with_data(serde_json::json!({ "reason": why })),
            );
            *frontend = FrontendChoice::Emulated {
                why: format!("the native frontend failed in an earlier attempt ({why})"),
            };
            Some(format!("native frontend fell back to emulated: {why}"))
        }
    }
}

/// Store the verified wheel in the CAS and the output; remember the fix if one was needed.
#[allow(clippy::too_many_arguments)]
fn publish(
    node: &PlanNode,
    key: &str,
    built: &BuiltWheel,
    fixes: &Fixes,
    context: &BuildContext<'_>,
    history: &History,
    mut entry: ManifestEntry,
) -> ManifestEntry {
    let settings = context.settings;
    // The tag is the truth: what auditwheel reached, and the symbols behind it.
    if let Ok(name) = file_name(&built.path).parse::<refinery_pep::WheelFilename>() {
        entry.metadata.reached_tag = Some(name.platform_tags.join("."));
    }
    entry.metadata.symbol_versions =
        crate::wheel_inspect::newest_symbol_versions(&built.path).unwrap_or_default();
    // PEP 770: the SBOM goes into the wheel before its bytes are stored and hashed.
    match crate::sbom::add_sbom(
        &built.path,
        node,
        &entry.metadata,
        &settings.target,
        &fixes.packs,
    ) {
        Ok(member) => entry.metadata.sbom = Some(member),
        Err(e) => context.reporter.message(&format!(
            "warning: {} {}: no SBOM in the wheel: {e}",
            node.name, node.version
        )),
    }
    let wheel = distinct_from_index(&built.path, node, context);
    let stored = context.cas.put_file(&wheel).map_err(|e| e.to_string());
    let dest = settings.output.join(file_name(&wheel));
    let published = stored.and_then(|sha| {
        refinery_store::copy_atomic(&wheel, &dest)
            .map(|()| sha)
            .map_err(|e| e.to_string())
    });
    let _ = std::fs::remove_file(&wheel);
    match published {
        Ok(sha) => {
            let _ = history.record_artifact(key, &file_name(&dest), &sha);
            if let Some(verification) = &entry.metadata.verification {
                if let Err(e) = crate::verify::record::write(&settings.cache, &sha, verification) {
                    context.reporter.message(&format!("warning: {e}"));
                }
            }
            let subject = crate::provenance::Subject {
                wheel_file: &file_name(&dest),
                wheel_sha256: &sha,
                run_id: &settings.run_id,
                packs: &fixes.packs,
            };
            match crate::provenance::write_record(
                &settings.cache,
                node,
                &entry.metadata,
                &settings.target,
                &subject,
            ) {
                Ok(link) => entry.metadata.provenance = Some(link),
                Err(e) => context.reporter.message(&format!("warning: {e}")),
            }
            entry.status = Status::Built;
            entry.path = Some(file_name(&dest));
            entry.sha256 = Some(sha);
            if !fixes.is_empty() || !entry.metadata.hints.is_empty() {
                let mut fix = fixes.clone();
                fix.hints = entry.metadata.hints.clone();
                context.record_event(
                    Event::new(
                        "learned_fix",
                        format!("{} builds with {}", node.name, fix.describe().join("; ")),
                    )
                    .with_package(&node.name, &node.version)
                    .with_data(serde_json::to_value(&fix).unwrap_or_default()),
                );
            }
        }
        Err(message) => entry.detail = format!("built but cannot publish: {message}"),
    }
    entry
}

/// The wheel's path after making sure its name is not an index file's with other bytes
/// (see [`crate::naming`]); the reporter says when it was renamed.
fn distinct_from_index(
    wheel: &std::path::Path,
    node: &PlanNode,
    context: &BuildContext<'_>,
) -> std::path::PathBuf {
    let renamed = refinery_store::sha256_file(wheel)
        .map_err(|e| e.to_string())
        .and_then(|sha| {
            crate::naming::avoid_index_name(wheel, &sha, &node.name, context.client)
                .map_err(|e| e.to_string())
        });
    match renamed {
        Ok(Some((path, avoided))) => {
            context.reporter.message(&format!(
                "{} {}: the index has another file named {avoided}; the rebuilt wheel is {}",
                node.name,
                node.version,
                file_name(&path)
            ));
            path
        }
        Ok(None) => wheel.to_path_buf(),
        Err(e) => {
            context
                .reporter
                .message(&format!("warning: {} {}: {e}", node.name, node.version));
            wheel.to_path_buf()
        }
    }
}

/// Take the actions of the catalog entries that name this package `up_front` (see
/// [`crate::hints::Hint::up_front`]) before the first attempt, as a failure's hints would
/// be taken: packs where the target's glibc is older than the environment's, else system
/// packages, which need `--allow-system-recipes` like any recipe (without it the build
/// goes on without them and says so).
fn apply_up_front_hints(
    fixes: &mut Fixes,
    node: &PlanNode,
    runner: &dyn Runner,
    context: &BuildContext<'_>,
) {
    let hints = context.catalog.up_front(&node.name);
    if hints.is_empty() {
        return;
    }
    let ids: Vec<&str> = hints.iter().map(|h| h.id.as_str()).collect();
    match crate::fixes::outcome(
        fixes,
        &hints,
        runner.package_family(),
        runner.zig().is_some(),
        context.settings.recipes,
    ) {
        HintOutcome::Retry { fixes: with, new } => {
            let actions: Vec<String> = new.iter().map(ToString::to_string).collect();
            context.reporter.message(&format!(
                "{} {}: the catalog's up-front entries ({}) add: {}",
                node.name,
                node.version,
                ids.join(", "),
                actions.join("; ")
            ));
            *fixes = with;
        }
        HintOutcome::NeedsRecipes { packages } => {
            let message = format!(
                "{} {}: the catalog's up-front entries ({}) suggest {} (allow system recipes to apply them); building without",
                node.name,
                node.version,
                ids.join(", "),
                packages.join(" ")
            );
            context.reporter.message(&message);
            context
                .record_event(Event::new("hint", message).with_package(&node.name, &node.version));
        }
        HintOutcome::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::Attempt;

    #[test]
    fn a_toolchain_failure_moves_its_fallback_variant_next() {
        let mut variants: Vec<String> = VARIANTS.iter().map(ToString::to_string).collect();
        let mut said = 0;
        // After the first attempt (default), gcc-cross jumps ahead of relaxed-cflags.
        move_next(&mut variants, 1, GCC_CROSS_VARIANT, || said += 1);
        assert_eq!(variants[1], GCC_CROSS_VARIANT);
        assert_eq!(said, 1);
        // Already next or already tried: nothing moves, nothing is said.
        move_next(&mut variants, 1, GCC_CROSS_VARIANT, || said += 1);
        move_next(&mut variants, 3, "relaxed-cflags", || said += 1);
        assert_eq!(said, 1);
        assert_eq!(variants.len(), VARIANTS.len());
    }

    fn attempt(variant: &str, status: &str) -> Attempt {
        Attempt {
            package: "pkg".into(),
            version: "1".into(),
            variant: variant.into(),
            status: status.into(),
            ..Attempt::default()
        }
    }

    #[test]
    fn variants_follow_past_success_and_overrides_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("h.db")).unwrap();
        assert_eq!(order_variants(&history, "pkg", None), VARIANTS);
        history
            .record_attempt(&attempt("default", "failed"))
            .unwrap();
        history
            .record_attempt(&attempt("no-isolation", "success"))
            .unwrap();
        assert_eq!(
            order_variants(&history, "pkg", None),
            [
                "no-isolation",
                "relaxed-cflags",
                "emulated",
                "gcc-cross",
                "default"
            ]
        );
        assert_eq!(
            order_variants(&history, "pkg", Some("default"))[0],
            "default"
        );
        assert_eq!(
            order_variants(&history, "other", Some("custom"))[0],
            "custom"
        );
    }

    #[test]
    fn finds_the_build_dependency_pip_could_not_find() {
        let log = "  ERROR: Could not find a version that satisfies the requirement helperdep>=1.0 (from versions: none)\nERROR: No matching distribution found for helperdep>=1.0\n";
        assert_eq!(
            missing_build_dependency(log).as_deref(),
            Some("helperdep>=1.0")
        );
        assert_eq!(missing_build_dependency("Successfully built x"), None);
    }

    #[test]
    fn finds_the_build_dependency_uv_could_not_find() {
        // uv 0.13.9, word for word.
        let no_wheels = "error: Failed to build `/build/src/x-1.tar.gz`\n  cause: Failed to resolve requirements from `build-system.requires`\n  cause: No solution found when resolving: `setuptools>=40.8`, `Helper_Dep>=1.0`\n  cause: Because helper-dep==1.0 has no usable wheels and you require helper-dep==1.0, we can conclude that your requirements are unsatisfiable.\n";
        assert_eq!(
            missing_build_dependency(no_wheels).as_deref(),
            Some("Helper_Dep>=1.0")
        );
        let absent = "  cause: No solution found when resolving: `helperdep>=1.0`\n  cause: Because helperdep was not found in the provided package locations and you require helperdep>=1.0, we can conclude that your requirements are unsatisfiable.\n";
        assert_eq!(
            missing_build_dependency(absent).as_deref(),
            Some("helperdep>=1.0")
        );
        // Without the requirement list, the bare name.
        assert_eq!(
            missing_build_dependency("Because helperdep was not found in the package registry")
                .as_deref(),
            Some("helperdep")
        );
    }

    #[test]
    fn learned_fixes_come_back_from_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("h.db")).unwrap();
        assert!(learned_fix(&history, "cffi").is_none());
        let fix = Fixes {
            packages: vec!["libffi-dev".into()],
            build_constraints: vec!["setuptools<72".into()],
            hints: vec!["libffi: ...".into()],
            ..Fixes::default()
        };
        history
            .record_event(
                &Event::new("learned_fix", "x")
                    .with_package("cffi", "1.0")
                    .with_data(serde_json::to_value(&fix).unwrap()),
            )
            .unwrap();
        assert_eq!(learned_fix(&history, "cffi").unwrap(), fix);
    }
}
