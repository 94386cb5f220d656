//! Cross-accelerated builds: the host's native s390x cross toolchain
//! (`gcc-s390x-linux-gnu`, `g++-s390x-linux-gnu`, binutils, `gfortran-s390x-linux-gnu`)
//! is bound into the s390x rootfs under the names the environment's Python and build
//! systems call, so compiling runs at native speed while Python and the package's build
//! hooks still run as s390x under emulation.
//!
//! What the cross binaries need inside the sandbox (found by experiment on Debian 12):
//! the host's dynamic loader (`/lib64`), the host's libraries (`/usr/lib/x86_64-linux-gnu`:
//! libisl, libmpc, libbfd-…-s390x…), the compilers' own folders (`/usr/lib/gcc-cross`
//! with `cc1`/`cc1plus`, and `/usr/s390x-linux-gnu` with `as`, `ld`, the s390x C library
//! and the libstdc++ headers), and each `/usr/bin/s390x-linux-gnu-*` tool bound over the
//! rootfs file of the same name. The rootfs's generic names (`gcc`, `cc`, `c++`, `g++`,
//! `ld`, `ar`, …) are symlinks to those files, so they resolve to the cross tools too;
//! tools the rootfs lacks (e.g. `gfortran`) appear in a tmpfs folder first on `PATH`.
//! Leaving out any one of the four folders breaks C or C++ builds.

mod binds;
mod frontend;
mod toolchain;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::emulation::Execution;

use toolchain::fmt_major;

pub use binds::{Accelerator, ContainerBinds, SandboxBinds};
pub use frontend::{find_host_uv, uv_build, FrontendCommand};
pub(crate) use frontend::{uv_index_setting, PIP_INDEX_STRATEGY};
pub use toolchain::{resolve_in, rootfs_gcc_major, CrossToolchain};

/// The GNU triplet of the target.
pub const TRIPLET: &str = "s390x-linux-gnu";
/// Where the host's uv appears inside accelerated sandboxes.
pub const GUEST_UV: &str = "/opt/refinery-cross/bin/uv";
/// Where tools the rootfs does not have appear inside the sandbox (a tmpfs).
pub const GUEST_SHIM_DIR: &str = "/opt/refinery-cross";
/// The variant that turns acceleration off for one attempt.
pub const EMULATED_VARIANT: &str = "emulated";
/// The variant that compiles with the host's gcc cross instead of the glibc-targeted
/// compiler (see [`crate::zig`]).
pub const GCC_CROSS_VARIANT: &str = "gcc-cross";
/// Set (to anything but `0`) to leave the compilers' support folders out of accelerated
/// sandboxes, so that every accelerated compile fails the way a broken cross toolchain
/// does. For tests of the fallback to the `emulated` variant.
pub const TEST_BREAK_VAR: &str = "REFINERY_TEST_BREAK_CROSS";

/// `--accelerate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccelerateMode {
    /// On where the host has a cross toolchain of the environment's GCC major.
    #[default]
    Auto,
    /// Always use the host's cross toolchain; fail when there is none.
    Cross,
    /// Everything emulated.
    Off,
}

impl std::str::FromStr for AccelerateMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AccelerateMode::Auto),
            "cross" => Ok(AccelerateMode::Cross),
            "off" => Ok(AccelerateMode::Off),
            other => Err(format!("accelerate {other:?}: use auto, cross or off")),
        }
    }
}

impl std::fmt::Display for AccelerateMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AccelerateMode::Auto => "auto",
            AccelerateMode::Cross => "cross",
            AccelerateMode::Off => "off",
        })
    }
}

/// A language the cross toolchain may compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    C,
    Cxx,
    Fortran,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::C, Language::Cxx, Language::Fortran];

    /// The compiler driver's name after the triplet.
    pub fn driver(self) -> &'static str {
        match self {
            Language::C => "gcc",
            Language::Cxx => "g++",
            Language::Fortran => "gfortran",
        }
    }

    /// The compiler proper, which the driver runs.
    fn backend(self) -> &'static str {
        match self {
            Language::C => "cc1",
            Language::Cxx => "cc1plus",
            Language::Fortran => "f951",
        }
    }

    /// The Debian package that brings it (for the default GCC, or major `major`).
    pub fn package(self, major: Option<u32>) -> String {
        match major {
            Some(m) => format!("{}-{m}-{TRIPLET}", self.driver()),
            None => format!("{}-{TRIPLET}", self.driver()),
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Language::C => "C",
            Language::Cxx => "C++",
            Language::Fortran => "Fortran",
        })
    }
}

/// Why the host's cross compilers cannot accelerate builds; each names the missing file
/// and says what to install.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccelerateError {
    #[error("the host is s390x: compilers run natively already")]
    NativeHost,
    #[error(
        "no s390x cross compiler on this host ({} is missing).\nhint: {install}",
        gcc.display()
    )]
    NoCompiler { gcc: PathBuf, install: String },
    #[error(
        "the s390x cross compiler has no s390x C library ({} is missing).\nhint: apt-get install libc6-dev-{arch}-cross",
        libc.display()
    )]
    NoLibc { libc: PathBuf, arch: String },
    #[error(
        "the s390x cross compiler is incomplete: no cc1 under {}/usr/lib/gcc-cross/{TRIPLET}.\nhint: apt-get install --reinstall {package}",
        root.display()
    )]
    Incomplete { root: PathBuf, package: String },
    /// `--accelerate cross` was asked for and cannot be had.
    #[error("--accelerate cross: {source}")]
    Refused {
        #[source]
        source: Box<AccelerateError>,
    },
}

/// A pip setting that `uv build` cannot take: pip builds instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UvBuildError {
    #[error("{key} lists several {what}")]
    Several { key: String, what: String },
    #[error("{key}={value:?} is not a boolean")]
    NotABoolean { key: String, value: String },
    #[error("{key} has no uv equivalent here")]
    NoEquivalent { key: String },
    /// pip refuses a config setting without `=` too ("must be of the form KEY=VAL").
    #[error("{key} holds {item:?}, not KEY=VALUE")]
    NotKeyValue { key: String, item: String },
}

/// What `--accelerate` decided, and why.
#[derive(Debug, Clone)]
pub struct Decision {
    pub accelerator: Option<Accelerator>,
    /// Why, for the user.
    pub note: String,
}

/// Choose the accelerator for `rootfs` on this host (`host_root` is `/` but in tests).
///
/// # Errors
/// As [`decide_for`].
pub fn decide(
    mode: AccelerateMode,
    host_root: &Path,
    rootfs: &Path,
    execution: Execution,
) -> Result<Decision, AccelerateError> {
    decide_for(mode, host_root, rootfs_gcc_major(rootfs), execution)
}

/// [`decide`] for an environment whose C and C++ compile with the glibc-targeted Zig
/// toolchain (`zig`: the target's glibc is older than the environment's). There the
/// environment's GCC does not compile the wheel, so under `--accelerate auto` a host
/// cross compiler of another GCC major no longer turns acceleration (and with it the
/// native build frontend) off: it serves only the `gcc-cross` variant and Fortran, and
/// the note says so. In every other case the same decision as [`decide`].
///
/// # Errors
/// As [`decide_for`].
pub fn decide_with_zig(
    mode: AccelerateMode,
    host_root: &Path,
    rootfs: &Path,
    execution: Execution,
    zig: bool,
) -> Result<Decision, AccelerateError> {
    let rootfs_major = rootfs_gcc_major(rootfs);
    let decision = decide_for(mode, host_root, rootfs_major, execution)?;
    if decision.accelerator.is_some() || !zig || mode != AccelerateMode::Auto {
        return Ok(decision);
    }
    match decide_for(AccelerateMode::Cross, host_root, rootfs_major, execution) {
        Ok(Decision {
            accelerator: Some(accelerator),
            ..
        }) => {
            let note = format!(
                "{}
the environment's compiler is {}, not GCC {}: C and C++ compile with Zig for the target's glibc, so the host's cross compiler serves only the gcc-cross variant and Fortran (C++ wheels of that variant may need a newer libstdc++ than the environment has; verification will tell)",
                accelerator.summary(),
                rootfs_major.map_or("missing".to_string(), |m| format!("GCC {m}")),
                accelerator.major
            );
            Ok(Decision {
                accelerator: Some(accelerator),
                note,
            })
        }
        _ => Ok(decision),
    }
}

/// Choose the accelerator for an environment whose own compiler is GCC `rootfs_major`.
///
/// # Errors
/// [`AccelerateError::Refused`] when `--accelerate cross` finds no usable cross compiler.
pub fn decide_for(
    mode: AccelerateMode,
    host_root: &Path,
    rootfs_major: Option<u32>,
    execution: Execution,
) -> Result<Decision, AccelerateError> {
    let off = |note: String| {
        Ok(Decision {
            accelerator: None,
            note,
        })
    };
    if mode == AccelerateMode::Off {
        return off("acceleration off (--accelerate off): compilers run emulated".into());
    }
    if execution == Execution::Native {
        return off("the host is s390x: compilers run natively, nothing to accelerate".into());
    }
    let toolchain = match CrossToolchain::detect(host_root) {
        Ok(tc) => tc,
        Err(e) if mode == AccelerateMode::Auto => {
            return off(format!("acceleration off, compilers run emulated: {e}"))
        }
        Err(e) => {
            return Err(AccelerateError::Refused {
                source: Box::new(e),
            })
        }
    };
    let matching = rootfs_major.filter(|m| toolchain.languages(*m).contains(&Language::C));
    let major = match (matching, mode) {
        (Some(m), _) => m,
        (None, AccelerateMode::Auto) => {
            let install = match rootfs_major {
                Some(m) => format!(
                    "apt-get install {} {}",
                    Language::C.package(Some(m)),
                    Language::Cxx.package(Some(m))
                ),
                None => "add gcc to the environment".into(),
            };
            return off(format!(
                "acceleration off, compilers run emulated: the host's s390x cross compiler is GCC {}, the environment's is {}; mixing them risks libstdc++ and flag mismatches.\nhint: {install}, or --accelerate cross to use it anyway",
                fmt_major(toolchain.default_major),
                rootfs_major.map_or("missing".to_string(), |m| format!("GCC {m}"))
            ));
        }
        (None, _) => toolchain.default_major.unwrap_or(0),
    };
    let accelerator = Accelerator {
        major,
        rootfs_major,
        break_compilers: std::env::var(TEST_BREAK_VAR).is_ok_and(|v| !v.is_empty() && v != "0"),
        toolchain,
        uv: find_host_uv(),
    };
    let mut note = accelerator.summary();
    if accelerator.rootfs_major != Some(major) {
        note.push_str(&format!(
            "\nwarning: the environment's compiler is {}, not GCC {major}: C++ wheels may need a newer libstdc++ than the environment has (verification will tell)",
            accelerator.rootfs_major.map_or("missing".to_string(), |m| format!("GCC {m}"))
        ));
    }
    Ok(Decision {
        accelerator: Some(accelerator),
        note,
    })
}

/// What `refinery env doctor` says about acceleration.
pub fn doctor_lines(host_root: &Path, rootfs: Option<&Path>) -> Vec<String> {
    let mut lines =
        vec!["cross compilers (native speed inside the s390x environment):".to_string()];
    let toolchain = CrossToolchain::detect(host_root);
    let rootfs_major = rootfs.and_then(rootfs_gcc_major);
    match &toolchain {
        Ok(tc) => {
            let major = rootfs_major
                .filter(|m| tc.languages(*m).contains(&Language::C))
                .or(tc.default_major);
            for language in Language::ALL {
                let majors: Vec<String> = tc
                    .compilers
                    .iter()
                    .filter(|(l, _)| *l == language)
                    .map(|(_, m)| format!("GCC {m}"))
                    .collect();
                if majors.is_empty() {
                    lines.push(format!(
                        "  {:<8} missing: apt-get install {}",
                        language.to_string(),
                        language.package(major.filter(|m| Some(*m) != tc.default_major))
                    ));
                } else {
                    lines.push(format!(
                        "  {:<8} {TRIPLET}-{} ({})",
                        language.to_string(),
                        language.driver(),
                        majors.join(", ")
                    ));
                }
            }
        }
        Err(e) => lines.push(format!("  none: {}", e.to_string().replace('\n', "\n  "))),
    }
    match rootfs {
        Some(path) => lines.push(format!(
            "environment {}: {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            rootfs_major.map_or("no gcc".to_string(), |m| format!("GCC {m}"))
        )),
        None => lines.push(
            "environment: not created yet (`refinery env create`); its GCC decides whether --accelerate auto turns on".into(),
        ),
    }
    if let Some(path) = rootfs {
        let decision = decide(AccelerateMode::Auto, host_root, path, Execution::Emulated);
        lines.push(match decision {
            Ok(d) if d.accelerator.is_some() => {
                format!("--accelerate auto: on ({})", d.note.replace('\n', " "))
            }
            Ok(d) => format!("--accelerate auto: off ({})", d.note.replace('\n', " ")),
            Err(e) => format!("--accelerate auto: off ({e})"),
        });
    }
    lines
}

/// Does a failed accelerated attempt look like the cross toolchain's fault (so that an
/// emulated attempt may succeed)?
pub fn looks_toolchain_related(text: &str) -> bool {
    const SIGNS: &[&str] = &[
        "cannot execute 'cc1",
        "cannot execute 'f951'",
        "cannot execute 'collect2'",
        "cannot execute 'as'",
        "cannot execute 'ld'",
        "error while loading shared libraries",
        "exec format error",
        "internal compiler error",
        "cannot find crt1.o",
        "cannot find scrt1.o",
        "cannot find crti.o",
        "cannot find -lgcc",
        "cannot find -lstdc++",
        "cannot find -lgfortran",
        "unrecognized command-line option",
        "unrecognized command line option",
        "version `glibcxx_",
        "version `cxxabi_",
        "version `gfortran_",
        "is not an s390x binary",
        "file in wrong format",
        "relocations in generic elf",
        // An image's compiler flags that name its own GCC's plugins or spec files.
        "cannot load plugin",
        // uv (the native frontend) could not set up the build environment: pip, emulated,
        // is the reference (and its messages drive the dependency expansion).
        "no solution found when resolving",
        "failed to resolve requirements from `build-system.requires`",
        "failed to install requirements from `build-system.requires`",
    ];
    let lower = text.to_lowercase();
    SIGNS.iter().any(|s| lower.contains(s))
}
