//! Native install for verification: the host's uv installs the wheel and its runtime
//! dependencies for the target (`uv pip install --python-platform s390x-manylinux_2_N
//! --python-version X.Y --target DIR`), offline from the output folders, into the work
//! folder, with bytecode compiled by a host CPython X.Y where there is one (bytecode does
//! not depend on the machine; numpy 2.4.4's import under emulation took 2.5 s without it
//! and 1.5 s with it). The venv that sees that folder as a site dir (`site.addsitedir`,
//! so `.pth` files inside it work as in site-packages) is written natively too
//! ([`write_venv`]), so the install runs no emulated code. Installing with the
//! environment's pip under emulation took most of a small package's verification time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use refinery_pep::Target;

use crate::exec::{run_logged, Log, Outcome};

/// The folder of the work folder the host's uv installs into.
pub const SITE_DIR: &str = "verify-site";

/// The glibc levels of `s390x-manylinux_2_N` that uv 0.13.9 accepts for
/// `--python-platform` (checked 2026-11-30: 2.17, 2.28, 2.31 … 2.40).
const UV_GLIBC_MINORS: &[u16] = &[17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40];

/// How the host's uv installs s390x wheels for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeInstall {
    /// The host's uv binary ([`crate::accelerate::find_host_uv`]).
    pub uv: PathBuf,
    /// `X.Y` of the target's CPython (`--python-version`).
    pub python_version: String,
    /// `s390x-manylinux_2_N` (`--python-platform`): the newest level uv knows that is not
    /// newer than the target's glibc.
    pub python_platform: String,
    /// A host CPython `X.Y` that compiles the installed files' bytecode (uv's `--python`
    /// with `--compile-bytecode`); `None`: no bytecode (`--no-compile`).
    pub bytecode_python: Option<PathBuf>,
}

impl NativeInstall {
    /// For `target` with the host's uv; `None` when the host has no uv (then the
    /// environment's pip installs under emulation).
    pub fn for_target(target: &Target) -> Option<NativeInstall> {
        let uv = crate::accelerate::find_host_uv()?;
        Some(NativeInstall::with_uv(uv, target))
    }

    /// For `target` with the uv binary `uv`; bytecode by the first host CPython `X.Y` of
    /// [`crate::native_frontend::host_python_candidates`].
    pub fn with_uv(uv: PathBuf, target: &Target) -> NativeInstall {
        let python_version = target.python_str();
        NativeInstall {
            uv,
            bytecode_python: crate::native_frontend::host_python_candidates(&python_version)
                .into_iter()
                .next(),
            python_version,
            python_platform: python_platform(target.glibc()),
        }
    }

    /// One line for the install check's detail.
    pub fn describe(&self) -> String {
        format!(
            "native: the host's uv installed it for {} and Python {}",
            self.python_platform, self.python_version
        )
    }

    /// Install `wheel` and its runtime dependencies (only from `find_links`, no index)
    /// into `<work>/verify-site`, replacing what was there, its scripts pointed at
    /// `venv_python` (the venv's interpreter as the environment spells it). With
    /// `tolerate_missing_dependencies`, a failed install is retried with `--no-deps`.
    ///
    /// # Errors
    /// [`InstallError`]: why uv could not install it (its last line, a time limit, a
    /// stop), or the scripts could not be pointed at the venv.
    #[allow(clippy::too_many_arguments)]
    pub fn install(
        &self,
        work: &Path,
        wheel: &Path,
        find_links: &[PathBuf],
        tolerate_missing_dependencies: bool,
        venv_python: &str,
        limit: Duration,
        stop: Option<&AtomicBool>,
        log: &Log,
    ) -> Result<(), InstallError> {
        let site = work.join(SITE_DIR);
        let _ = std::fs::remove_dir_all(&site);
        let first = self.run(&site, wheel, find_links, false, limit, stop, log);
        let installed = match first {
            Err(why) if tolerate_missing_dependencies => {
                log.line(&format!(
                    "[refinery-verify] some runtime dependencies are not in the output ({why}): installing the wheel alone"
                ));
                let _ = std::fs::remove_dir_all(&site);
                self.run(&site, wheel, find_links, true, limit, stop, log)
            }
            other => other,
        };
        installed?;
        point_scripts_at(&site, venv_python).map_err(|source| InstallError::Scripts {
            bin: site.join("bin"),
            source,
        })
    }

    /// The `uv pip install` command line (without `--no-deps` unless `no_deps`).
    pub fn command(
        &self,
        site: &Path,
        wheel: &Path,
        find_links: &[PathBuf],
        no_deps: bool,
    ) -> Command {
        let mut cmd = self.base_command(site);
        cmd.args(["--no-index", "--offline", "--no-cache"]);
        for dir in find_links {
            cmd.arg("--find-links").arg(dir);
        }
        if no_deps {
            cmd.arg("--no-deps");
        }
        cmd.arg(wheel);
        cmd
    }

    /// `uv pip install` of `requirement` from the index the run's pip settings `pip_env`
    /// name, translated as the uv build frontend translates them
    /// ([`crate::accelerate::uv_build`]: `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`,
    /// `PIP_TRUSTED_HOST`, pip's best match across indexes), wheels only, into `site`
    /// beside what is installed there.
    ///
    /// # Errors
    /// [`InstallError::Settings`]: a pip setting uv cannot take (several trusted hosts).
    pub fn index_command(
        &self,
        site: &Path,
        requirement: &str,
        pip_env: &[(String, String)],
    ) -> Result<Command, InstallError> {
        let mut cmd = self.base_command(site);
        cmd.args(["--only-binary", ":all:"]);
        let (strategy, value) = crate::accelerate::PIP_INDEX_STRATEGY;
        cmd.env(strategy, value);
        // The last value of a variable wins, as in the environment.
        for (key, value) in pip_env {
            if let Some(setting) = crate::accelerate::uv_index_setting(key, value) {
                let (uv_key, uv_value) = setting?;
                cmd.env(uv_key, uv_value);
            }
        }
        cmd.arg(requirement);
        Ok(cmd)
    }

    /// What every install runs with: the target's platform and version, `--target site`,
    /// bytecode by the host CPython (or none), copies not links, no user settings.
    fn base_command(&self, site: &Path) -> Command {
        let mut cmd = Command::new(&self.uv);
        cmd.args(["pip", "install", "--no-config", "--link-mode", "copy"]);
        match &self.bytecode_python {
            Some(python) => cmd.arg("--compile-bytecode").arg("--python").arg(python),
            None => cmd.arg("--no-compile"),
        };
        cmd.arg("--python-platform")
            .arg(&self.python_platform)
            .arg("--python-version")
            .arg(&self.python_version)
            .arg("--target")
            .arg(site);
        // Settings of the user's uv must not change what verification installs.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("UV_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("NO_COLOR", "1");
        cmd
    }

    /// Install `requirement` (e.g. `pytest` for the sdist's test suite) from the index
    /// into `<work>/verify-site`, beside the wheel [`NativeInstall::install`] put there,
    /// its scripts pointed at `venv_python`.
    ///
    /// # Errors
    /// [`InstallError`], as for [`NativeInstall::install`].
    #[allow(clippy::too_many_arguments)]
    pub fn install_from_index(
        &self,
        work: &Path,
        requirement: &str,
        pip_env: &[(String, String)],
        venv_python: &str,
        limit: Duration,
        stop: Option<&AtomicBool>,
        log: &Log,
    ) -> Result<(), InstallError> {
        let site = work.join(SITE_DIR);
        log.line(&format!(
            "[refinery-verify] native install: {} pip install --only-binary :all: --python-platform {} --python-version {} --target {} {requirement}",
            self.uv.display(),
            self.python_platform,
            self.python_version,
            site.display(),
        ));
        self.execute(
            self.index_command(&site, requirement, pip_env)?,
            limit,
            stop,
            log,
        )?;
        point_scripts_at(&site, venv_python).map_err(|source| InstallError::Scripts {
            bin: site.join("bin"),
            source,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        site: &Path,
        wheel: &Path,
        find_links: &[PathBuf],
        no_deps: bool,
        limit: Duration,
        stop: Option<&AtomicBool>,
        log: &Log,
    ) -> Result<(), InstallError> {
        let cmd = self.command(site, wheel, find_links, no_deps);
        log.line(&format!(
            "[refinery-verify] native install: {} pip install --python-platform {} --python-version {} --target {}{} {}",
            self.uv.display(),
            self.python_platform,
            self.python_version,
            site.display(),
            if no_deps { " --no-deps" } else { "" },
            wheel.display()
        ));
        self.execute(cmd, limit, stop, log)
    }

    /// Run one uv command with its lines in `log`, killed at `limit` or on `stop`.
    fn execute(
        &self,
        cmd: Command,
        limit: Duration,
        stop: Option<&AtomicBool>,
        log: &Log,
    ) -> Result<(), InstallError> {
        let offset = std::fs::metadata(log.path()).map_or(0, |m| m.len());
        match run_logged(cmd, log, Some(limit), stop) {
            Ok(Outcome::Success) => Ok(()),
            Ok(Outcome::Failed(status)) => {
                let text = crate::exec::read_log_from(log.path(), offset);
                let last = text
                    .lines()
                    .map(str::trim)
                    .rfind(|l| l.starts_with("error:") || l.starts_with("hint:"))
                    .or_else(|| text.lines().map(str::trim).rfind(|l| !l.is_empty()))
                    .unwrap_or("no output")
                    .chars()
                    .take(300)
                    .collect::<String>();
                Err(InstallError::Failed { status, last })
            }
            Ok(Outcome::TimedOut(limit)) => Err(InstallError::TimedOut {
                secs: limit.as_secs(),
            }),
            Ok(Outcome::Stopped) => Err(InstallError::Stopped),
            Err(source) => Err(InstallError::Run {
                uv: self.uv.clone(),
                source,
            }),
        }
    }
}

/// Why the host's uv could not install a wheel for verification.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// uv failed; `last` is its last `error:`/`hint:` line (or last line), at most 300
    /// characters.
    #[error("uv failed ({status}): {last}")]
    Failed { status: String, last: String },
    #[error("uv was killed at its time limit of {secs} s")]
    TimedOut { secs: u64 },
    #[error("stopped: the job was cancelled")]
    Stopped,
    #[error("cannot run {}: {source}", uv.display())]
    Run {
        uv: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A pip setting of the run that uv cannot take.
    #[error(transparent)]
    Settings(#[from] crate::accelerate::UvBuildError),
    #[error("cannot point the scripts of {} at the venv: {source}", bin.display())]
    Scripts {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `s390x-manylinux_2_N` for a target glibc `(2, minor)`: the newest level uv accepts that
/// is not newer than the target's (PEP 600 tags; below 2.17 there is none, so 2.17).
pub fn python_platform(glibc: (u16, u16)) -> String {
    let minor = UV_GLIBC_MINORS
        .iter()
        .copied()
        .filter(|m| *m <= glibc.1)
        .max()
        .unwrap_or(UV_GLIBC_MINORS[0]);
    format!("{}-manylinux_2_{minor}", refinery_pep::target::ARCH)
}

/// The shell lines that make a fresh venv at `venv` (with `python`) see `site` (both as
/// the environment spells them) as a site dir, and put the scripts of `site/bin` (see
/// [`point_scripts_at`]) into the venv's `bin`, as pip would have.
pub fn venv_script(python: &str, venv: &str, site: &str) -> String {
    format!(
        "set -e\nrm -rf {venv}\n{python} -m venv --without-pip {venv}\nfor dir in {venv}/lib/python3*/site-packages; do\n  echo \"import site; site.addsitedir('{site}')\" > \"$dir/_refinery_verify.pth\"\ndone\nfor script in {site}/bin/*; do\n  if [ -f \"$script\" ]; then cp -p \"$script\" {venv}/bin/; fi\ndone\n"
    )
}

/// Make the scripts uv wrote into `<site>/bin` start with `#!<python>` (the venv's python
/// as the environment spells it) instead of the host interpreter uv used. uv writes
/// either `#!<path>` or, for long paths, `#!/bin/sh` followed by an `'''exec' <path>`
/// line; both are replaced. Other files (no shebang, binaries) stay as they are.
/// Errors: a script that cannot be read or written.
pub fn point_scripts_at(site: &Path, python: &str) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(site.join("bin")) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.split_inclusive('\n');
        let Some(first) = lines.next().filter(|l| l.starts_with("#!")) else {
            continue;
        };
        let mut rest: String = lines.collect();
        if first.trim_end() == "#!/bin/sh" {
            match rest.split_once('\n') {
                Some((exec, after)) if exec.starts_with("'''exec'") => rest = after.to_string(),
                _ => continue,
            }
        } else if !first.contains("python") {
            continue;
        }
        std::fs::write(&path, format!("#!{python}\n{rest}"))?;
    }
    Ok(())
}

/// The environment's interpreter `python` (a name on its `PATH`, or a path) as an absolute
/// path inside `rootfs`, found on the host through the rootfs's own links; `None` when it
/// is not there (then the venv is made under emulation).
pub fn guest_interpreter(rootfs: &Path, python: &str) -> Option<String> {
    let candidates: Vec<String> = if python.starts_with('/') {
        vec![python.to_string()]
    } else {
        ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| format!("{dir}/{python}"))
            .collect()
    };
    candidates.iter().find_map(|guest| {
        let real = crate::accelerate::resolve_in(rootfs, guest)?;
        rootfs
            .join(real.trim_start_matches('/'))
            .is_file()
            .then_some(real)
    })
}

/// Write the verify venv natively, as `python -m venv --without-pip` lays it out (PEP 405):
/// `pyvenv.cfg` whose `home` is the interpreter's folder, `bin/python`, `python3` and
/// `python<X.Y>` linked to `interpreter` (both as the environment spells them), an empty
/// `lib/python<X.Y>/site-packages` with `lib64` linking to `lib` (for a `platlibdir` of
/// `lib64`), a `.pth` file there that adds `site` (the folder the host's uv installed
/// into, as the environment sees it) as a site dir, and the scripts of `site_host/bin`.
/// Replaces what was at `venv`. This spares verification one emulated interpreter start
/// and the venv module's work. Errors: a file or link that cannot be written.
pub fn write_venv(
    venv: &Path,
    interpreter: &str,
    python_version: &str,
    site_host: &Path,
    site: &str,
) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(venv);
    let bin = venv.join("bin");
    let site_packages = venv.join(format!("lib/python{python_version}/site-packages"));
    std::fs::create_dir_all(&bin)?;
    std::fs::create_dir_all(&site_packages)?;
    std::os::unix::fs::symlink("lib", venv.join("lib64"))?;
    for name in [
        "python".to_string(),
        "python3".into(),
        format!("python{python_version}"),
    ] {
        std::os::unix::fs::symlink(interpreter, bin.join(name))?;
    }
    let home = interpreter
        .rsplit_once('/')
        .map_or("/usr/bin", |(dir, _)| dir);
    std::fs::write(
        venv.join("pyvenv.cfg"),
        format!(
            "home = {home}\ninclude-system-site-packages = false\nversion = {python_version}\nexecutable = {interpreter}\n"
        ),
    )?;
    write_site_pth(venv, python_version, site)?;
    copy_scripts(venv, site_host)
}

/// The `.pth` file of a venv written by [`write_venv`] that adds the install folder.
pub fn site_pth(venv: &Path, python_version: &str) -> PathBuf {
    venv.join(format!(
        "lib/python{python_version}/site-packages/_refinery_verify.pth"
    ))
}

/// Write [`site_pth`]: `site` (as the environment sees it) becomes a site dir of every
/// interpreter started from the venv (its own `.pth` files are read then). Errors: the
/// file cannot be written.
pub fn write_site_pth(venv: &Path, python_version: &str, site: &str) -> std::io::Result<()> {
    std::fs::write(
        site_pth(venv, python_version),
        format!("import site; site.addsitedir('{site}')\n"),
    )
}

/// Copy the scripts uv installed into `site_host/bin` (pointed at the venv's Python, see
/// [`NativeInstall::install`]) into the venv's `bin`; none is fine. Errors: a script that
/// cannot be copied.
pub fn copy_scripts(venv: &Path, site_host: &Path) -> std::io::Result<()> {
    let bin = venv.join("bin");
    if let Ok(scripts) = std::fs::read_dir(site_host.join("bin")) {
        for script in scripts {
            let path = script?.path();
            if path.is_file() {
                if let Some(name) = path.file_name() {
                    std::fs::copy(&path, bin.join(name))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_is_the_newest_level_uv_knows_up_to_the_targets_glibc() {
        assert_eq!(python_platform((2, 17)), "s390x-manylinux_2_17");
        assert_eq!(python_platform((2, 24)), "s390x-manylinux_2_17");
        assert_eq!(python_platform((2, 28)), "s390x-manylinux_2_28");
        assert_eq!(python_platform((2, 30)), "s390x-manylinux_2_28");
        assert_eq!(python_platform((2, 36)), "s390x-manylinux_2_36");
        assert_eq!(python_platform((2, 41)), "s390x-manylinux_2_40");
    }

    #[test]
    fn scripts_point_at_the_venv_python_in_both_of_uvs_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let body = "import sys\nfrom pkg import main\nsys.exit(main())\n";
        std::fs::write(bin.join("short"), format!("#!/usr/bin/python3.11\n{body}")).unwrap();
        std::fs::write(
            bin.join("long"),
            format!("#!/bin/sh\n'''exec' '/a/very/long/path/python' \"$0\" \"$@\"\n' '''\n{body}"),
        )
        .unwrap();
        std::fs::write(bin.join("tool.sh"), "#!/bin/bash\necho hi\n").unwrap();
        std::fs::write(bin.join("data"), [0u8, 159, 146, 150]).unwrap();
        point_scripts_at(dir.path(), "/build/venv/bin/python").unwrap();
        let read = |f: &str| std::fs::read_to_string(bin.join(f)).unwrap();
        assert_eq!(read("short"), format!("#!/build/venv/bin/python\n{body}"));
        assert_eq!(
            read("long"),
            format!("#!/build/venv/bin/python\n' '''\n{body}")
        );
        assert_eq!(read("tool.sh"), "#!/bin/bash\necho hi\n");
        assert_eq!(
            std::fs::read(bin.join("data")).unwrap(),
            [0u8, 159, 146, 150]
        );
    }

    #[test]
    fn the_command_is_offline_for_the_target_with_bytecode_only_by_a_host_python() {
        let target = Target::new("3.13", "manylinux_2_34_s390x").unwrap();
        let mut native = NativeInstall::with_uv("/opt/uv".into(), &target);
        native.bytecode_python = None;
        let cmd = native.command(
            Path::new("/w/verify-site"),
            Path::new("/w/a.whl"),
            &[PathBuf::from("/out")],
            true,
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = args.join(" ");
        for want in [
            "pip install --no-config --link-mode copy",
            "--no-compile",
            "--python-platform s390x-manylinux_2_34 --python-version 3.13",
            "--target /w/verify-site --no-index --offline --no-cache --find-links /out --no-deps /w/a.whl",
        ] {
            assert!(line.contains(want), "{want:?} not in {line}");
        }
        assert!(!line.contains("--compile-bytecode"), "{line}");
        native.bytecode_python = Some("/opt/py3.13/bin/python3.13".into());
        let cmd = native.command(Path::new("/w/s"), Path::new("/w/a.whl"), &[], false);
        let line: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = line.join(" ");
        assert!(
            line.contains("--compile-bytecode --python /opt/py3.13/bin/python3.13"),
            "{line}"
        );
        assert!(!line.contains("--no-compile"), "{line}");
    }

    #[test]
    fn pytest_comes_from_the_runs_index_as_a_wheel_for_the_target() {
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let mut native = NativeInstall::with_uv("/opt/uv".into(), &target);
        native.bytecode_python = None;
        let pip_env = [
            (
                "PIP_INDEX_URL".to_string(),
                "https://mirror.example/simple".to_string(),
            ),
            ("PIP_TRUSTED_HOST".to_string(), "mirror.example".to_string()),
            ("PIP_FIND_LINKS".to_string(), "/wheels".to_string()),
        ];
        let cmd = native
            .index_command(Path::new("/w/verify-site"), "pytest", &pip_env)
            .unwrap();
        let line = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            line.contains("--python-platform s390x-manylinux_2_17 --python-version 3.11 --target /w/verify-site --only-binary :all: pytest"),
            "{line}"
        );
        assert!(
            !line.contains("--offline") && !line.contains("/wheels"),
            "{line}"
        );
        let env: Vec<(String, String)> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
            .collect();
        assert!(env.contains(&(
            "UV_INDEX_URL".into(),
            "https://mirror.example/simple".into()
        )));
        assert!(env.contains(&("UV_INSECURE_HOST".into(), "mirror.example".into())));
        assert!(env.contains(&("UV_INDEX_STRATEGY".into(), "unsafe-best-match".into())));
        // Several trusted hosts: uv takes one, as for the build frontend.
        let several = [(
            "PIP_TRUSTED_HOST".to_string(),
            "a.example b.example".to_string(),
        )];
        assert!(native
            .index_command(Path::new("/w/verify-site"), "pytest", &several)
            .is_err());
    }

    #[test]
    fn a_natively_written_venv_is_a_venv_of_the_interpreter_and_sees_the_site_dir() {
        let Some(interpreter) = guest_interpreter(Path::new("/"), "python3") else {
            panic!("the host has no python3 in /usr/local/bin, /usr/bin or /bin");
        };
        let version = Command::new(&interpreter)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let work = tempfile::tempdir().unwrap();
        let site = work.path().join(SITE_DIR);
        std::fs::create_dir_all(site.join("bin")).unwrap();
        std::fs::write(site.join("natpkg.py"), "X = 'from the site dir'\n").unwrap();
        let venv = work.path().join("venv");
        std::fs::create_dir_all(venv.join("stale")).unwrap();
        std::fs::write(
            site.join("bin/natpkg-cli"),
            format!(
                "#!{}/bin/python\nimport natpkg; print(natpkg.X)\n",
                venv.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            site.join("bin/natpkg-cli"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        write_venv(
            &venv,
            &interpreter,
            &version,
            &site,
            &site.to_string_lossy(),
        )
        .unwrap();
        assert!(!venv.join("stale").exists());
        let probe =
            "import sys, natpkg; print(sys.prefix, sys.prefix != sys.base_prefix, natpkg.X)";
        let out = Command::new(venv.join("bin/python"))
            .args(["-c", probe])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            format!("{} True from the site dir", venv.display()),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The system's site-packages stay out, as with --without-pip's default.
        let out = Command::new(venv.join(format!("bin/python{version}")))
            .args([
                "-c",
                "import sys; print(any('dist-packages' in p for p in sys.path))",
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "False");
        let out = Command::new(venv.join("bin/natpkg-cli")).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "from the site dir"
        );
        assert!(guest_interpreter(Path::new("/"), "refinery-no-such-python").is_none());
    }
}
