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

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::emulation::Execution;

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

/// Tools taken from the host, by the name after `s390x-linux-gnu-` (optionally `-N`).
const TOOL_STEMS: &[&str] = &[
    "gcc",
    "g++",
    "c++",
    "cpp",
    "gfortran",
    "gcc-ar",
    "gcc-nm",
    "gcc-ranlib",
    "gcov",
    "gcov-dump",
    "gcov-tool",
    "lto-dump",
    "as",
    "ld",
    "ld.bfd",
    "ld.gold",
    "gold",
    "ar",
    "nm",
    "ranlib",
    "strip",
    "objcopy",
    "objdump",
    "readelf",
    "size",
    "strings",
    "addr2line",
    "c++filt",
    "elfedit",
    "dwp",
    "gprof",
];

/// Generic names build systems call, and the cross tool each stands for.
const GENERIC_NAMES: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("cc", "gcc"),
    ("g++", "g++"),
    ("c++", "g++"),
    ("cpp", "cpp"),
    ("gfortran", "gfortran"),
    ("f95", "gfortran"),
    ("as", "as"),
    ("ld", "ld"),
    ("ar", "ar"),
    ("nm", "nm"),
    ("ranlib", "ranlib"),
    ("strip", "strip"),
    ("objcopy", "objcopy"),
    ("objdump", "objdump"),
    ("readelf", "readelf"),
];

/// The host's s390x cross toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossToolchain {
    /// The filesystem root it was found under (`/` except in tests).
    pub root: PathBuf,
    /// File names in `/usr/bin` starting with `s390x-linux-gnu-`.
    pub tools: Vec<String>,
    /// The GCC major that `s390x-linux-gnu-gcc` runs.
    pub default_major: Option<u32>,
    /// Every working compiler: language and GCC major.
    pub compilers: Vec<(Language, u32)>,
    /// Folders the compilers need, as absolute paths (same inside the sandbox).
    pub support_dirs: Vec<String>,
    /// The host's library folder(s) the cross binaries link against.
    pub host_lib_dirs: Vec<String>,
    /// The host's dynamic loader, e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub loader: String,
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
}

impl CrossToolchain {
    /// Look for the cross toolchain under `root` (`/`), saying what to install when it
    /// is missing or incomplete.
    pub fn detect(root: &Path) -> Result<CrossToolchain, AccelerateError> {
        if std::env::consts::ARCH == "s390x" {
            return Err(AccelerateError::NativeHost);
        }
        let bin = root.join("usr/bin");
        let prefix = format!("{TRIPLET}-");
        let mut tools: Vec<String> = std::fs::read_dir(&bin)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.strip_prefix(&prefix).is_some_and(is_tool_stem))
                    .filter(|n| bin.join(n).exists())
                    .collect()
            })
            .unwrap_or_default();
        tools.sort();
        let install = format!(
            "apt-get install {} {}",
            Language::C.package(None),
            Language::Cxx.package(None)
        );
        if !tools
            .iter()
            .any(|t| split_version(t).0 == format!("{TRIPLET}-gcc"))
        {
            return Err(AccelerateError::NoCompiler {
                gcc: bin.join(format!("{TRIPLET}-gcc")),
                install,
            });
        }
        let support_dirs: Vec<String> = [
            "usr/lib/gcc-cross",
            "usr/libexec/gcc-cross",
            "usr/s390x-linux-gnu",
        ]
        .iter()
        .filter(|d| root.join(d).is_dir())
        .map(|d| format!("/{d}"))
        .collect();
        let libc = root.join("usr").join(TRIPLET).join("lib");
        if !libc.join("libc.so.6").exists() && !libc.join("libc.so").exists() {
            return Err(AccelerateError::NoLibc {
                libc: libc.join("libc.so.6"),
                arch: TRIPLET.split('-').next().unwrap_or(TRIPLET).to_string(),
            });
        }
        let default_major = resolve_in(root, &format!("/usr/bin/{TRIPLET}-gcc"))
            .and_then(|p| split_version(file_part(&p)).1)
            .or_else(|| backend_majors(root, Language::C).into_iter().max());
        let mut compilers = Vec::new();
        for language in Language::ALL {
            let driver = format!("{TRIPLET}-{}", language.driver());
            for major in backend_majors(root, language) {
                let versioned = tools.contains(&format!("{driver}-{major}"));
                let unversioned = tools.contains(&driver) && default_major == Some(major);
                if versioned || unversioned {
                    compilers.push((language, major));
                }
            }
        }
        if !compilers.iter().any(|(l, _)| *l == Language::C) {
            return Err(AccelerateError::Incomplete {
                root: root.to_path_buf(),
                package: Language::C.package(None),
            });
        }
        let gcc = resolve_in(root, &format!("/usr/bin/{TRIPLET}-gcc")).unwrap_or_default();
        let loader = elf_interpreter(&root.join(gcc.trim_start_matches('/')))
            .unwrap_or_else(|| default_loader().to_string());
        let host_lib_dirs = [format!("usr/lib/{}", host_multiarch())]
            .into_iter()
            .filter(|d| root.join(d).is_dir())
            .map(|d| format!("/{d}"))
            .collect();
        Ok(CrossToolchain {
            root: root.to_path_buf(),
            tools,
            default_major,
            compilers,
            support_dirs,
            host_lib_dirs,
            loader,
        })
    }

    /// Languages with a compiler of GCC `major`.
    pub fn languages(&self, major: u32) -> Vec<Language> {
        let mut found: Vec<Language> = self
            .compilers
            .iter()
            .filter(|(_, m)| *m == major)
            .map(|(l, _)| *l)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    fn host_path(&self, guest: &str) -> PathBuf {
        self.root.join(guest.trim_start_matches('/'))
    }
}

/// Runs the host's cross compilers inside an s390x rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    pub toolchain: CrossToolchain,
    /// The GCC major whose cross tools are bound in.
    pub major: u32,
    /// The GCC major of the environment's own compiler.
    pub rootfs_major: Option<u32>,
    /// See [`TEST_BREAK_VAR`].
    pub break_compilers: bool,
    /// The host's uv binary: when set, accelerated builds use it as the build frontend
    /// (build environment and build dependencies natively; only the PEP 517 hooks run
    /// in the emulated Python).
    pub uv: Option<PathBuf>,
}

/// What a bubblewrap sandbox needs for acceleration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxBinds {
    /// bubblewrap arguments, in order.
    pub args: Vec<String>,
    /// Guest paths that must exist in the read-only rootfs first (`true`: a file).
    pub mount_points: Vec<(String, bool)>,
    /// A folder to put first on `PATH`.
    pub path_prefix: Option<String>,
}

/// What a container needs for acceleration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerBinds {
    /// Read-only volumes: host path, container path.
    pub volumes: Vec<(PathBuf, String)>,
    /// Variables to set in the container (`PATH` with the tools first).
    pub env: Vec<(String, String)>,
}

impl Accelerator {
    /// The compilers' folders; without them (see [`TEST_BREAK_VAR`]) the drivers run but
    /// find no `cc1` or `as`.
    fn support_dirs(&self) -> impl Iterator<Item = &String> {
        self.toolchain
            .support_dirs
            .iter()
            .filter(|d| !(self.break_compilers && d.contains("gcc-cross")))
    }

    /// Each cross tool name of the chosen GCC major with the host file it runs: an
    /// unversioned name takes the versioned tool of that major when there is one.
    fn tools(&self) -> Vec<(String, PathBuf)> {
        let tc = &self.toolchain;
        tc.tools
            .iter()
            .filter_map(|tool| {
                let (stem, version) = split_version(tool);
                if version.is_some_and(|v| v != self.major) {
                    return None;
                }
                let versioned = format!("{stem}-{}", self.major);
                let source = if version.is_none() && tc.tools.contains(&versioned) {
                    &versioned
                } else {
                    tool
                };
                Some((tool.clone(), tc.host_path(&format!("/usr/bin/{source}"))))
            })
            .collect()
    }

    /// The bubblewrap arguments that make the cross tools run inside `rootfs`.
    pub fn sandbox(&self, rootfs: &Path) -> SandboxBinds {
        let tc = &self.toolchain;
        let mut binds = SandboxBinds::default();
        let bind = |binds: &mut SandboxBinds, host: PathBuf, guest: String, is_file: bool| {
            binds.mount_points.push((guest.clone(), is_file));
            binds.args.extend([
                "--ro-bind".to_string(),
                host.to_string_lossy().into_owned(),
                guest,
            ]);
        };
        // 1. The host's dynamic loader and libraries: a folder the rootfs lacks (/lib64)
        //    is bound whole, otherwise just the loader file.
        let loader_dir = parent_of(&tc.loader);
        if resolve_in(rootfs, &loader_dir).is_none() {
            bind(&mut binds, tc.host_path(&loader_dir), loader_dir, false);
        } else {
            let guest = guest_target(rootfs, &tc.loader);
            bind(&mut binds, tc.host_path(&tc.loader), guest, true);
        }
        for dir in tc.host_lib_dirs.iter().chain(self.support_dirs()) {
            bind(
                &mut binds,
                tc.host_path(dir),
                guest_target(rootfs, dir),
                false,
            );
        }
        // 2. Each cross tool over the rootfs file of the same name (its generic names are
        //    symlinks to those); the ones the rootfs lacks go into the shim folder.
        let mut seen: Vec<String> = Vec::new();
        let mut shim: Vec<(PathBuf, String)> = Vec::new();
        for (tool, host) in self.tools() {
            match resolve_in(rootfs, &format!("/usr/bin/{tool}")) {
                Some(real) if !seen.contains(&real) => {
                    seen.push(real.clone());
                    bind(&mut binds, host, real, true);
                }
                Some(_) => {}
                None => shim.push((host, tool)),
            }
        }
        let mut links: Vec<(String, String)> = Vec::new();
        for (generic, stem) in GENERIC_NAMES {
            let prefixed = format!("{TRIPLET}-{stem}");
            let available = tc.tools.contains(&prefixed)
                || tc.tools.contains(&format!("{prefixed}-{}", self.major));
            if !available || resolve_in(rootfs, &format!("/usr/bin/{generic}")).is_some() {
                continue;
            }
            let target = if shim.iter().any(|(_, n)| *n == prefixed) {
                prefixed
            } else if resolve_in(rootfs, &format!("/usr/bin/{prefixed}")).is_some() {
                format!("/usr/bin/{prefixed}")
            } else {
                continue;
            };
            links.push((target, generic.to_string()));
        }
        if let Some(uv) = &self.uv {
            shim.push((uv.clone(), "uv".to_string()));
        }
        if !shim.is_empty() || !links.is_empty() {
            let bin = format!("{GUEST_SHIM_DIR}/bin");
            binds.mount_points.push((GUEST_SHIM_DIR.to_string(), false));
            binds.args.extend([
                "--tmpfs".to_string(),
                GUEST_SHIM_DIR.to_string(),
                "--dir".to_string(),
                bin.clone(),
            ]);
            for (host, name) in shim {
                binds.args.extend([
                    "--ro-bind".to_string(),
                    host.to_string_lossy().into_owned(),
                    format!("{bin}/{name}"),
                ]);
            }
            // A GCC driver looks for its programs (f951, cc1) relative to its own folder
            // first, and a cross driver only there: from the shim's bin that is
            // <shim>/lib/gcc-cross (without it gfortran says "cannot execute 'f951'").
            for dir in self.support_dirs().filter(|d| {
                d.starts_with("/usr/lib/gcc-cross") || d.starts_with("/usr/libexec/gcc-cross")
            }) {
                binds.args.extend([
                    "--ro-bind".to_string(),
                    tc.host_path(dir).to_string_lossy().into_owned(),
                    format!("{GUEST_SHIM_DIR}{}", dir.trim_start_matches("/usr")),
                ]);
            }
            for (target, name) in links {
                binds
                    .args
                    .extend(["--symlink".to_string(), target, format!("{bin}/{name}")]);
            }
            binds.path_prefix = Some(bin);
        }
        binds
    }

    /// The read-only volumes and environment that make the cross tools run inside a
    /// container image, which cannot be inspected from outside as a rootfs can. The
    /// tools live in one relocated tree under [`GUEST_SHIM_DIR`] (GCC finds `cc1`, `as`
    /// and the s390x C library relative to its own `bin` folder) with the generic names
    /// as further binds of the drivers, first on `PATH`; only the host's loader and
    /// libraries keep their paths, which s390x images do not use.
    pub fn container_binds(&self) -> ContainerBinds {
        let tc = &self.toolchain;
        let bin = format!("{GUEST_SHIM_DIR}/bin");
        let mut volumes = vec![(tc.host_path(&tc.loader), tc.loader.clone())];
        volumes.extend(
            tc.host_lib_dirs
                .iter()
                .map(|dir| (tc.host_path(dir), dir.clone())),
        );
        for dir in self.support_dirs() {
            let relocated = dir.strip_prefix("/usr").unwrap_or(dir);
            volumes.push((tc.host_path(dir), format!("{GUEST_SHIM_DIR}{relocated}")));
        }
        let host_tool = |name: &str| tc.host_path(&format!("/usr/bin/{name}"));
        for (tool, host) in self.tools() {
            volumes.push((host, format!("{bin}/{tool}")));
        }
        for (generic, stem) in GENERIC_NAMES {
            let prefixed = format!("{TRIPLET}-{stem}");
            let versioned = format!("{prefixed}-{}", self.major);
            let source = [versioned, prefixed]
                .into_iter()
                .find(|t| tc.tools.contains(t));
            if let Some(source) = source {
                volumes.push((host_tool(&source), format!("{bin}/{generic}")));
            }
        }
        if let Some(uv) = &self.uv {
            volumes.push((uv.clone(), GUEST_UV.to_string()));
        }
        let env = vec![
            (
                "PATH".to_string(),
                format!("{bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ),
            // Debian's cross linker searches the multiarch folders; RPM images keep their
            // s390x libraries in lib64.
            ("LIBRARY_PATH".to_string(), "/usr/lib64:/lib64".to_string()),
        ];
        ContainerBinds { volumes, env }
    }

    /// Extra library folders for auditwheel: the cross toolchain's s390x runtime
    /// libraries (libgfortran, libgomp...) that the rootfs may lack.
    pub fn library_paths(&self) -> Vec<PathBuf> {
        let lib = self.toolchain.host_path(&format!("/usr/{TRIPLET}/lib"));
        if lib.is_dir() {
            vec![lib]
        } else {
            Vec::new()
        }
    }

    /// One line for the run's output.
    pub fn summary(&self) -> String {
        let languages: Vec<String> = self
            .toolchain
            .languages(self.major)
            .iter()
            .map(ToString::to_string)
            .collect();
        let frontend = match &self.uv {
            Some(uv) => format!(
                "; the host's uv ({}) prepares build environments natively",
                uv.display()
            ),
            None => "; pip prepares build environments (emulated: put uv on PATH or set UV for native ones)".to_string(),
        };
        format!(
            "accelerated builds: the host's s390x cross compilers (GCC {}, {}) run natively, Python stays emulated{frontend}",
            self.major,
            languages.join(", ")
        )
    }
}

/// The host's uv binary (`$UV`, else `uv` on `PATH`) when it is a real executable; a
/// version manager's shim script (pyenv, asdf) is looked through with the `uv` Python
/// package. A shim cannot run inside the sandbox.
pub fn find_host_uv() -> Option<PathBuf> {
    let named = std::env::var_os("UV").map_or_else(|| PathBuf::from("uv"), PathBuf::from);
    let found = if named.components().count() > 1 {
        Some(named)
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(&named))
                .find(|p| p.is_file())
        })
    }?;
    if is_elf(&found) {
        return std::fs::canonicalize(&found).ok();
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import uv; print(uv.find_uv_bin())"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && is_elf(&path)).then_some(path)
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

/// A build frontend's command line and the variables it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl FrontendCommand {
    /// Pass `setting` (`KEY=VALUE`) to the PEP 517 backend (`uv build -C`), before the
    /// sdist path that ends the command line.
    pub fn config_setting(&mut self, setting: &str) {
        let at = self.argv.len().saturating_sub(1);
        self.argv.splice(
            at..at,
            ["--config-setting".to_string(), setting.to_string()],
        );
    }
}

/// The `uv build` command line and environment that do what `pip wheel` with `env` does,
/// or why they cannot (a pip setting without a uv equivalent: then pip builds).
///
/// # Errors
/// [`UvBuildError`] naming the pip setting uv cannot take.
pub fn uv_build(
    uv: &str,
    python: &str,
    out_dir: &str,
    sdist: &str,
    no_isolation: bool,
    env: &[(String, String)],
) -> Result<FrontendCommand, UvBuildError> {
    // The last value of each variable wins, as with `--setenv`.
    let mut settings: Vec<(&str, &str)> = Vec::new();
    for (key, value) in env {
        settings.retain(|(k, _)| k != key);
        settings.push((key, value));
    }
    let mut uv_env: Vec<(String, String)> = [
        ("UV_NO_PROGRESS", "1"),
        ("UV_PYTHON_DOWNLOADS", "never"),
        ("UV_NO_CONFIG", "1"),
        ("UV_LINK_MODE", "copy"),
        // pip looks for the best match across all indexes.
        ("UV_INDEX_STRATEGY", "unsafe-best-match"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut no_isolation = no_isolation;
    for (key, value) in settings {
        let single = |what: &str| {
            if value.split_whitespace().count() > 1 {
                Err(UvBuildError::Several {
                    key: key.to_string(),
                    what: what.to_string(),
                })
            } else {
                Ok(value.to_string())
            }
        };
        let (uv_key, uv_value) = match key {
            "PIP_INDEX_URL" => ("UV_INDEX_URL", value.to_string()),
            "PIP_EXTRA_INDEX_URL" => ("UV_EXTRA_INDEX_URL", value.to_string()),
            "PIP_FIND_LINKS" => ("UV_FIND_LINKS", single("locations")?),
            "PIP_TRUSTED_HOST" => ("UV_INSECURE_HOST", single("hosts")?),
            "PIP_CACHE_DIR" => (
                "UV_CACHE_DIR",
                format!("{}/uv", value.trim_end_matches('/')),
            ),
            "PIP_ONLY_BINARY" if value == ":all:" => ("UV_NO_BUILD", "1".to_string()),
            // pip reads PIP_NO_BUILD_ISOLATION=0 (or false, no, off) as --no-build-isolation.
            "PIP_NO_BUILD_ISOLATION" => {
                match value.to_ascii_lowercase().as_str() {
                    "0" | "false" | "no" | "off" => no_isolation = true,
                    "1" | "true" | "yes" | "on" => {}
                    _ => {
                        return Err(UvBuildError::NotABoolean {
                            key: key.to_string(),
                            value: value.to_string(),
                        })
                    }
                }
                continue;
            }
            "PIP_CERT" | "PIP_DISABLE_PIP_VERSION_CHECK" | "PIP_NO_INPUT" | "PIP_PROGRESS_BAR" => {
                continue
            }
            other if other.starts_with("PIP_") => {
                return Err(UvBuildError::NoEquivalent {
                    key: other.to_string(),
                })
            }
            _ => continue,
        };
        uv_env.push((uv_key.to_string(), uv_value));
    }
    let mut argv: Vec<String> = [
        uv,
        "build",
        "--wheel",
        "--python",
        python,
        "--out-dir",
        out_dir,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    if no_isolation {
        argv.push("--no-build-isolation".to_string());
    }
    argv.push(sdist.to_string());
    Ok(FrontendCommand { argv, env: uv_env })
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

/// The GCC major of the environment's compiler: what `/usr/bin/gcc` runs, or the newest
/// folder under `/usr/lib/gcc/s390x-linux-gnu`.
pub fn rootfs_gcc_major(rootfs: &Path) -> Option<u32> {
    resolve_in(rootfs, "/usr/bin/gcc")
        .and_then(|p| split_version(file_part(&p)).1)
        .or_else(|| {
            numeric_dirs(&rootfs.join("usr/lib/gcc").join(TRIPLET))
                .into_iter()
                .max()
        })
}

/// GCC majors for which `language`'s compiler proper exists in the cross folders.
fn backend_majors(root: &Path, language: Language) -> Vec<u32> {
    let mut majors: Vec<u32> = ["usr/lib/gcc-cross", "usr/libexec/gcc-cross"]
        .iter()
        .flat_map(|d| {
            let dir = root.join(d).join(TRIPLET);
            numeric_dirs(&dir)
                .into_iter()
                .filter(move |m| dir.join(m.to_string()).join(language.backend()).is_file())
        })
        .collect();
    majors.sort_unstable();
    majors.dedup();
    majors
}

fn numeric_dirs(dir: &Path) -> Vec<u32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_tool_stem(rest: &str) -> bool {
    let (stem, _) = split_version(rest);
    TOOL_STEMS.contains(&stem)
}

/// `s390x-linux-gnu-gcc-12` → (`s390x-linux-gnu-gcc`, Some(12)).
fn split_version(name: &str) -> (&str, Option<u32>) {
    match name.rsplit_once('-') {
        Some((stem, v)) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => {
            (stem, v.parse().ok())
        }
        _ => (name, None),
    }
}

fn file_part(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((parent, _)) => parent.to_string(),
    }
}

fn fmt_major(major: Option<u32>) -> String {
    major.map_or("of unknown version".to_string(), |m| m.to_string())
}

/// Follow `guest` through the symlinks of the filesystem under `root` (absolute links
/// stay inside it). The real path, or `None` when it does not exist.
pub fn resolve_in(root: &Path, guest: &str) -> Option<String> {
    let mut pending: Vec<String> = guest.split('/').rev().map(str::to_string).collect();
    let mut current: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let mut candidate = current.clone();
        candidate.push(part);
        let host = root.join(candidate.join("/"));
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                current.clear();
            }
            pending.extend(target.split('/').rev().map(str::to_string));
        } else {
            current = candidate;
        }
    }
    Some(format!("/{}", current.join("/")))
}

/// Where a bind of `guest` lands in the rootfs: its real path when it exists, else the
/// real path of its folder plus its name (so the mount point is made in the right place).
fn guest_target(rootfs: &Path, guest: &str) -> String {
    if let Some(real) = resolve_in(rootfs, guest) {
        return real;
    }
    match resolve_in(rootfs, &parent_of(guest)) {
        Some(parent) => format!("{}/{}", parent.trim_end_matches('/'), file_part(guest)),
        None => guest.to_string(),
    }
}

/// The program interpreter (`PT_INTERP`) of a 64-bit little-endian ELF executable.
fn elf_interpreter(path: &Path) -> Option<String> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut data)
        .ok()?;
    if data.get(..4)? != b"\x7fELF" || data.get(4)? != &2 || data.get(5)? != &1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let header = phoff + i * phentsize;
        if u32_at(header)? == 3 {
            let offset = usize::try_from(u64_at(header + 8)?).ok()?;
            let size = usize::try_from(u64_at(header + 32)?).ok()?;
            let bytes = data.get(offset..offset + size)?;
            let interp = String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_string();
            return interp.starts_with('/').then_some(interp);
        }
    }
    None
}

fn default_loader() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "/lib/ld-linux-aarch64.so.1",
        "powerpc64" => "/lib64/ld64.so.2",
        _ => "/lib64/ld-linux-x86-64.so.2",
    }
}

fn host_multiarch() -> String {
    match std::env::consts::ARCH {
        "powerpc64" => "powerpc64le-linux-gnu".to_string(),
        arch => format!("{arch}-linux-gnu"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    /// A host root with a Debian-like cross toolchain of GCC `major` (C and C++).
    fn fake_host(root: &Path, major: u32) {
        let bin = root.join("usr/bin");
        for tool in ["gcc", "g++", "cpp"] {
            touch(&bin.join(format!("{TRIPLET}-{tool}-{major}")));
            // A second major keeps the first as the default.
            let _ = symlink(
                format!("{TRIPLET}-{tool}-{major}"),
                bin.join(format!("{TRIPLET}-{tool}")),
            );
        }
        for tool in ["ld", "ar", "as", "pkg-config"] {
            touch(&bin.join(format!("{TRIPLET}-{tool}")));
        }
        let cross = root.join(format!("usr/lib/gcc-cross/{TRIPLET}/{major}"));
        touch(&cross.join("cc1"));
        touch(&cross.join("cc1plus"));
        touch(&root.join(format!("usr/{TRIPLET}/lib/libc.so.6")));
        std::fs::create_dir_all(root.join(format!("usr/lib/{}", host_multiarch()))).unwrap();
    }

    /// An s390x rootfs like bookworm's: merged /usr, gcc-12 and the triplet names.
    fn fake_rootfs(root: &Path, major: u32) {
        let bin = root.join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        for tool in ["gcc", "g++", "cpp"] {
            touch(&bin.join(format!("{TRIPLET}-{tool}-{major}")));
            symlink(
                format!("{TRIPLET}-{tool}-{major}"),
                bin.join(format!("{TRIPLET}-{tool}")),
            )
            .unwrap();
            symlink(
                format!("{TRIPLET}-{tool}-{major}"),
                bin.join(format!("{tool}-{major}")),
            )
            .unwrap();
            symlink(format!("{tool}-{major}"), bin.join(tool)).unwrap();
        }
        touch(&bin.join(format!("{TRIPLET}-ld")));
        symlink(format!("{TRIPLET}-ld"), bin.join("ld")).unwrap();
        // cc goes through an absolute link, as Debian's alternatives do.
        std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
        symlink("/usr/bin/gcc", root.join("etc/alternatives/cc")).unwrap();
        symlink("/etc/alternatives/cc", bin.join("cc")).unwrap();
    }

    fn host_tool(host: &Path, name: &str) -> String {
        host.join("usr/bin")
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn modes_parse_and_print() {
        for mode in ["auto", "cross", "off"] {
            assert_eq!(mode.parse::<AccelerateMode>().unwrap().to_string(), mode);
        }
        assert!("fast"
            .parse::<AccelerateMode>()
            .unwrap_err()
            .contains("auto, cross or off"));
    }

    #[test]
    fn detects_languages_majors_and_what_is_missing() {
        let host = tempfile::tempdir().unwrap();
        let err = CrossToolchain::detect(host.path()).unwrap_err().to_string();
        assert!(
            err.contains("apt-get install gcc-s390x-linux-gnu g++-s390x-linux-gnu"),
            "{err}"
        );
        fake_host(host.path(), 12);
        let tc = CrossToolchain::detect(host.path()).unwrap();
        assert_eq!(tc.default_major, Some(12));
        assert_eq!(tc.languages(12), [Language::C, Language::Cxx]);
        assert!(tc.languages(13).is_empty());
        assert!(
            !tc.tools.iter().any(|t| t.contains("pkg-config")),
            "{:?}",
            tc.tools
        );
        assert_eq!(
            tc.support_dirs,
            ["/usr/lib/gcc-cross", "/usr/s390x-linux-gnu"]
        );
        assert_eq!(tc.host_lib_dirs, [format!("/usr/lib/{}", host_multiarch())]);
        assert_eq!(tc.loader, default_loader(), "a fake gcc has no PT_INTERP");
        // No s390x C library: say which package brings it.
        std::fs::remove_file(host.path().join(format!("usr/{TRIPLET}/lib/libc.so.6"))).unwrap();
        let err = CrossToolchain::detect(host.path()).unwrap_err().to_string();
        assert!(err.contains("libc6-dev-s390x-cross"), "{err}");
    }

    #[test]
    fn reads_the_loader_of_a_real_binary() {
        // Whatever runs this test is an ELF executable with an interpreter (or static).
        let exe = std::env::current_exe().unwrap();
        if let Some(interp) = elf_interpreter(&exe) {
            assert!(interp.starts_with('/') && interp.contains("ld"), "{interp}");
        }
        assert_eq!(elf_interpreter(Path::new("/nonexistent")), None);
    }

    #[test]
    fn resolves_links_inside_the_rootfs_only() {
        let rootfs = tempfile::tempdir().unwrap();
        fake_rootfs(rootfs.path(), 12);
        let r = rootfs.path();
        assert_eq!(
            resolve_in(r, "/usr/bin/gcc").unwrap(),
            "/usr/bin/s390x-linux-gnu-gcc-12"
        );
        assert_eq!(
            resolve_in(r, "/usr/bin/cc").unwrap(),
            "/usr/bin/s390x-linux-gnu-gcc-12"
        );
        assert_eq!(resolve_in(r, "/lib/x").as_deref(), None);
        assert_eq!(resolve_in(r, "/lib").unwrap(), "/usr/lib");
        assert_eq!(rootfs_gcc_major(r), Some(12));
        assert_eq!(
            split_version("s390x-linux-gnu-gcc-12"),
            ("s390x-linux-gnu-gcc", Some(12))
        );
        assert_eq!(
            split_version("s390x-linux-gnu-ld.bfd"),
            ("s390x-linux-gnu-ld.bfd", None)
        );
    }

    #[test]
    fn binds_libraries_support_folders_and_tools_over_the_rootfs_names() {
        let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_host(host.path(), 12);
        fake_rootfs(rootfs.path(), 12);
        let d = decide(
            AccelerateMode::Auto,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap();
        let acc = d.accelerator.expect(&d.note);
        assert!(d.note.contains("GCC 12, C, C++"), "{}", d.note);
        let binds = acc.sandbox(rootfs.path());
        let args = binds.args.join(" ");
        let h = |p: &str| {
            host.path()
                .join(p.trim_start_matches('/'))
                .display()
                .to_string()
        };
        // The loader folder the rootfs lacks, the host libraries, the compilers' folders.
        for dir in [
            "/lib64",
            &format!("/usr/lib/{}", host_multiarch()),
            "/usr/lib/gcc-cross",
            "/usr/s390x-linux-gnu",
        ] {
            assert!(
                args.contains(&format!("--ro-bind {} {dir}", h(dir))),
                "{dir}: {args}"
            );
            assert!(
                binds.mount_points.contains(&(dir.to_string(), false)),
                "{dir}"
            );
        }
        // Tools land on the real rootfs files; each real file is bound once.
        let gcc12 = format!("/usr/bin/{TRIPLET}-gcc-12");
        assert!(
            args.contains(&format!(
                "--ro-bind {} {gcc12}",
                host_tool(host.path(), &format!("{TRIPLET}-gcc-12"))
            )),
            "{args}"
        );
        assert_eq!(args.matches(&format!(" {gcc12}")).count(), 1, "{args}");
        assert!(args.contains(&format!(
            "--ro-bind {} /usr/bin/{TRIPLET}-ld",
            host_tool(host.path(), &format!("{TRIPLET}-ld"))
        )));
        // ar and as exist on the host only: they and their generic names go to the shim.
        let shim = format!("{GUEST_SHIM_DIR}/bin");
        assert!(
            args.contains(&format!("--tmpfs {GUEST_SHIM_DIR} --dir {shim}")),
            "{args}"
        );
        assert!(args.contains(&format!(
            "--ro-bind {} {shim}/{TRIPLET}-ar",
            host_tool(host.path(), &format!("{TRIPLET}-ar"))
        )));
        assert!(
            args.contains(&format!("--symlink {TRIPLET}-ar {shim}/ar")),
            "{args}"
        );
        assert!(
            !args.contains(&format!("{shim}/gcc")),
            "gcc exists in the rootfs: {args}"
        );
        assert_eq!(binds.path_prefix.as_deref(), Some(shim.as_str()));
        assert!(binds
            .mount_points
            .contains(&(GUEST_SHIM_DIR.to_string(), false)));
        // A driver in the shim (gfortran) finds f951 relative to itself.
        assert!(
            args.contains(&format!(
                "--ro-bind {} {GUEST_SHIM_DIR}/lib/gcc-cross",
                host.path().join("usr/lib/gcc-cross").display()
            )),
            "{args}"
        );
        // Nothing is taken from a pkg-config wrapper of the host.
        assert!(!args.contains("pkg-config"), "{args}");
    }

    #[test]
    fn containers_get_one_relocated_tree_first_on_path() {
        let host = tempfile::tempdir().unwrap();
        fake_host(host.path(), 12);
        // The image's compiler is GCC 12 too (asked of the image by the caller).
        let mut acc = decide_for(
            AccelerateMode::Auto,
            host.path(),
            Some(12),
            Execution::Emulated,
        )
        .unwrap()
        .accelerator
        .unwrap();
        acc.uv = Some(host.path().join("uv"));
        let binds = acc.container_binds();
        let h = |p: &str| host.path().join(p.trim_start_matches('/'));
        let has = |host_path: PathBuf, guest: &str| {
            binds
                .volumes
                .contains(&(host_path.clone(), guest.to_string()))
        };
        let shim = format!("{GUEST_SHIM_DIR}/bin");
        // The loader and host libraries keep their paths; the compilers' folders move
        // next to the drivers, where GCC looks relative to its own bin folder.
        assert!(has(h(&acc.toolchain.loader), &acc.toolchain.loader));
        let libs = format!("/usr/lib/{}", host_multiarch());
        assert!(has(h(&libs), &libs));
        assert!(has(
            h("/usr/lib/gcc-cross"),
            &format!("{GUEST_SHIM_DIR}/lib/gcc-cross")
        ));
        assert!(has(
            h("/usr/s390x-linux-gnu"),
            &format!("{GUEST_SHIM_DIR}/s390x-linux-gnu")
        ));
        // Triplet names and generic names all run the host's GCC 12 drivers.
        let gcc12 = h(&format!("/usr/bin/{TRIPLET}-gcc-12"));
        for name in [format!("{TRIPLET}-gcc"), "gcc".into(), "cc".into()] {
            assert!(has(gcc12.clone(), &format!("{shim}/{name}")), "{name}");
        }
        let gxx12 = h(&format!("/usr/bin/{TRIPLET}-g++-12"));
        assert!(has(gxx12, &format!("{shim}/c++")));
        assert!(has(
            h(&format!("/usr/bin/{TRIPLET}-ar")),
            &format!("{shim}/ar")
        ));
        assert!(has(host.path().join("uv"), GUEST_UV));
        assert!(binds
            .volumes
            .iter()
            .all(|(_, g)| !g.starts_with("/usr/bin")));
        assert!(binds
            .env
            .iter()
            .any(|(k, v)| k == "PATH" && v.starts_with(&format!("{shim}:"))));
        // Without the compilers' folders (the fallback test), the drivers find no cc1.
        acc.break_compilers = true;
        assert!(acc
            .container_binds()
            .volumes
            .iter()
            .all(|(_, g)| !g.contains("gcc-cross")));
    }

    #[test]
    fn broken_mode_leaves_out_the_compiler_folders() {
        let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_host(host.path(), 12);
        fake_rootfs(rootfs.path(), 12);
        let mut acc = decide(
            AccelerateMode::Auto,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap()
        .accelerator
        .unwrap();
        acc.break_compilers = true;
        let args = acc.sandbox(rootfs.path()).args.join(" ");
        assert!(!args.contains("gcc-cross"), "{args}");
        assert!(args.contains("/usr/s390x-linux-gnu"), "{args}");
    }

    #[test]
    fn auto_needs_a_matching_gcc_major_and_cross_forces_it() {
        let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_host(host.path(), 13);
        fake_rootfs(rootfs.path(), 12);
        let auto = decide(
            AccelerateMode::Auto,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap();
        assert!(auto.accelerator.is_none());
        assert!(
            auto.note.contains("GCC 13") && auto.note.contains("GCC 12"),
            "{}",
            auto.note
        );
        assert!(
            auto.note
                .contains("apt-get install gcc-12-s390x-linux-gnu g++-12-s390x-linux-gnu"),
            "{}",
            auto.note
        );
        let forced = decide(
            AccelerateMode::Cross,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap();
        let acc = forced.accelerator.unwrap();
        assert_eq!(acc.major, 13);
        assert!(forced.note.contains("warning"), "{}", forced.note);
        // The host's GCC 13 lands on the rootfs's gcc-12 file, which its names lead to.
        let args = acc.sandbox(rootfs.path()).args.join(" ");
        assert!(
            args.contains(&format!(
                "{} /usr/bin/{TRIPLET}-gcc-12",
                host_tool(host.path(), &format!("{TRIPLET}-gcc-13"))
            )),
            "{args}"
        );
        // With a GCC 12 cross compiler installed next to 13, auto takes that one.
        fake_host(host.path(), 12);
        let acc = decide(
            AccelerateMode::Auto,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap()
        .accelerator
        .unwrap();
        assert_eq!(acc.major, 12);
        let args = acc.sandbox(rootfs.path()).args.join(" ");
        assert!(!args.contains("-13"), "{args}");
    }

    #[test]
    fn off_native_and_missing_toolchains() {
        let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_rootfs(rootfs.path(), 12);
        let d = decide(
            AccelerateMode::Off,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap();
        assert!(d.accelerator.is_none() && d.note.contains("off"));
        let d = decide(
            AccelerateMode::Cross,
            host.path(),
            rootfs.path(),
            Execution::Native,
        )
        .unwrap();
        assert!(d.accelerator.is_none() && d.note.contains("s390x"));
        let d = decide(
            AccelerateMode::Auto,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap();
        assert!(
            d.accelerator.is_none() && d.note.contains("apt-get install gcc-s390x-linux-gnu"),
            "{}",
            d.note
        );
        let err = decide(
            AccelerateMode::Cross,
            host.path(),
            rootfs.path(),
            Execution::Emulated,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--accelerate cross") && err.contains("apt-get install"),
            "{err}"
        );
    }

    #[test]
    fn doctor_lists_languages_and_what_to_install() {
        let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake_host(host.path(), 12);
        fake_rootfs(rootfs.path(), 12);
        let text = doctor_lines(host.path(), Some(rootfs.path())).join("\n");
        assert!(
            text.contains("C++      s390x-linux-gnu-g++ (GCC 12)"),
            "{text}"
        );
        assert!(
            text.contains("Fortran  missing: apt-get install gfortran-s390x-linux-gnu"),
            "{text}"
        );
        assert!(text.contains("--accelerate auto: on"), "{text}");
    }

    #[test]
    fn uv_builds_with_the_pip_settings_or_says_why_not() {
        let env: Vec<(String, String)> = [
            ("HOME", "/build/home"),
            ("PIP_CACHE_DIR", "/pip-cache"),
            ("PIP_FIND_LINKS", "/wheels"),
            ("PIP_ONLY_BINARY", ":all:"),
            ("PIP_INDEX_URL", "https://u:secret@example/simple"),
            ("PIP_INDEX_URL", "https://example/other"),
            ("PIP_NO_INPUT", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let FrontendCommand { argv, env: uv_env } = uv_build(
            GUEST_UV,
            "python3",
            "/build/out",
            "/build/src/x-1.tar.gz",
            false,
            &env,
        )
        .unwrap();
        assert_eq!(
            argv.join(" "),
            format!("{GUEST_UV} build --wheel --python python3 --out-dir /build/out /build/src/x-1.tar.gz")
        );
        let get = |k: &str| {
            uv_env
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("UV_CACHE_DIR"), Some("/pip-cache/uv"));
        assert_eq!(get("UV_FIND_LINKS"), Some("/wheels"));
        assert_eq!(get("UV_NO_BUILD"), Some("1"));
        assert_eq!(
            get("UV_INDEX_URL"),
            Some("https://example/other"),
            "the last value wins"
        );
        assert_eq!(get("UV_PYTHON_DOWNLOADS"), Some("never"));
        // Credentials stay in the environment, never in argv.
        assert!(!argv.join(" ").contains("secret"));
        // pip's inverted PIP_NO_BUILD_ISOLATION=0 and the no-isolation variant.
        let mut no_iso = env.clone();
        no_iso.push(("PIP_NO_BUILD_ISOLATION".into(), "0".into()));
        assert!(uv_build("uv", "python3", "/o", "/s", false, &no_iso)
            .unwrap()
            .argv
            .contains(&"--no-build-isolation".to_string()));
        assert!(uv_build("uv", "python3", "/o", "/s", true, &env)
            .unwrap()
            .argv
            .contains(&"--no-build-isolation".to_string()));
        // A pip setting without a uv equivalent keeps pip.
        let mut odd = env.clone();
        odd.push(("PIP_CONSTRAINT".into(), "/c.txt".into()));
        assert!(uv_build("uv", "python3", "/o", "/s", false, &odd)
            .unwrap_err()
            .to_string()
            .contains("PIP_CONSTRAINT"));
        odd.pop();
        odd.push(("PIP_FIND_LINKS".into(), "/a /b".into()));
        assert!(uv_build("uv", "python3", "/o", "/s", false, &odd)
            .unwrap_err()
            .to_string()
            .contains("several"));
    }

    #[test]
    fn toolchain_failures_are_told_apart_from_package_failures() {
        assert!(looks_toolchain_related(
            "gcc: fatal error: cannot execute 'cc1': execvp: No such file or directory"
        ));
        assert!(looks_toolchain_related(
            "ImportError: /lib/s390x-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found"
        ));
        assert!(looks_toolchain_related(
            "s390x-linux-gnu-gcc: error: unrecognized command-line option '-march=z17'"
        ));
        assert!(!looks_toolchain_related(
            "fatal error: ffi.h: No such file or directory"
        ));
        assert!(!looks_toolchain_related(
            "error: subprocess-exited-with-error"
        ));
    }
}
