//! One build attempt: the frontend it runs and what the native frontend's outcome means.

use std::time::Instant;

use refinery_plan::PlanNode;
use refinery_store::{Attempt, AttemptStatus, Event, EventKind, History, ManifestEntry, Variant};

use crate::accelerate::{EMULATED_VARIANT, GCC_CROSS_VARIANT};
use crate::builder::{
    attempt, AttemptFailure, AttemptRequest, BuiltWheel, NativeOutcome, NativeRequest,
};
use crate::context::BuildContext;
use crate::exec::{Log, DEFAULT_LOG_CAP};
use crate::fixes::Fixes;
use crate::native_frontend::{FrontendChoice, FrontendMode, NativeFrontend};
use crate::packs::{Pack, PackStore};
use crate::runner::Runner;
use crate::rust_toolchain::RustToolchain;

use super::{rust_for_variant, variant_env};

#[allow(clippy::too_many_arguments)]
pub(super) fn run_attempt(
    node: &PlanNode,
    sdist: &std::path::Path,
    number: u32,
    variant: &Variant,
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
        node.name,
        node.version_str()
    ));
    entry.metadata.attempt = Some(number);
    entry.metadata.variant = Some(variant.to_string());
    entry.metadata.log_path = Some(log_path.to_string_lossy().into_owned());
    context
        .recorder
        .log_file(&node.name, node.version.as_ref(), &log_path);
    let log = Log::create(&log_path, DEFAULT_LOG_CAP).map_err(|e| {
        AttemptFailure::at(
            crate::builder::Stage::Build,
            format!("cannot create the log {}: {e}", log_path.display()),
        )
    })?;
    let base_variant = variant.base();
    let for_variant = rust_for_variant(rust, base_variant, context);
    let rust = for_variant.as_ref();
    entry.metadata.built_with = Some(crate::builder::describe_build(
        runner,
        base_variant != EMULATED_VARIANT,
        context
            .zig()
            .filter(|_| base_variant != EMULATED_VARIANT && base_variant != GCC_CROSS_VARIANT),
        rust,
    ));
    entry.metadata.rust_toolchain = rust.map(RustToolchain::describe);
    let mut attempt_env = variant_env(base_variant);
    attempt_env.extend(fixes.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let FrontendChoice::Refused { why } = frontend {
        return Err(AttemptFailure {
            policy: true,
            ..AttemptFailure::at(crate::builder::Stage::Build, why.clone())
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
        name: node.name.as_str(),
        version: node.version.as_ref(),
        sdist,
        attempt: number,
        variant: base_variant,
        env: attempt_env,
        build_constraints: fixes.build_constraints.clone(),
        zig: context.zig(),
        rust,
        packs,
        packs_dir: context.pack_store().map(PackStore::dir),
        native,
        source_date_epoch: crate::reproducible::for_sdist(sdist),
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
            AttemptStatus::Success,
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
                AttemptStatus::Cancelled
            } else if f.timed_out {
                AttemptStatus::Timeout
            } else {
                AttemptStatus::Failed
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
        package: node.name.to_string(),
        version: node.version_str().to_string(),
        python_tag: settings.target.cpython_tag(),
        platform: settings.target.platform_tag().to_string(),
        variant: variant.without_hints(),
        attempt: number,
        status,
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
pub(super) fn choose_frontend(
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
            })
        })
        .flatten();
    let remembered = (mode == FrontendMode::Auto)
        .then(|| crate::native_frontend::remembered_failure(history, node.name.as_str()))
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
                node.name,
                node.version_str()
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
                node.name, node.version_str()
            );
            context.reporter.message(&message);
            context.record_event(
                Event::new(EventKind::NativeFrontendFailed, why.clone())
                    .with_package(node.name.as_str(), node.version_str())
                    .with_data(serde_json::json!({ "reason": why })),
            );
            *frontend = FrontendChoice::Emulated {
                why: format!("the native frontend failed in an earlier attempt ({why})"),
            };
            Some(format!("native frontend fell back to emulated: {why}"))
        }
    }
}
