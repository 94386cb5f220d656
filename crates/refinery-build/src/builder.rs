//! One attempt at one package: build a wheel from its sdist in the environment, repair
//! it with auditwheel to the target's manylinux tag, and prove it imports on s390x.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use refinery_pep::{Compatibility, Target, WheelFilename};

use crate::exec::{run_logged, Log, Outcome};
use crate::runner::{Mount, RunSpec, Runner};
use crate::wheel_inspect::{elf_machines, EM_S390};

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
    /// The native Rust toolchain the build step gets (packages with Rust code).
    pub rust: Option<&'a crate::rust_toolchain::RustToolchain>,
    /// Native library packs the build step links, and the host folder that holds them.
    pub packs: &'a [crate::packs::Pack],
    pub packs_dir: Option<&'a Path>,
    /// Run the PEP 517 hooks natively first (see [`crate::native_frontend`]).
    pub native: Option<NativeRequest<'a>>,
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

/// Why a native build did not give a wheel.
enum NativeError {
    /// Try the emulated frontend (why).
    Fallback(String),
    /// Stopped or timed out: no fallback.
    Abort(AttemptFailure),
}

/// The attempt's private folder, removed when dropped.
struct AttemptDir(PathBuf);

impl Drop for AttemptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
    let fail = |stage, message: String| AttemptFailure {
        stage,
        message,
        timed_out: false,
        stopped: false,
        policy: false,
        verification: None,
    };
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
    let mounts = vec![
        build_mount.clone(),
        Mount::rw(&settings.pip_cache, GUEST_PIP_CACHE),
        Mount::ro(&settings.wheels_dir, GUEST_WHEELS),
    ];
    let build_root = runner.guest_path(&build_mount);
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
    env.extend(request.env.iter().cloned());
    // The compilers' parallelism: the run's budget where the build sets none itself.
    let parallelism = crate::compile_jobs::for_build(
        &settings.compile_budget,
        &env,
        crate::native_frontend::is_meson_python(request.sdist),
    );
    env.extend(parallelism.env);
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
    let use_zig = runner.zig().is_some()
        && request.variant != crate::accelerate::EMULATED_VARIANT
        && request.variant != crate::accelerate::GCC_CROSS_VARIANT;
    log.line(&format!(
        "[refinery] build {} {} (attempt {}, variant {}) with {}",
        request.name,
        refinery_pep::project_version::spelling_or_empty(request.version),
        request.attempt,
        request.variant,
        describe_build(runner, accelerate, use_zig, request.rust)
    ));
    log.line(&parallelism.log_line);
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
        format!("{build_root}/src/{sdist_name}"),
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
            &format!("{build_root}/src/{sdist_name}"),
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
            sdist_name: &sdist_name,
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
    let built_name: WheelFilename = file_name(&built).parse().map_err(|e| {
        fail(
            Stage::Build,
            format!("the build wrote a wheel with a bad name: {e}"),
        )
    })?;

    // 2. Repair: platform wheels get a manylinux tag; pure wheels stay as they are.
    let machines = elf_machines(&built).map_err(|e| fail(Stage::Repair, e.to_string()))?;
    // Nothing pure from a compiled sdist.
    // Only the build that made the wheel: a failed native one may have fallen back.
    crate::verify::purity::check_build(
        request.sdist,
        !machines.is_empty(),
        log.read_all().get(log_mark..).unwrap_or_default(),
        &settings.catalog,
    )
    .map_err(|message| {
        // Logged so that the catalog's hint matches this failure too.
        log.line(&format!("[refinery] {message}"));
        fail(Stage::Build, message.to_string())
    })?;
    if let Some((member, machine)) = machines.iter().find(|(_, m)| *m != EM_S390) {
        return Err(fail(
            Stage::Repair,
            format!("{member} is not an s390x binary (ELF machine {machine}): the build used a wrong compiler"),
        ));
    }
    let mut is_pure = built_name.platform_tags.iter().all(|p| p == "any");
    // Compiled code is never published as `any`: retag it as the platform wheel it is.
    let built = if is_pure && !machines.is_empty() {
        is_pure = false;
        let retagged = crate::verify::retag::retag_into(&built, &dir.0, &settings.target)
            .map_err(|e| fail(Stage::Repair, e.to_string()))?;
        log.line(&format!("[refinery] the wheel is tagged pure but carries s390x ELF files: retagged {} for repair", file_name(&retagged)));
        retagged
    } else {
        built
    };
    let (wheel, repaired) = if is_pure {
        log.line("[refinery] pure wheel: nothing to repair");
        (built.clone(), false)
    } else {
        let mut cmd = Command::new(&settings.auditwheel);
        if let Some(path) = crate::host_tools::path_with_dir_of(&settings.auditwheel) {
            cmd.env("PATH", path);
        }
        cmd.args(["repair", "--plat", "auto", "--wheel-dir"])
            .arg(dir.0.join("repaired"))
            .arg(&built);
        // A pack's shared library (libpq.so) is grafted like any other.
        let ldpaths: Vec<String> = runner
            .library_paths()
            .into_iter()
            .chain(pack_lib_dirs(request))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if !ldpaths.is_empty() {
            cmd.arg("--ldpaths").arg(ldpaths.join(":"));
        }
        log.line(&format!(
            "[refinery] repair with auditwheel {}",
            built.display()
        ));
        run_step(cmd, log, settings, Stage::Repair)?;
        let repaired = single_wheel(&dir.0.join("repaired")).ok_or_else(|| {
            fail(
                Stage::Repair,
                "auditwheel finished but wrote no wheel".into(),
            )
        })?;
        let repaired_name: WheelFilename = file_name(&repaired).parse().map_err(|e| {
            fail(
                Stage::Repair,
                format!("auditwheel wrote a wheel with a bad name: {e}"),
            )
        })?;
        if let Compatibility::Incompatible { reason } =
            settings.target.compatibility(&repaired_name)
        {
            return Err(AttemptFailure {
                policy: true,
                ..fail(
                    Stage::Repair,
                    format!(
                        "auditwheel could only tag it {}: {reason}",
                        file_name(&repaired)
                    ),
                )
            });
        }
        (repaired, true)
    };

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
    let verification = crate::verify::verify_wheel(&sandbox, &under_test, &settings.verify, log);
    if let Some(failed) = verification.first_failure() {
        return Err(AttemptFailure {
            timed_out: false,
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

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One build step with the native frontend (see [`crate::native_frontend`]).
struct NativeStep<'a> {
    runner: &'a dyn Runner,
    settings: &'a AttemptSettings,
    request: &'a AttemptRequest<'a>,
    frontend: &'a crate::native_frontend::NativeFrontend,
    uv: &'a str,
    dir: &'a Path,
    build_root: &'a str,
    sdist_name: &'a str,
}

impl NativeStep<'_> {
    /// The cross-file property naming the target's numpy, unpacked into the cross folder,
    /// when the sdist builds against numpy and the run has built one for the target
    /// (see [`crate::native_frontend::target_numpy`]); none otherwise.
    fn target_numpy(
        &self,
        cross: &Path,
        log: &Log,
    ) -> Result<Vec<(&'static str, String)>, NativeError> {
        use crate::native_frontend::target_numpy;
        let requires = refinery_plan::build_requires::read_build_requires(self.request.sdist)
            .unwrap_or_default();
        let Some(requirement) = target_numpy::numpy_requirement(&requires) else {
            return Ok(Vec::new());
        };
        let Some(wheel) = target_numpy::find_wheel(
            &self.settings.wheels_dir,
            &self.settings.target,
            &requirement,
        ) else {
            log.line(&format!(
                "[refinery] meson-python: no numpy wheel for the target among the run's wheels matches {requirement}: the build sees the host's numpy"
            ));
            return Ok(Vec::new());
        };
        let include = target_numpy::unpack(&wheel, &cross.join(target_numpy::DIR))
            .map_err(|e| NativeError::Fallback(e.to_string()))?;
        let guest = format!(
            "{}/{}/{}/{}",
            self.build_root,
            crate::native_frontend::CROSS_DIR,
            target_numpy::DIR,
            include.display()
        );
        log.line(&format!(
            "[refinery] meson-python: the target's numpy {} (headers, static libraries, f2py sources) as {} = {guest}",
            wheel.file_name().unwrap_or_default().to_string_lossy(),
            target_numpy::PROPERTY
        ));
        Ok(vec![(target_numpy::PROPERTY, guest)])
    }

    /// Build with the host's CPython in the same sandbox, compilers and settings as the
    /// emulated step (`build_env`, `build_mounts`), and check the wheel.
    fn run(
        &self,
        build_env: &[(String, String)],
        build_mounts: &[Mount],
        use_zig: bool,
        log: &Log,
    ) -> Result<PathBuf, NativeError> {
        let fallback = NativeError::Fallback;
        let cross = self.dir.join(crate::native_frontend::CROSS_DIR);
        self.frontend
            .write_cross_dir(&cross)
            .map_err(|e| fallback(e.to_string()))?;
        let root = self.build_root;
        let mut frontend = crate::accelerate::uv_build(
            self.uv,
            &self.frontend.host.executable.to_string_lossy(),
            &format!("{root}/out"),
            &format!("{root}/src/{}", self.sdist_name),
            false,
            build_env,
        )
        .map_err(|e| fallback(e.to_string()))?;
        if crate::native_frontend::is_meson_python(self.request.sdist) {
            use crate::native_frontend::meson;
            let properties = self.target_numpy(&cross, log)?;
            std::fs::write(
                cross.join(meson::CROSS_FILE),
                meson::cross_file(build_env, &properties),
            )
            .map_err(|e| fallback(format!("cannot write the meson cross file: {e}")))?;
            frontend.config_setting(&meson::setup_args(&format!(
                "{root}/{}/{}",
                crate::native_frontend::CROSS_DIR,
                meson::CROSS_FILE
            )));
            log.line("[refinery] meson-python: meson cross file for big-endian s390x (host machine) passed as setup-args");
        }
        // The sitecustomize sets these for the hooks; uv's own interpreter query must
        // not see them (a Rust build's PyO3 settings name the sysconfig module too).
        let mut env: Vec<(String, String)> = build_env
            .iter()
            .filter(|(k, _)| k != "_PYTHON_SYSCONFIGDATA_NAME" && k != "_PYTHON_HOST_PLATFORM")
            .cloned()
            .collect();
        env.extend(frontend.env);
        env.extend(
            self.frontend
                .env(&format!("{root}/{}", crate::native_frontend::CROSS_DIR)),
        );
        let mut mounts = build_mounts.to_vec();
        mounts.extend(self.frontend.mounts());
        let spec = RunSpec {
            argv: frontend.argv,
            env,
            mounts,
            workdir: format!("{root}/src"),
            network: true,
            accelerate: true,
            zig: use_zig,
            rust: self.request.rust.map(|r| r.binds(!use_zig)),
            path_prepend: pack_bin_dirs(self.request),
        };
        log.line(&format!(
            "[refinery] frontend: {}; the host's uv installs the build dependencies",
            self.frontend.describe()
        ));
        let mark = log.read_all().len();
        match run_step(self.runner.command(&spec), log, self.settings, Stage::Build) {
            Ok(()) => {}
            Err(f) if f.stopped || f.timed_out => return Err(NativeError::Abort(f)),
            Err(f) => return Err(fallback(f.message)),
        }
        let wheel = single_wheel(&self.dir.join("out"))
            .ok_or_else(|| fallback("the build finished but wrote no wheel".into()))?;
        crate::native_frontend::check_wheel(&wheel, &self.settings.target)
            .map_err(|e| fallback(e.to_string()))?;
        let has_elf = !elf_machines(&wheel)
            .map_err(|e| fallback(e.to_string()))?
            .is_empty();
        crate::verify::purity::check_build(
            self.request.sdist,
            has_elf,
            log.read_all().get(mark..).unwrap_or_default(),
            &self.settings.catalog,
        )
        .map_err(|e| fallback(e.to_string()))?;
        Ok(wheel)
    }
}

/// The native install of verification (the accelerator's uv, else the host's) unless
/// `--verify-install emulated`.
/// The label of a build step: the runner's (acceleration and the C compilers) and the
/// Rust toolchain, e.g. `rootfs:bookworm emulated+zig(glibc 2.17)+rust(1.97.1)`.
pub(crate) fn describe_build(
    runner: &dyn Runner,
    accelerated: bool,
    zig: bool,
    rust: Option<&crate::rust_toolchain::RustToolchain>,
) -> String {
    let base = runner.describe_build(accelerated, zig);
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

/// The packs' library folders on the host, for auditwheel's `--ldpaths`.
fn pack_lib_dirs(request: &AttemptRequest<'_>) -> Vec<PathBuf> {
    request.packs_dir.map_or_else(Vec::new, |dir| {
        request
            .packs
            .iter()
            .map(|p| dir.join(&p.key).join("lib"))
            .collect()
    })
}

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

fn run_step(
    cmd: Command,
    log: &Log,
    settings: &AttemptSettings,
    stage: Stage,
) -> Result<(), AttemptFailure> {
    let failure = |message: String| AttemptFailure {
        stage,
        message,
        timed_out: false,
        stopped: false,
        policy: false,
        verification: None,
    };
    match run_logged(cmd, log, settings.timeout, settings.stop.as_deref()) {
        Ok(Outcome::Success) => Ok(()),
        Ok(Outcome::Failed(status)) => {
            if stage == Stage::Build && crate::compile_jobs::killed_by_sigkill(&status) {
                // The catalog's out-of-memory entry matches this line.
                log.line(&format!(
                    "[refinery] the build step was killed by SIGKILL ({status}), most likely by the out-of-memory killer"
                ));
            }
            Err(failure(format!(
                "{stage} failed ({status}): {}",
                last_error_line(log)
            )))
        }
        Ok(Outcome::TimedOut(limit)) => Err(AttemptFailure {
            timed_out: true,
            ..failure(format!("{stage} timed out after {}s", limit.as_secs()))
        }),
        Ok(Outcome::Stopped) => Err(AttemptFailure {
            stopped: true,
            ..failure(format!("cancelled during the {stage} step"))
        }),
        Err(e) => Err(failure(format!("cannot start the {stage} step: {e}"))),
    }
}

/// The most telling line of a failed step: the last one that looks like an error.
fn last_error_line(log: &Log) -> String {
    let tail = log.tail();
    tail.iter()
        .rev()
        .find(|l| {
            let lower = l.to_lowercase();
            lower.contains("error") || lower.contains("fatal") || lower.contains("not found")
        })
        .or_else(|| tail.last())
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

fn single_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
