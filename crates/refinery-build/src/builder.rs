//! One attempt at one package: build a wheel from its sdist in the environment, repair
//! it with auditwheel to the target's manylinux tag, and prove it imports on s390x.

mod native_step;
mod repair;
mod step;
mod strip;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use refinery_pep::Target;

use crate::exec::Log;
use crate::runner::{Mount, RunSpec, Runner};

use native_step::{lock, NativeError, NativeStep};
use step::{file_name, run_step, single_wheel};

pub use crate::runner::GUEST_MOUNT_DIRS;
use crate::runner::{GUEST_BUILD, GUEST_PIP_CACHE, GUEST_WHEELS};

/// The auditwheel release this refinery is tested with (`.ci/run` installs it).
pub const AUDITWHEEL_VERSION: &str = "6.8.2";

/// Where a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Build,
    Repair,
    Verify,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Build => "build",
            Stage::Repair => "repair",
            Stage::Verify => "verify",
        })
    }
}

#[derive(Debug, Clone)]
pub struct AttemptFailure {
    pub stage: Stage,
    pub message: String,
    pub timed_out: bool,
    /// Stopped from outside (a cancelled job): not the package's fault, no retry.
    pub stopped: bool,
    /// The wheel cannot meet the target's policy (its platform tag): no variant can
    /// change that, so the package ends after this attempt.
    pub policy: bool,
    /// What verification found, when the attempt got that far.
    pub verification: Option<Box<refinery_store::Verification>>,
}

impl AttemptFailure {
    /// The package's own failure at `stage`: not timed out, not stopped from outside, no
    /// policy verdict, no verification (set those fields on the result where they hold).
    pub fn at(stage: Stage, message: String) -> Self {
        Self {
            stage,
            message,
            timed_out: false,
            stopped: false,
            policy: false,
            verification: None,
        }
    }
}

/// What a successful attempt produced.
#[derive(Debug, Clone)]
pub struct BuiltWheel {
    /// The repaired (or pure) wheel, still in the attempt's folder.
    pub path: PathBuf,
    pub modules: Vec<String>,
    pub repaired: bool,
    /// What verification did (see [`crate::verify`]).
    pub verification: refinery_store::Verification,
}

/// Settings shared by every attempt of a run.
#[derive(Debug, Clone)]
pub struct AttemptSettings {
    pub target: Target,
    /// `<cache>/builds/v1`: one fresh folder per attempt.
    pub builds_dir: PathBuf,
    /// Shared pip cache (`<cache>/pip`).
    pub pip_cache: PathBuf,
    /// Wheels already produced (the output folder): build and runtime dependencies.
    pub wheels_dir: PathBuf,
    /// Index settings for pip inside the environment; may hold credentials.
    pub pip_env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// Set to stop the running step and every later one (see [`crate::RunSettings::stop`]).
    pub stop: Option<Arc<AtomicBool>>,
    pub auditwheel: String,
    /// Remove the repaired wheel's debug information (see
    /// [`RunSettings::strip`](crate::RunSettings::strip)).
    pub strip: bool,
    /// What verification does (see [`crate::verify`]).
    pub verify: crate::verify::VerifySettings,
    /// The run's hint catalog: its `pure-python-fallback` entry finds builds that dropped
    /// their extension (see [`crate::verify::purity`]).
    pub catalog: crate::hints::Catalog,
    /// Compilers each build runs at once (see [`crate::compile_jobs`]).
    pub compile_budget: crate::compile_jobs::CompileBudget,
}

/// One attempt's inputs.
#[derive(Debug, Clone)]
pub struct AttemptRequest<'a> {
    pub name: &'a str,
    /// `None` for a node nothing was resolved for.
    pub version: Option<&'a refinery_pep::ProjectVersion>,
    pub sdist: &'a Path,
    pub attempt: u32,
    pub variant: &'a str,
    pub env: Vec<(String, String)>,
    /// PEP 508 constraints for the isolated build environment (from hints).
    pub build_constraints: Vec<String>,
    /// The glibc-targeted compiler of the environment, which the runner binds into the
    /// build step unless the variant asks for the gcc cross or emulation.
    pub zig: Option<&'a crate::zig::ZigToolchain>,
    /// The native Rust toolchain the build step gets (packages with Rust code).
    pub rust: Option<&'a crate::rust_toolchain::RustToolchain>,
    /// Native library packs the build step links, and the host folder that holds them.
    pub packs: &'a [crate::packs::Pack],
    pub packs_dir: Option<&'a Path>,
    /// Run the PEP 517 hooks natively first (see [`crate::native_frontend`]).
    pub native: Option<NativeRequest<'a>>,
    /// The build's and the repair's `SOURCE_DATE_EPOCH`, and where it came from (see
    /// [`crate::reproducible`]).
    pub source_date_epoch: (u64, crate::reproducible::EpochSource),
}

/// The native frontend for one attempt, and where the attempt says how it went.
#[derive(Debug, Clone, Copy)]
pub struct NativeRequest<'a> {
    pub frontend: &'a crate::native_frontend::NativeFrontend,
    /// On failure build with the emulated frontend in the same attempt (else fail).
    pub fallback: bool,
    pub outcome: &'a std::sync::Mutex<NativeOutcome>,
}

/// What the native frontend did in an attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NativeOutcome {
    /// Not used (no request, or the variant turns it off).
    #[default]
    NotTried,
    /// Its wheel passed the checks and went on to repair.
    Built,
    /// It failed or its wheel did not pass: why; the emulated frontend built instead.
    FellBack(String),
    /// It failed without a fallback (`--build-frontend native`): why.
    Failed(String),
}

/// Set (to anything) to keep every attempt's folder (source tree, unrepaired and repaired
/// wheels, verification site) after the attempt, to look into a build or a wheel that
/// failed; the folders are then the user's to remove.
pub const KEEP_ATTEMPT_DIRS_ENV: &str = "REFINERY_KEEP_ATTEMPT_DIRS";

/// The attempt's private folder, removed when dropped unless [`KEEP_ATTEMPT_DIRS_ENV`] is
/// set.
struct AttemptDir(PathBuf);

impl Drop for AttemptDir {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ATTEMPT_DIRS_ENV).is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Build, repair and verify. The log gets every line of every step.
pub fn attempt(
    runner: &dyn Runner,
    settings: &AttemptSettings,
    request: &AttemptRequest<'_>,
    log: &Log,
    result_dir: &Path,
) -> Result<BuiltWheel, AttemptFailure> {
    let fail = AttemptFailure::at;
    let dir = AttemptDir(settings.builds_dir.join(format!(
        "{}-{}-attempt{}-{}-{}",
        request.name,
        refinery_pep::project_version::spelling_or_empty(request.version),
        request.attempt,
        request.variant,
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&dir.0);
    for sub in ["src", "out", "repaired", "home", "tmp"] {
        std::fs::create_dir_all(dir.0.join(sub)).map_err(|e| {
            fail(
                Stage::Build,
                format!("cannot create the build folder {}: {e}", dir.0.display()),
            )
        })?;
    }
    std::fs::create_dir_all(&settings.pip_cache)
        .and_then(|()| std::fs::create_dir_all(&settings.wheels_dir))
        .map_err(|e| fail(Stage::Build, format!("cannot prepare the caches: {e}")))?;
    let sdist_name = request
        .sdist
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::copy(request.sdist, dir.0.join("src").join(&sdist_name)).map_err(|e| {
        fail(
            Stage::Build,
            format!("cannot copy {}: {e}", request.sdist.display()),
        )
    })?;

    let build_mount = Mount::rw(&dir.0, GUEST_BUILD);
    let build_root = runner.guest_path(&build_mount);
    // What the frontend builds: the sdist unpacked into a fixed folder (the same source
    // path in every build, see crate::source_tree), else the archive itself.
    let source = source_to_build(request.sdist, &dir.0, &build_root, &sdist_name, log)
        .map_err(|message| fail(Stage::Build, message))?;
    let mounts = vec![
        build_mount.clone(),
        Mount::rw(&settings.pip_cache, GUEST_PIP_CACHE),
        Mount::ro(&settings.wheels_dir, GUEST_WHEELS),
    ];
    let wheels = runner.guest_path(&mounts[2]);
    let mut env = vec![
        ("HOME".to_string(), format!("{build_root}/home")),
        ("TMPDIR".to_string(), format!("{build_root}/tmp")),
        ("PIP_CACHE_DIR".to_string(), runner.guest_path(&mounts[1])),
        ("PIP_FIND_LINKS".to_string(), wheels.clone()),
        ("PIP_DISABLE_PIP_VERSION_CHECK".to_string(), "1".to_string()),
        ("PIP_NO_INPUT".to_string(), "1".to_string()),
        ("PIP_PROGRESS_BAR".to_string(), "off".to_string()),
        // Build dependencies come as wheels (index or our output); one without a wheel for
        // the target is built by the refinery itself (dependency expansion), not ad hoc.
        ("PIP_ONLY_BINARY".to_string(), ":all:".to_string()),
    ];
    env.extend(settings.pip_env.iter().cloned());
    // Same sdist, same toolchain: same bytes (the wheel's file times are the source's).
    env.push((
        crate::reproducible::SOURCE_DATE_EPOCH.to_string(),
        request.source_date_epoch.0.to_string(),
    ));
    // The recipe's variables (hints, overrides, learned fixes, a queued job's), each
    // checked again here: a job queued or a fix learned before a name was forbidden must
    // not bring it in (see crate::hints::FORBIDDEN_ENV).
    let (allowed, refused) = crate::hints::split_recipe_env(&request.env);
    env.extend(allowed);
    for name in refused {
        log.line(&format!(
            "[refinery] not set: {name} (a recipe may not set it; see the hint catalog's rules)"
        ));
    }
    // The compilers' parallelism: the run's budget where the build sets none itself.
    let meson_python = crate::native_frontend::is_meson_python(request.sdist);
    let parallelism = crate::compile_jobs::for_build(&settings.compile_budget, &env, meson_python);
    env.extend(parallelism.env);
    // The same build folder every time (see crate::reproducible::MESON_BUILD_DIR).
    env.extend(crate::reproducible::meson_build_dir(
        &env,
        meson_python,
        &build_root,
    ));
    if !request.build_constraints.is_empty() {
        // pip applies PIP_CONSTRAINT to the isolated build environment too; uv reads
        // UV_BUILD_CONSTRAINT for `uv build`.
        let text = format!("{}\n", request.build_constraints.join("\n"));
        std::fs::write(dir.0.join("build-constraints.txt"), text).map_err(|e| {
            fail(
                Stage::Build,
                format!("cannot write the build constraints: {e}"),
            )
        })?;
        let guest = format!("{build_root}/build-constraints.txt");
        log.line(&format!(
            "[refinery] build constraints: {}",
            request.build_constraints.join(", ")
        ));
        env.push(("PIP_CONSTRAINT".to_string(), guest.clone()));
        env.push(("UV_BUILD_CONSTRAINT".to_string(), guest));
    }

    // 1. Build (the compilers run natively when the runner can and the variant allows).
    let accelerate = runner.accelerated() && request.variant != crate::accelerate::EMULATED_VARIANT;
    // The glibc-targeted compiler unless the variant asks for the gcc cross or emulation.
    let use_zig = request.zig.is_some()
        && request.variant != crate::accelerate::EMULATED_VARIANT
        && request.variant != crate::accelerate::GCC_CROSS_VARIANT;
    log.line(&format!(
        "[refinery] build {} {} (attempt {}, variant {}) with {}",
        request.name,
        refinery_pep::project_version::spelling_or_empty(request.version),
        request.attempt,
        request.variant,
        describe_build(
            runner,
            accelerate,
            request.zig.filter(|_| use_zig),
            request.rust
        )
    ));
    log.line(&parallelism.log_line);
    log.line(&crate::reproducible::log_line(
        request.source_date_epoch.0,
        &request.source_date_epoch.1,
    ));
    let python = runner.python();
    let mut build_argv = vec![
        python.clone(),
        "-m".into(),
        "pip".into(),
        "wheel".into(),
        "--no-deps".into(),
        "--verbose".into(),
    ];
    let no_isolation = request.variant == "no-isolation";
    if no_isolation {
        build_argv.push("--no-build-isolation".into());
    }
    build_argv.extend([
        "--wheel-dir".into(),
        format!("{build_root}/out"),
        source.clone(),
    ]);
    let mut build_env = env.clone();
    if request.rust.is_some_and(|r| r.cross_compiles()) {
        build_env.extend(crate::rust_toolchain::python_env(
            runner.rootfs(),
            &settings.target.python_str(),
        ));
    }
    let mut emulated_frontend = format!("[refinery] frontend: pip in the s390x {python}");
    // Accelerated: the host's uv sets up the build environment natively.
    if let Some(uv) = runner.native_frontend().filter(|_| accelerate) {
        match crate::accelerate::uv_build(
            &uv,
            &python,
            &format!("{build_root}/out"),
            &source,
            no_isolation,
            &env,
        ) {
            Ok(frontend) => {
                emulated_frontend = format!("[refinery] frontend: the host's uv (native) with the s390x {python}; the build hooks run emulated");
                build_argv = frontend.argv;
                build_env.extend(frontend.env);
            }
            Err(why) => emulated_frontend = format!("[refinery] frontend: pip ({why})"),
        }
    }
    let mut build_mounts = mounts.clone();
    let pack_path = pack_bin_dirs(request);
    if let Some(dir) = request.packs_dir.filter(|_| !request.packs.is_empty()) {
        let ldflags = build_env
            .iter()
            .rev()
            .find(|(k, _)| k == "LDFLAGS")
            .map(|(_, v)| v.clone());
        build_env.extend(crate::packs::build_env(request.packs, ldflags.as_deref()));
        build_mounts.push(Mount::ro(dir, crate::packs::GUEST_PACKS_DIR));
        log.line(&format!(
            "[refinery] native library packs: {}",
            request
                .packs
                .iter()
                .map(|p| p.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let build_started = std::time::Instant::now();
    // The native frontend first, where the request and the variant allow.
    let mut native_wheel = None;
    // Without build isolation the build dependencies are the environment's own: only
    // its Python has them (the variant, or pip's PIP_NO_BUILD_ISOLATION=0 in overrides).
    let env_no_isolation = build_env
        .iter()
        .rev()
        .find(|(k, _)| k == "PIP_NO_BUILD_ISOLATION")
        .is_some_and(|(_, v)| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        });
    let native = request
        .native
        .filter(|_| accelerate && !no_isolation && !env_no_isolation)
        .zip(runner.native_frontend());
    if let Some((native, uv)) = native {
        let step = NativeStep {
            runner,
            settings,
            request,
            frontend: native.frontend,
            uv: &uv,
            dir: &dir.0,
            build_root: &build_root,
            source: &source,
        };
        match step.run(&build_env, &build_mounts, use_zig, log) {
            Ok(wheel) => {
                *lock(native.outcome) = NativeOutcome::Built;
                native_wheel = Some(wheel);
            }
            Err(NativeError::Abort(failure)) => return Err(failure),
            Err(NativeError::Fallback(why)) if native.fallback => {
                log.line(&format!(
                    "[refinery] native frontend: {why}; falling back to the emulated frontend"
                ));
                *lock(native.outcome) = NativeOutcome::FellBack(why);
                let out = dir.0.join("out");
                let _ = std::fs::remove_dir_all(&out);
                std::fs::create_dir_all(&out).map_err(|e| {
                    fail(Stage::Build, format!("cannot empty {}: {e}", out.display()))
                })?;
                // A fresh tree and meson folder: an in-place build (setuptools'
                // `build/`) and meson left the native step's objects in them.
                let _ = std::fs::remove_dir_all(dir.0.join(crate::source_tree::TREE_DIR));
                let _ = std::fs::remove_dir_all(dir.0.join(crate::reproducible::MESON_BUILD_DIR));
                source_to_build(request.sdist, &dir.0, &build_root, &sdist_name, log)
                    .map_err(|message| fail(Stage::Build, message))?;
            }
            Err(NativeError::Fallback(why)) => {
                *lock(native.outcome) = NativeOutcome::Failed(why.clone());
                let message = format!("native frontend (--build-frontend native): {why}");
                log.line(&format!("[refinery] {message}"));
                return Err(fail(Stage::Build, message));
            }
        }
    }
    let log_mark = log.read_all().len();
    let built = match native_wheel {
        Some(wheel) => wheel,
        None => {
            let spec = RunSpec {
                argv: build_argv,
                env: build_env,
                mounts: build_mounts,
                workdir: format!("{build_root}/src"),
                network: true,
                accelerate,
                zig: use_zig,
                rust: request.rust.map(|r| r.binds(!use_zig)),
                path_prepend: pack_path,
            };
            log.line(&emulated_frontend);
            run_step(runner.command(&spec), log, settings, Stage::Build)?;
            single_wheel(&dir.0.join("out"))
                .ok_or_else(|| fail(Stage::Build, "the build finished but wrote no wheel".into()))?
        }
    };
    log.line(&format!(
        "[refinery] build step took {:.1}s",
        build_started.elapsed().as_secs_f64()
    ));

    // 2. Repair: platform wheels get a manylinux tag; pure wheels stay as they are.
    let (wheel, repaired) =
        repair::repair(runner, settings, request, log, log_mark, &dir.0, built)?;

    // 3. Verify under emulation (see crate::verify): imports, smoke tests, self-test.
    let wheel_guest = format!(
        "{build_root}/{}",
        wheel.strip_prefix(&dir.0).unwrap_or(&wheel).display()
    );
    let wheel_dir_guest = wheel_guest
        .rsplit_once('/')
        .map_or(build_root.clone(), |(d, _)| d.to_string());
    let sandbox = crate::verify::Sandbox {
        runner,
        mounts,
        env,
        work_host: dir.0.clone(),
        work_guest: build_root.clone(),
        stop: settings.stop.as_deref(),
        native: native_install(runner, settings),
    };
    let under_test = crate::verify::WheelUnderTest {
        name: request.name,
        version: request.version,
        host_path: &wheel,
        guest_path: wheel_guest.clone(),
        find_links: vec![wheel_dir_guest, wheels],
        host_find_links: vec![
            wheel.parent().unwrap_or(&dir.0).to_path_buf(),
            settings.wheels_dir.clone(),
        ],
        tolerate_missing_dependencies: false,
        sdist: Some(request.sdist),
    };
    let verification = crate::verify::verify_wheel(&sandbox, &under_test, &settings.verify, log)
        .map_err(|stopped| AttemptFailure {
            stopped: true,
            ..fail(Stage::Verify, stopped.to_string())
        })?;
    if let Some(failed) = verification.first_failure() {
        return Err(AttemptFailure {
            verification: Some(Box::new(verification.clone())),
            ..fail(
                Stage::Verify,
                format!(
                    "verify failed: {} {}: {}",
                    failed.name, failed.outcome, failed.detail
                ),
            )
        });
    }
    let modules = verification.imported.clone();

    std::fs::create_dir_all(result_dir).map_err(|e| fail(Stage::Verify, e.to_string()))?;
    let kept = result_dir.join(file_name(&wheel));
    std::fs::copy(&wheel, &kept)
        .map_err(|e| fail(Stage::Verify, format!("cannot keep the wheel: {e}")))?;
    Ok(BuiltWheel {
        path: kept,
        modules,
        repaired,
        verification,
    })
}

/// The guest path the frontend builds: the sdist unpacked under the attempt's
/// [`crate::source_tree::TREE_DIR`], or the archive copied to `src/` when this is a format
/// the frontend unpacks itself or the unpack failed on something other than a hostile
/// member (the frontend then says what it makes of the archive).
///
/// # Errors
///
/// The message for the build log and the failure when a member points outside the tree.
fn source_to_build(
    sdist: &Path,
    attempt_dir: &Path,
    build_root: &str,
    sdist_name: &str,
    log: &Log,
) -> Result<String, String> {
    use crate::source_tree::{self, SourceTreeError};
    let archive = format!("{build_root}/src/{sdist_name}");
    if !source_tree::unpacks(sdist) {
        return Ok(archive);
    }
    match source_tree::unpack(sdist, &attempt_dir.join(source_tree::TREE_DIR)) {
        Ok(tree) => {
            let guest = format!(
                "{build_root}/{}",
                tree.strip_prefix(attempt_dir).unwrap_or(&tree).display()
            );
            log.line(&format!("[refinery] source tree: {guest}"));
            Ok(guest)
        }
        Err(e @ SourceTreeError::Hostile { .. }) => {
            log.line(&format!("[refinery] {e}"));
            Err(e.to_string())
        }
        Err(e) => {
            log.line(&format!(
                "[refinery] source tree: {e}; the frontend unpacks the archive"
            ));
            Ok(archive)
        }
    }
}

/// The label of a build step: the runner's, with acceleration or the glibc-targeted
/// compiler the step uses, and the Rust toolchain, e.g.
/// `rootfs:bookworm emulated+zig(glibc 2.17)+rust(1.97.1)`.
pub(crate) fn describe_build(
    runner: &dyn Runner,
    accelerated: bool,
    zig: Option<&crate::zig::ZigToolchain>,
    rust: Option<&crate::rust_toolchain::RustToolchain>,
) -> String {
    let base = match zig {
        Some(z) => format!("{}+{}", runner.label(), z.label()),
        None => runner.describe_attempt(accelerated),
    };
    match rust {
        Some(r) => format!("{base}+{}", r.label()),
        None => base,
    }
}

/// The packs' `bin` folders as the build sees them, when the build mounts its packs.
fn pack_bin_dirs(request: &AttemptRequest<'_>) -> Vec<String> {
    match request.packs_dir {
        Some(_) => crate::packs::bin_dirs(request.packs),
        None => Vec::new(),
    }
}

/// The native install of verification (the accelerator's uv, else the host's) unless
/// `--verify-install emulated`.
fn native_install(
    runner: &dyn Runner,
    settings: &AttemptSettings,
) -> Option<crate::verify::NativeInstall> {
    if !settings.verify.native_install {
        return None;
    }
    let mut native = match runner.accelerator().and_then(|a| a.uv.clone()) {
        Some(uv) => Some(crate::verify::NativeInstall::with_uv(uv, &settings.target)),
        None => crate::verify::NativeInstall::for_target(&settings.target),
    }?;
    // The CPython tree made for the native frontend compiles bytecode where the host
    // has no CPython X.Y of its own.
    if native.bytecode_python.is_none() {
        native.bytecode_python = runner.host_python().map(Path::to_path_buf);
    }
    Some(native)
}
