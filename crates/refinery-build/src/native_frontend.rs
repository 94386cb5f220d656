//! The native build frontend (crossenv's design): the PEP 517 hooks run in a host
//! (x86_64) CPython of the target's X.Y that carries the target's sysconfig, so that
//! nothing but a configure test's binaries (binfmt runs those) executes s390x code
//! during a build.
//!
//! How the host Python is made to look like the target's, inside the same sandbox as the
//! emulated build (the s390x rootfs is `/`, the accelerator's cross compilers are bound
//! over its compiler names, so the toolchain choice is the emulated path's):
//! - the host CPython's prefix is bound read-only at its own path (its libraries come
//!   with the accelerator's host library folders), with the environment's
//!   `include/pythonX.Y` bound over its own headers;
//! - a folder on `PYTHONPATH` holds a copy of the environment's `_sysconfigdata_*` module
//!   and a `sitecustomize` that sets `_PYTHON_SYSCONFIGDATA_NAME` and
//!   `_PYTHON_HOST_PLATFORM=linux-s390x` for the hook process and its children. uv's own
//!   interpreter query ignores `PYTHONPATH` (and would misread the interpreter with the
//!   sysconfig variable set), so only the hooks see the target's sysconfig;
//! - build dependencies are installed for the host by the host's uv (`uv build`).
//!
//! A wheel is accepted only when [`check_wheel`] finds it s390x (every ELF member
//! big-endian `EM_S390`) and tagged for the target; otherwise, or when the build fails,
//! the attempt falls back to the emulated frontend and the history remembers
//! (a [`EventKind::NativeFrontendFailed`] event, data: `reason`) so later runs go straight to it (`--build-frontend auto`).

use std::path::{Path, PathBuf};

use refinery_pep::{Target, WheelFilename};
use refinery_store::{EventKind, History};

use crate::runner::Mount;

/// Overrides which host CPython the native frontend runs (an executable path).
pub const HOST_PYTHON_ENV: &str = "REFINERY_HOST_PYTHON";
/// The folder of the attempt (under the build root) that goes on the hooks' `PYTHONPATH`.
pub const CROSS_DIR: &str = "cross";
/// The platform the host Python reports to the build (`sysconfig.get_platform()`).
pub const HOST_PLATFORM: &str = "linux-s390x";

/// `--build-frontend`: who runs the PEP 517 hooks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrontendMode {
    /// Native where the host has a CPython of the target's X.Y and the package has not
    /// failed that way before; a failed or wrong native build falls back to the
    /// emulated frontend in the same attempt.
    #[default]
    Auto,
    /// Always native, no fallback: a failed native build fails the attempt (to debug it).
    Native,
    /// The target's Python under emulation runs the hooks.
    Emulated,
}

impl std::str::FromStr for FrontendMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(FrontendMode::Auto),
            "native" => Ok(FrontendMode::Native),
            "emulated" => Ok(FrontendMode::Emulated),
            other => Err(format!(
                "build frontend {other:?}: use auto, native or emulated"
            )),
        }
    }
}

impl std::fmt::Display for FrontendMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrontendMode::Auto => "auto",
            FrontendMode::Native => "native",
            FrontendMode::Emulated => "emulated",
        })
    }
}

/// A host CPython: its executable, `sys.base_prefix`, and `X.Y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPython {
    pub executable: PathBuf,
    pub prefix: PathBuf,
    pub version: String,
}

/// The target's `_sysconfigdata_*` module in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSysconfig {
    /// Module name, e.g. `_sysconfigdata__linux_s390x-linux-gnu`.
    pub module: String,
    /// Host path of the file (inside the rootfs).
    pub file: PathBuf,
    /// Its `VERSION`, e.g. `3.11`.
    pub version: String,
    /// Host path of the environment's `include/pythonX.Y`.
    pub include: PathBuf,
}

/// Why the native frontend cannot serve an environment, or refused a wheel it built. Each
/// names the file, folder or interpreter concerned.
#[derive(Debug, thiserror::Error)]
pub enum NativeFrontendError {
    #[error("cannot write {}: {source}", dir.display())]
    WriteCrossDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", file.display())]
    ReadSysconfig {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} names no VERSION: not a sysconfig module", file.display())]
    NoVersion { file: PathBuf },
    #[error(
        "the environment has no Python headers ({} is missing): recreate it with python3-dev",
        header.display()
    )]
    NoHeaders { header: PathBuf },
    #[error(
        "the environment {} has no s390x sysconfig module for Python {python} (_sysconfigdata_*s390x*.py under usr/lib/python{python})",
        rootfs.display()
    )]
    NoSysconfig { rootfs: PathBuf, python: String },
    #[error(
        "the target's sysconfig {} is for Python {target} but the host CPython {} is Python {host}: refusing to mix them.\nhint: install CPython {target} on the host (e.g. `pyenv install {target}`) or set {HOST_PYTHON_ENV} to one",
        sysconfig.display(),
        executable.display()
    )]
    VersionMismatch {
        sysconfig: PathBuf,
        target: String,
        executable: PathBuf,
        host: String,
    },
    /// No candidate was a CPython `version`; `tried` says what each one was.
    #[error(
        "no host CPython {version} for the native build frontend{}.\nhint: `pyenv install {version}`, put python{version} on PATH or set {HOST_PYTHON_ENV}",
        tried_text(tried)
    )]
    NoHostPython { version: String, tried: Vec<String> },
    #[error("cannot run {}: {source}", python.display())]
    RunPython {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} failed: {stderr}", python.display())]
    PythonFailed { python: PathBuf, stderr: String },
    #[error("{} answered {answer:?}", python.display())]
    PythonAnswer { python: PathBuf, answer: String },
    #[error("{} is {implementation}, not CPython", python.display())]
    NotCPython {
        python: PathBuf,
        implementation: String,
    },
    #[error("the wheel has a bad name: {source}")]
    WheelName {
        #[source]
        source: refinery_pep::WheelFilenameError,
    },
    /// The wheel's ELF members could not be read.
    #[error(transparent)]
    Inspect(#[from] crate::wheel_inspect::WheelInspectError),
    #[error(
        "{member} is not a big-endian s390x binary (ELF machine {machine}, {}): the build compiled for the host",
        if *big_endian { "big-endian" } else { "little-endian" }
    )]
    NotS390x {
        member: String,
        machine: u16,
        big_endian: bool,
    },
    #[error("{file} is tagged pure but carries ELF files")]
    PureWithElf { file: String },
    #[error(
        "{file} is tagged for platform {platform}, not linux_s390x: the build saw the host's platform"
    )]
    WrongPlatform { file: String, platform: String },
    #[error("{file} is tagged for {tags}, not the target's {cpython}")]
    WrongPython {
        file: String,
        tags: String,
        cpython: String,
    },
}

/// ` (tried: a; b)`, or nothing when nothing was tried.
fn tried_text(tried: &[String]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(" (tried: {})", tried.join("; "))
    }
}

/// Everything the native frontend needs for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeFrontend {
    pub host: HostPython,
    pub sysconfig: TargetSysconfig,
}

impl NativeFrontend {
    /// The native frontend for the environment at `rootfs` whose Python is `python`
    /// (`X.Y`), or why there is none (no host CPython X.Y, no sysconfig, a mismatch).
    /// `made` is a host CPython made for it ([`host_tree`]), tried after the host's own.
    pub fn prepare(
        rootfs: &Path,
        python: &str,
        made: Option<&Path>,
    ) -> Result<NativeFrontend, NativeFrontendError> {
        let sysconfig = target_sysconfig(rootfs, python)?;
        let mut candidates = host_python_candidates(python);
        candidates.extend(made.map(Path::to_path_buf));
        let host = first_matching(python, &candidates)?;
        check_versions(&sysconfig, &host)?;
        Ok(NativeFrontend { host, sysconfig })
    }

    /// Write the `PYTHONPATH` folder of one attempt: the sysconfig module and the
    /// `sitecustomize` that selects it.
    pub fn write_cross_dir(&self, dir: &Path) -> Result<(), NativeFrontendError> {
        let fail = |source| NativeFrontendError::WriteCrossDir {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        std::fs::copy(
            &self.sysconfig.file,
            dir.join(format!("{}.py", self.sysconfig.module)),
        )
        .map_err(fail)?;
        let script = format!(
            "# Written by the refinery: the PEP 517 hooks see the target's sysconfig.\n\
             import os\n\
             os.environ['_PYTHON_SYSCONFIGDATA_NAME'] = {module:?}\n\
             os.environ['_PYTHON_HOST_PLATFORM'] = {HOST_PLATFORM:?}\n",
            module = self.sysconfig.module
        );
        std::fs::write(dir.join("sitecustomize.py"), script).map_err(fail)
    }

    /// The host CPython's prefix at its own path (its `RUNPATH` is absolute), and the
    /// environment's headers over its own.
    pub fn mounts(&self) -> Vec<Mount> {
        let prefix = self.host.prefix.to_string_lossy().into_owned();
        vec![
            Mount::ro(&self.host.prefix, &prefix),
            Mount::ro(
                &self.sysconfig.include,
                &format!("{prefix}/include/python{}", self.host.version),
            ),
        ]
    }

    /// The hooks' `PYTHONPATH`, given the attempt's cross folder as the build sees it.
    pub fn env(&self, guest_cross_dir: &str) -> Vec<(String, String)> {
        vec![("PYTHONPATH".to_string(), guest_cross_dir.to_string())]
    }

    /// One line for logs: `native (host CPython 3.11 /root/.pyenv/…/python3.11)`.
    pub fn describe(&self) -> String {
        format!(
            "native (host CPython {} {} with the target's {})",
            self.host.version,
            self.host.executable.display(),
            self.sysconfig.module
        )
    }
}

/// The environment's sysconfig module for Python `python` (`X.Y`): a CPython built into
/// `/usr/local` first (see [`crate::cpython`]), then Debian's in `/usr/lib`.
pub fn target_sysconfig(
    rootfs: &Path,
    python: &str,
) -> Result<TargetSysconfig, NativeFrontendError> {
    for prefix in [crate::cpython::PREFIX, "/usr"] {
        let prefix = prefix.trim_start_matches('/');
        let lib = rootfs.join(prefix).join(format!("lib/python{python}"));
        let Some(module) = s390x_sysconfig_module(&lib) else {
            continue;
        };
        let file = lib.join(format!("{module}.py"));
        let text = std::fs::read_to_string(&file).map_err(|source| {
            NativeFrontendError::ReadSysconfig {
                file: file.clone(),
                source,
            }
        })?;
        let version = sysconfig_version(&text)
            .ok_or_else(|| NativeFrontendError::NoVersion { file: file.clone() })?;
        let include = rootfs.join(prefix).join(format!("include/python{python}"));
        if !include.join("Python.h").is_file() {
            return Err(NativeFrontendError::NoHeaders {
                header: include.join("Python.h"),
            });
        }
        return Ok(TargetSysconfig {
            module,
            file,
            version,
            include,
        });
    }
    Err(NativeFrontendError::NoSysconfig {
        rootfs: rootfs.to_path_buf(),
        python: python.to_string(),
    })
}

/// The `_sysconfigdata_*s390x*` module of `dir` (a regular file: Debian's second name
/// for it is a symlink), the `__linux_` name CPython itself computes first.
fn s390x_sysconfig_module(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let module = name.strip_suffix(".py")?;
            (module.starts_with("_sysconfigdata_") && module.contains("s390x"))
                .then(|| module.to_string())
        })
        .collect();
    names.sort_by_key(|n| (!n.starts_with("_sysconfigdata__linux_"), n.clone()));
    names.into_iter().next()
}

/// `'VERSION': '3.11'` of a sysconfig module's text.
fn sysconfig_version(text: &str) -> Option<String> {
    let re = regex::Regex::new(r#"['"]VERSION['"]\s*:\s*['"](\d+\.\d+)['"]"#).ok()?;
    re.captures(text).map(|c| c[1].to_string())
}

/// Refuse a host Python whose version is not the target sysconfig's: both versions named.
pub fn check_versions(
    sysconfig: &TargetSysconfig,
    host: &HostPython,
) -> Result<(), NativeFrontendError> {
    if sysconfig.version == host.version {
        return Ok(());
    }
    Err(NativeFrontendError::VersionMismatch {
        sysconfig: sysconfig.file.clone(),
        target: sysconfig.version.clone(),
        executable: host.executable.clone(),
        host: host.version.clone(),
    })
}

/// Where a host CPython `X.Y` may be: `$REFINERY_HOST_PYTHON`, pyenv's versions
/// (`$PYENV_ROOT`, else `~/.pyenv`; newest patch release first), `python3.X` on `PATH`.
pub fn host_python_candidates(version: &str) -> Vec<PathBuf> {
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    candidates_in(
        version,
        std::env::var_os(HOST_PYTHON_ENV),
        pyenv_root,
        std::env::var_os("PATH"),
    )
}

/// [`host_python_candidates`] from the given override, pyenv root and `PATH`: the
/// files that exist.
fn candidates_in(
    version: &str,
    chosen: Option<std::ffi::OsString>,
    pyenv_root: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = chosen.map(PathBuf::from).into_iter().collect();
    if let Some(versions) = pyenv_root.map(|r| r.join("versions")) {
        let mut releases: Vec<(u32, PathBuf)> = std::fs::read_dir(&versions)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let patch: u32 = name.strip_prefix(&format!("{version}."))?.parse().ok()?;
                        Some((patch, e.path().join(format!("bin/python{version}"))))
                    })
                    .collect()
            })
            .unwrap_or_default();
        releases.sort_by_key(|r| std::cmp::Reverse(r.0));
        found.extend(releases.into_iter().map(|(_, p)| p));
    }
    if let Some(paths) = path {
        found.extend(std::env::split_paths(&paths).map(|dir| dir.join(format!("python{version}"))));
    }
    found.retain(|p| p.is_file());
    found
}

/// The first host CPython `X.Y` among [`host_python_candidates`] that runs and says so
/// (version managers' shims are looked through: the executable is the real one).
pub fn find_host_python(version: &str) -> Result<HostPython, NativeFrontendError> {
    first_matching(version, &host_python_candidates(version))
}

fn first_matching(
    version: &str,
    candidates: &[PathBuf],
) -> Result<HostPython, NativeFrontendError> {
    let mut tried = Vec::new();
    for candidate in candidates {
        match query_host_python(candidate) {
            Ok(host) if host.version == version => return Ok(host),
            Ok(host) => tried.push(format!(
                "{} is Python {}",
                candidate.display(),
                host.version
            )),
            Err(e) => tried.push(e.to_string()),
        }
    }
    Err(NativeFrontendError::NoHostPython {
        version: version.to_string(),
        tried,
    })
}

/// Ask `python` for its version, real executable and base prefix.
pub fn query_host_python(python: &Path) -> Result<HostPython, NativeFrontendError> {
    let script = "import sys, os; print('%d.%d' % sys.version_info[:2]); \
                  print(os.path.realpath(sys.executable)); print(sys.base_prefix); \
                  print(sys.implementation.name)";
    let output = std::process::Command::new(python)
        .args(["-I", "-c", script])
        .env_remove("PYTHONPATH")
        .env_remove("_PYTHON_SYSCONFIGDATA_NAME")
        .env_remove("_PYTHON_HOST_PLATFORM")
        .output()
        .map_err(|source| NativeFrontendError::RunPython {
            python: python.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(NativeFrontendError::PythonFailed {
            python: python.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let [version, executable, prefix, implementation] = lines[..] else {
        return Err(NativeFrontendError::PythonAnswer {
            python: python.to_path_buf(),
            answer: text.into_owned(),
        });
    };
    if implementation != "cpython" {
        return Err(NativeFrontendError::NotCPython {
            python: python.to_path_buf(),
            implementation: implementation.to_string(),
        });
    }
    Ok(HostPython {
        executable: PathBuf::from(executable),
        prefix: PathBuf::from(prefix),
        version: version.to_string(),
    })
}

/// Accept a natively built wheel only when it is what the emulated frontend makes: every
/// ELF member a big-endian s390x one, a platform wheel tagged `linux_s390x` for the
/// target's interpreter (or `abi3`/`none`), a pure wheel without ELF members.
pub fn check_wheel(wheel: &Path, target: &Target) -> Result<(), NativeFrontendError> {
    let file = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: WheelFilename = file
        .parse()
        .map_err(|source| NativeFrontendError::WheelName { source })?;
    let members = crate::wheel_inspect::elf_headers(wheel)?;
    if let Some(bad) = members
        .iter()
        .find(|m| m.machine != crate::wheel_inspect::EM_S390 || !m.big_endian)
    {
        return Err(NativeFrontendError::NotS390x {
            member: bad.name.clone(),
            machine: bad.machine,
            big_endian: bad.big_endian,
        });
    }
    let pure = name.platform_tags.iter().all(|p| p == "any");
    if pure {
        if !members.is_empty() {
            return Err(NativeFrontendError::PureWithElf { file });
        }
        return Ok(());
    }
    if let Some(p) = name.platform_tags.iter().find(|p| *p != "linux_s390x") {
        return Err(NativeFrontendError::WrongPlatform {
            file,
            platform: p.clone(),
        });
    }
    let cp = target.cpython_tag();
    let abi_free = name.abi_tags.iter().all(|a| a == "abi3" || a == "none");
    if !abi_free && !name.python_tags.contains(&cp) {
        return Err(NativeFrontendError::WrongPython {
            file,
            tags: name.python_tags.join("."),
            cpython: cp,
        });
    }
    Ok(())
}

/// Why the native frontend failed for `package` before, when it did (latest first);
/// `--build-frontend auto` then goes straight to the emulated one.
pub fn remembered_failure(history: &History, package: &str) -> Option<String> {
    history
        .events_for(&package.parse().ok()?, 500)
        .ok()?
        .into_iter()
        .find(|e| e.kind == EventKind::NativeFrontendFailed)
        .map(|e| e.detail)
}

/// What the attempt does about the frontend, decided per package before the attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendChoice {
    /// Run the hooks natively; `fallback`: on failure build emulated in the same attempt.
    Native {
        frontend: NativeFrontend,
        fallback: bool,
    },
    /// Emulated, and why (for the log): the mode, a remembered failure, no host Python.
    Emulated { why: String },
    /// `--build-frontend native` where it cannot run: the attempt fails with this.
    Refused { why: String },
}

/// Decide the frontend of a package: `prepared` is the environment's native frontend
/// (or why there is none), `remembered` a past native failure of the package, and
/// `native_capable` whether the runner can run host binaries in its sandbox (the
/// accelerator with the host's uv).
pub fn choose(
    mode: FrontendMode,
    prepared: Option<&Result<NativeFrontend, NativeFrontendError>>,
    native_capable: bool,
    remembered: Option<String>,
) -> FrontendChoice {
    let emulated = |why: String| FrontendChoice::Emulated { why };
    match mode {
        FrontendMode::Emulated => return emulated("--build-frontend emulated".into()),
        FrontendMode::Auto => {
            if let Some(reason) = remembered {
                return emulated(format!(
                    "the native frontend failed for this package before ({reason})"
                ));
            }
        }
        FrontendMode::Native => {}
    }
    let unavailable = |why: String| match mode {
        FrontendMode::Native => FrontendChoice::Refused {
            why: format!("--build-frontend native: {why}"),
        },
        _ => emulated(why),
    };
    if !native_capable {
        return unavailable(
            "the native frontend needs the host's cross compilers and uv in the sandbox (accelerated builds)"
                .into(),
        );
    }
    match prepared {
        Some(Ok(frontend)) => FrontendChoice::Native {
            frontend: frontend.clone(),
            fallback: mode == FrontendMode::Auto,
        },
        Some(Err(why)) => unavailable(why.to_string()),
        None => unavailable("the environment has no rootfs for the native frontend".into()),
    }
}

/// Whether `sdist` builds with meson-python (`build-backend = "mesonpy"` in its top
/// `pyproject.toml`, PEP 517): its native build needs the meson cross file of
/// [`meson::cross_file`]. Unreadable sdists give `false` (the build reports them).
pub fn is_meson_python(sdist: &Path) -> bool {
    let top_pyproject = |member: &str| {
        let parts = refinery_plan::sdist_files::member_parts(member);
        parts.len() == 2 && parts[1] == "pyproject.toml"
    };
    refinery_plan::sdist_files::read_text_members(sdist, &top_pyproject).is_ok_and(|files| {
        files
            .iter()
            .any(|(_, text)| backend_of(text).as_deref() == Some("mesonpy"))
    })
}

/// `[build-system] build-backend` of a `pyproject.toml` text (PEP 517), if it has one.
fn backend_of(pyproject: &str) -> Option<String> {
    let value: toml::Value = toml::from_str(pyproject).ok()?;
    value
        .get("build-system")?
        .get("build-backend")?
        .as_str()
        .map(str::to_string)
}

pub mod host_tree;
pub mod meson;
pub mod target_numpy;

#[cfg(test)]
mod tests;
