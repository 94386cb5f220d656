//! The build step with the native frontend (see [`crate::native_frontend`]): the host's
//! CPython runs the PEP 517 hooks in the same sandbox, with the same compilers and
//! settings as the emulated step, and its wheel is checked before it goes on to repair.

use std::path::{Path, PathBuf};

use super::step::{run_step, single_wheel};
use super::{pack_bin_dirs, AttemptFailure, AttemptRequest, AttemptSettings, Stage};
use crate::exec::Log;
use crate::runner::{Mount, RunSpec, Runner};
use crate::wheel_inspect::elf_machines;

/// Why a native build did not give a wheel.
pub(super) enum NativeError {
    /// Try the emulated frontend (why).
    Fallback(String),
    /// Stopped or timed out: no fallback.
    Abort(AttemptFailure),
}

/// One build step with the native frontend (see [`crate::native_frontend`]).
pub(super) struct NativeStep<'a> {
    pub(super) runner: &'a dyn Runner,
    pub(super) settings: &'a AttemptSettings,
    pub(super) request: &'a AttemptRequest<'a>,
    pub(super) frontend: &'a crate::native_frontend::NativeFrontend,
    pub(super) uv: &'a str,
    pub(super) dir: &'a Path,
    pub(super) build_root: &'a str,
    /// The guest path the frontend builds (the unpacked source tree or the sdist).
    pub(super) source: &'a str,
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
    pub(super) fn run(
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
            self.source,
            false,
            build_env,
        )
        .map_err(|e| fallback(e.to_string()))?;
        if crate::native_frontend::is_meson_python(self.request.sdist) {
            use crate::native_frontend::meson;
            let properties = self.target_numpy(&cross, log)?;
            let python = format!(
                "{root}/{}/{}",
                crate::native_frontend::CROSS_DIR,
                meson::PYTHON_WRAPPER
            );
            write_executable(
                &cross.join(meson::PYTHON_WRAPPER),
                meson::PYTHON_WRAPPER_SCRIPT,
            )
            .and_then(|()| {
                std::fs::write(
                    cross.join(meson::CROSS_FILE),
                    meson::cross_file(build_env, &properties, Some(&python)),
                )
            })
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

pub(super) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes `text` to `path` with mode 0755.
fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}
