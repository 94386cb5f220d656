//! A Rust toolchain for s390x that runs natively, made once into `<envs>/v1/toolchains/`
//! and bound read-only into build steps at [`GUEST_RUST_DIR`]. Two kinds of tree
//! ([`recipes`]):
//! - the Rust project's own release (what rustup installs: `rustc`, `cargo` and the
//!   x86_64 and s390x standard libraries from `static.rust-lang.org`, checked against the
//!   sha256 of that release's channel manifest) over the amd64 C run time of a Debian
//!   tree ([`UpstreamRust`]). Built with PGO and BOLT and LLVM linked in, it compiles
//!   about 1.6x faster than Debian's build of a newer release, so it is the default;
//! - Debian's amd64 `rustc` and `cargo` with the s390x standard library of exactly the
//!   same version (`libstd-rust-dev:s390x`), made with mmdebstrap: the newest release
//!   here, for crates whose `rust-version` the upstream one does not meet, and the
//!   fallback when `static.rust-lang.org` cannot be reached.
//!
//! Cargo compiles for [`RUST_TARGET`]; Python and the build backend (maturin,
//! setuptools-rust) stay emulated.
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

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runner::{Mount, ToolBinds};
use crate::Reporter;

pub use error::{ToolchainError, TreeError};

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
/// Written into a finished tree; a folder without it is not used.
const MARKER_FILE: &str = "refinery-toolchain.json";

/// One Rust toolchain recipe: a Debian suite, the pinned package version, and the
/// architecture the tree's programs are for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustRecipe {
    /// Debian suite, e.g. `forky`: the toolchain's packages, or for an upstream release
    /// the amd64 C run time its programs load.
    pub suite: String,
    /// The Rust release, e.g. `1.97.1`.
    pub rust: String,
    /// Debian's version of `rustc`, `cargo` and `libstd-rust-dev` (all three the same);
    /// empty for an upstream release.
    pub debian_version: String,
    /// Left out of the JSON when amd64, so the native trees keep their names.
    #[serde(default, skip_serializing_if = "ToolchainArch::is_amd64")]
    pub arch: ToolchainArch,
    /// The Rust project's own release in place of Debian's packages; left out of the
    /// JSON for Debian's, so their trees keep their names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamRust>,
}

/// Where the Rust project publishes its releases (rustup's distribution server), unless
/// `RUSTUP_DIST_SERVER` names a mirror, as it does for rustup.
pub const RUST_DIST_SERVER: &str = "https://static.rust-lang.org";

/// The distribution server to download releases from: `RUSTUP_DIST_SERVER` when set
/// (rustup's own variable, for mirrors), else [`RUST_DIST_SERVER`].
pub fn dist_server() -> String {
    std::env::var("RUSTUP_DIST_SERVER")
        .ok()
        .map(|s| s.trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| RUST_DIST_SERVER.to_string())
}

/// A release of the Rust project: its date folder under `<server>/dist` and the archives
/// (`.tar.xz`, rustup's components) the tree is made of, each with the sha256 that the
/// release's channel manifest (`channel-rust-<version>.toml`, `xz_hash`) gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamRust {
    /// The date folder, e.g. `2026-04-16`.
    pub date: String,
    pub archives: Vec<DistArchive>,
}

/// One archive of an [`UpstreamRust`] release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistArchive {
    /// The archive's name without `.tar.xz`, e.g. `rust-std-1.95.0-s390x-unknown-linux-gnu`.
    pub name: String,
    /// Hex sha256 of the `.tar.xz`.
    pub sha256: String,
}

impl UpstreamRust {
    /// The download URL of `archive` on the distribution server `server`
    /// (`https://static.rust-lang.org`, see [`dist_server`]).
    pub fn url(&self, server: &str, archive: &DistArchive) -> String {
        format!("{server}/dist/{}/{}.tar.xz", self.date, archive.name)
    }
}

/// What a toolchain tree's programs are compiled for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolchainArch {
    /// Runs natively on x86_64 hosts and cross-compiles for s390x (the default).
    #[default]
    Amd64,
    /// Runs where s390x code runs: under QEMU on x86_64 (the fallback: `--accelerate off`,
    /// or the `emulated` variant), natively on s390x hosts.
    S390x,
}

impl ToolchainArch {
    fn is_amd64(&self) -> bool {
        *self == ToolchainArch::Amd64
    }
}

/// The toolchains this refinery can make, oldest first: the Rust project's 1.95.0 (amd64
/// only; the newest release whose s390x standard library `static.rust-lang.org` serves
/// here) and Debian forky's 1.97.1. Trixie's 1.85.1 would come before them, but this
/// mirror serves trixie's s390x packages inconsistently (a `zlib1g` the index names is
/// missing from the pool), so it is not listed.
pub fn recipes() -> Vec<RustRecipe> {
    let archive = |name: &str, sha256: &str| DistArchive {
        name: name.into(),
        sha256: sha256.into(),
    };
    vec![
        RustRecipe {
            suite: "forky".into(),
            rust: "1.95.0".into(),
            debian_version: String::new(),
            arch: ToolchainArch::Amd64,
            // sha256 from https://static.rust-lang.org/dist/channel-rust-1.95.0.toml.
            upstream: Some(UpstreamRust {
                date: "2026-04-16".into(),
                archives: vec![
                    archive(
                        "rustc-1.95.0-x86_64-unknown-linux-gnu",
                        "8426a3d170a5879f5682f5fbdd024a1779b3951e7baba685af2d6dc32a6dfc15",
                    ),
                    archive(
                        "cargo-1.95.0-x86_64-unknown-linux-gnu",
                        "e74edd2cf7d0f1f1383b4f00eb90c843750bc489e2ccf7214e6476678a907425",
                    ),
                    archive(
                        "rust-std-1.95.0-x86_64-unknown-linux-gnu",
                        "047ea7098803d3500fa1072e9cee5392697e21525559e4458128a2bf874aa382",
                    ),
                    archive(
                        "rust-std-1.95.0-s390x-unknown-linux-gnu",
                        "31978c1286afff9a0bb7f01c2ae4a39f40727b6100a82b6d934f146b06cde510",
                    ),
                ],
            }),
        },
        RustRecipe {
            suite: "forky".into(),
            rust: "1.97.1".into(),
            debian_version: "1.97.1+dfsg1-1".into(),
            arch: ToolchainArch::Amd64,
            upstream: None,
        },
    ]
}

/// The recipes whose trees can be made for `arch`, oldest first: upstream releases are
/// made for amd64 only (an s390x tree runs Debian's build under QEMU).
pub fn recipes_for(arch: ToolchainArch) -> Vec<RustRecipe> {
    recipes()
        .into_iter()
        .filter(|r| arch == ToolchainArch::Amd64 || r.upstream.is_none())
        .map(|r| r.for_arch(arch))
        .collect()
}

impl RustRecipe {
    /// Folder name: readable prefix and a hash of the recipe
    /// (`rust-1.97.1-forky-amd64-…`, `rust-1.95.0-rust-lang-amd64-…`).
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        let origin = if self.upstream.is_some() {
            "rust-lang"
        } else {
            self.suite.as_str()
        };
        format!(
            "rust-{}-{origin}-{}-{digest}",
            self.rust,
            self.arch.debian()
        )
    }

    /// The same release built for `arch`. An upstream release has amd64 trees only: for
    /// s390x it gives the newest Debian release (run as s390x code, its version no older).
    pub fn for_arch(&self, arch: ToolchainArch) -> RustRecipe {
        if self.upstream.is_some() && arch != ToolchainArch::Amd64 {
            let newest = recipes()
                .into_iter()
                .rfind(|r| r.upstream.is_none())
                .expect("a Debian recipe is listed");
            return newest.for_arch(arch);
        }
        RustRecipe {
            arch,
            ..self.clone()
        }
    }

    /// Whose build of rustc it is: `Debian forky rustc 1.97.1`, or `the Rust project's
    /// rustc 1.95.0 (static.rust-lang.org, 2026-04-16)`.
    pub fn origin(&self) -> String {
        match &self.upstream {
            Some(upstream) => format!(
                "the Rust project's rustc {} (static.rust-lang.org, {})",
                self.rust, upstream.date
            ),
            None => format!("Debian {} rustc {}", self.suite, self.rust),
        }
    }

    /// What the tree is, for listings: `rust-lang.org, native amd64 → s390x`,
    /// `Debian forky, native amd64 → s390x`, `Debian forky, s390x code (emulated)`.
    pub fn kind(&self) -> String {
        let origin = if self.upstream.is_some() {
            "rust-lang.org".to_string()
        } else {
            format!("Debian {}", self.suite)
        };
        match self.arch {
            ToolchainArch::Amd64 => format!("{origin}, native amd64 → s390x"),
            ToolchainArch::S390x => format!("{origin}, s390x code (emulated)"),
        }
    }

    /// `(major, minor, patch)` of the release.
    pub fn version(&self) -> RustVersion {
        RustVersion::parse(&self.rust).expect("recipes name valid versions")
    }

    /// The packages mmdebstrap installs: Debian's toolchain pinned to its version; for an
    /// upstream release the C run time its programs load (glibc, libgcc's unwinder, zlib
    /// for LLVM) at the suite's current version, like the pinned toolchain's own
    /// dependencies (the Rust release itself is pinned by sha256).
    fn packages(&self) -> Vec<String> {
        if self.upstream.is_some() {
            return ["libc6", "libgcc-s1", "zlib1g"].map(String::from).to_vec();
        }
        let names: &[&str] = match self.arch {
            ToolchainArch::Amd64 => &["rustc", "cargo", "libstd-rust-dev:s390x"],
            ToolchainArch::S390x => &["rustc", "cargo", "libstd-rust-dev"],
        };
        names
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

/// The first of `candidates` that `make` can make; each failure but the last is said
/// through `reporter` with the one tried next.
///
/// # Errors
/// The last candidate's error when none can be made.
fn first_made<T>(
    candidates: &[RustRecipe],
    mut make: impl FnMut(&RustRecipe) -> Result<T, ToolchainError>,
    reporter: &dyn Reporter,
) -> Result<T, ToolchainError> {
    let mut last_error = None;
    for (i, recipe) in candidates.iter().enumerate() {
        match make(recipe) {
            Ok(made) => return Ok(made),
            // A stop is no reason to try another.
            Err(ToolchainError::Stopped) => return Err(ToolchainError::Stopped),
            Err(e) => {
                if let Some(next) = candidates.get(i + 1) {
                    reporter.message(&format!(
                        "the Rust toolchain {} cannot be made ({e}); using {} instead",
                        recipe.key(),
                        next.key()
                    ));
                }
                last_error = Some(e);
            }
        }
    }
    Err(last_error.expect("at least one candidate"))
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
    /// What the toolchains it chooses run as: amd64 trees that cross-compile, or s390x
    /// trees (under QEMU on x86_64).
    arch: ToolchainArch,
    /// Toolchains that could not be made in this process, by key, with why: not tried
    /// again by every Rust build of the run (an unreachable server, a failed mmdebstrap).
    failed: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// What making a toolchain may use: the run's index client (its proxy, certificates
/// and `--offline` apply to the downloads of an upstream release), the stop flag of the
/// run or job, and where to say what happens.
pub struct Making<'a> {
    pub client: &'a refinery_index::IndexClient,
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    pub reporter: &'a dyn Reporter,
}

impl Making<'_> {
    fn stopped(&self) -> bool {
        self.stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    }
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
    /// The Zig package folder (links build scripts for the host); `None` for an s390x
    /// tree.
    pub zig_dir: Option<PathBuf>,
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
            failed: std::sync::Arc::default(),
            arch: ToolchainArch::Amd64,
        }
    }

    /// The same store choosing `arch` trees: s390x ones where nothing runs natively
    /// (`--accelerate off`, hosts other than x86_64).
    pub fn choosing(mut self, arch: ToolchainArch) -> RustStore {
        self.arch = arch;
        self
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
    ///
    /// # Errors
    /// [`ToolchainError::Io`] naming the folder that could not be removed.
    pub fn remove(&self, name: &str) -> Result<Option<String>, ToolchainError> {
        let Some(found) = self.list().into_iter().find(|t| t.name == name) else {
            return Ok(None);
        };
        std::fs::remove_dir_all(&found.path)
            .map(|()| Some(found.name))
            .map_err(ToolchainError::io("remove", &found.path))
    }

    /// The folder of `recipe`'s tree.
    pub fn path_for(&self, recipe: &RustRecipe) -> PathBuf {
        self.dir.join(recipe.key())
    }

    /// The oldest known toolchain that is at least `needs.minimum`, or an error naming
    /// the version the sdist asks for and the newest one there is.
    ///
    /// # Errors
    /// [`ToolchainError::TooOld`].
    pub fn choose(&self, needs: &CrateNeeds) -> Result<RustRecipe, ToolchainError> {
        let known = recipes_for(self.arch);
        let newest = known.last().expect("at least one recipe").clone();
        match needs.minimum {
            // No version asked for: the first (for amd64 the fast upstream release).
            None => Ok(known[0].clone()),
            Some(minimum) => known
                .into_iter()
                .find(|r| r.version() >= minimum)
                .ok_or_else(|| ToolchainError::TooOld {
                    minimum: minimum.to_string(),
                    because: needs
                        .because
                        .as_deref()
                        .unwrap_or("its Cargo.toml")
                        .to_string(),
                    newest: newest.rust.clone(),
                }),
        }
    }

    /// The newest toolchain there is for this store's architecture (what the
    /// `rust-newest` hint asks for).
    pub fn newest(&self) -> RustRecipe {
        recipes_for(self.arch).pop().expect("at least one recipe")
    }

    /// The toolchain for `needs`: the one [`Self::choose`] gives, made if needed; when it
    /// cannot be made (an upstream release whose server cannot be reached), the next
    /// newer one that meets `needs`, after saying why. Once the run is stopped no other
    /// toolchain is tried.
    ///
    /// # Errors
    /// [`ToolchainError::TooOld`], [`ToolchainError::Stopped`], or the last toolchain's
    /// error when none can be made.
    pub fn ensure_for(
        &self,
        needs: &CrateNeeds,
        making: &Making<'_>,
    ) -> Result<RustToolchain, ToolchainError> {
        let first = self.choose(needs)?;
        let candidates: Vec<RustRecipe> = recipes_for(self.arch)
            .into_iter()
            .skip_while(|r| *r != first)
            .collect();
        first_made(
            &candidates,
            |recipe| {
                if making.stopped() {
                    return Err(ToolchainError::Stopped);
                }
                self.ensure(recipe, making)
            },
            making.reporter,
        )
        .map_err(|e| {
            if making.stopped() {
                ToolchainError::Stopped
            } else {
                e
            }
        })
    }

    /// The toolchain of `recipe`, made first when it does not exist yet (an upstream
    /// release in about two minutes and 0.9 GiB, Debian's in a few minutes and 1.2 GiB,
    /// once). Another process making the same one is waited for; one this process could
    /// not make is not tried again.
    ///
    /// # Errors
    /// [`ToolchainError`]: no Zig, the tree could not be made (or was not, earlier), the
    /// run was stopped.
    pub fn ensure(
        &self,
        recipe: &RustRecipe,
        making: &Making<'_>,
    ) -> Result<RustToolchain, ToolchainError> {
        let reporter = making.reporter;
        // An amd64 tree links its build scripts with Zig; an s390x one with the
        // environment's gcc.
        let zig_dir = match recipe.arch {
            ToolchainArch::Amd64 => Some(
                self.zig_dir
                    .get_or_init(|| crate::zig::locate().map_err(|e| e.to_string()))
                    .clone()
                    .map_err(|message| ToolchainError::NoZig { message })?,
            ),
            ToolchainArch::S390x => None,
        };
        let path = self.path_for(recipe);
        let toolchain = RustToolchain {
            recipe: recipe.clone(),
            dir: path.clone(),
            cargo_home: self.cargo_home.clone(),
            zig_dir,
            zig_cache: self.zig_cache.clone(),
        };
        for folder in [&toolchain.cargo_home, &toolchain.zig_cache] {
            std::fs::create_dir_all(folder).map_err(ToolchainError::io("create", folder))?;
        }
        if path.join(MARKER_FILE).is_file() {
            return Ok(toolchain);
        }
        if making.stopped() {
            return Err(ToolchainError::Stopped);
        }
        let lock_path = self
            .dir
            .join(".locks")
            .join(format!("{}.lock", recipe.key()));
        let _lock = crate::layers::lock_exclusive(&lock_path)
            .map_err(ToolchainError::io("lock", &lock_path))?;
        if path.join(MARKER_FILE).is_file() {
            return Ok(toolchain);
        }
        if let Some(message) = self.failed.lock().expect("failed lock").get(&recipe.key()) {
            return Err(ToolchainError::FailedBefore {
                key: recipe.key(),
                message: message.clone(),
            });
        }
        if making.stopped() {
            return Err(ToolchainError::Stopped);
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
            "making the Rust toolchain {} ({} {}); this takes a few minutes once",
            recipe.key(),
            recipe.origin(),
            match recipe.arch {
                ToolchainArch::Amd64 => "for amd64 with the s390x standard library",
                ToolchainArch::S390x => "for s390x, run under QEMU",
            }
        ));
        let made = tree::make_tree(recipe, &staging, making.client)
            .map_err(ToolchainError::from)
            .and_then(|()| {
                let json = serde_json::to_vec_pretty(recipe).expect("recipes serialize");
                std::fs::write(staging.join(MARKER_FILE), json)
                    .map_err(ToolchainError::io("write into", &staging))?;
                std::fs::rename(&staging, &path)
                    .map_err(ToolchainError::io("move the toolchain to", &path))
            });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            if making.stopped() {
                return Err(ToolchainError::Stopped);
            }
            self.failed
                .lock()
                .expect("failed lock")
                .insert(recipe.key(), e.to_string());
            return Err(e);
        }
        Ok(toolchain)
    }
}

impl RustToolchain {
    /// `rust(1.97.1)` (`rust(1.97.1, s390x)` for an s390x tree), for build labels.
    pub fn label(&self) -> String {
        match self.recipe.arch {
            ToolchainArch::Amd64 => format!("rust({})", self.recipe.rust),
            ToolchainArch::S390x => format!("rust({}, s390x)", self.recipe.rust),
        }
    }

    /// What the manifest records: `rustc 1.95.0 (rust-lang.org 2026-04-16, native amd64 →
    /// s390x-unknown-linux-gnu)`, `rustc 1.97.1 (Debian forky, native amd64 → …)`.
    pub fn describe(&self) -> String {
        match (self.recipe.arch, &self.recipe.upstream) {
            (ToolchainArch::Amd64, Some(upstream)) => format!(
                "rustc {} (rust-lang.org {}, native amd64 → {RUST_TARGET})",
                self.recipe.rust, upstream.date
            ),
            (ToolchainArch::Amd64, None) => format!(
                "rustc {} (Debian {}, native amd64 → {RUST_TARGET})",
                self.recipe.rust, self.recipe.suite
            ),
            (ToolchainArch::S390x, _) => format!(
                "rustc {} (Debian {}, {RUST_TARGET}, run as s390x code)",
                self.recipe.rust, self.recipe.suite
            ),
        }
    }

    /// True when cargo cross-compiles (an amd64 tree): PyO3 and maturin then need the
    /// target Python's configuration ([`python_env`]).
    pub fn cross_compiles(&self) -> bool {
        self.recipe.arch == ToolchainArch::Amd64
    }

    /// What a build step's sandbox gets: the tree read-only, cargo's home read-write,
    /// and Zig when `with_zig` (the glibc-targeted compiler has not bound it already);
    /// the variables of [`Self::env`], and [`GUEST_RUST_BIN`] first on `PATH`.
    pub fn binds(&self, with_zig: bool) -> ToolBinds {
        let mut mounts = vec![
            Mount::ro(&self.dir, GUEST_RUST_DIR),
            Mount::rw(&self.cargo_home, GUEST_CARGO_HOME),
        ];
        if let Some(zig_dir) = self.zig_dir.as_ref().filter(|_| with_zig) {
            mounts.extend([
                Mount::ro(zig_dir, crate::zig::GUEST_ZIG_DIR),
                Mount::rw(&self.zig_cache, crate::zig::GUEST_ZIG_CACHE),
            ]);
        }
        ToolBinds {
            mounts,
            env: self.env(),
            path: vec![GUEST_RUST_BIN.to_string()],
        }
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
        if self.recipe.arch == ToolchainArch::S390x {
            // Cargo compiles for the platform it runs on; `cc` links.
            return vec![
                ("CARGO".into(), bin("cargo")),
                ("RUSTC".into(), bin("rustc")),
                ("RUSTDOC".into(), bin("rustdoc")),
                ("CARGO_HOME".into(), GUEST_CARGO_HOME.into()),
                ("CARGO_TERM_COLOR".into(), "never".into()),
                ("CARGO_INCREMENTAL".into(), "0".into()),
            ];
        }
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
/// module in `/usr/lib/python<python>` of the environment at `rootfs` (`/usr/local/lib/…`
/// for a CPython built from source, see [`crate::cpython`]) (PyO3's and
/// maturin's cross-compiling guides). Debian keeps one file and a link to it under the
/// other name (which one is the file changed between releases); the search skips links
/// and would count both, so `_PYTHON_SYSCONFIGDATA_NAME` (the variable CPython itself
/// reads) names the file.
pub fn python_env(rootfs: Option<&Path>, python: &str) -> Vec<(String, String)> {
    // A CPython built from source lives in /usr/local (see crate::cpython).
    let local = format!("{}/lib/python{python}", crate::cpython::PREFIX);
    let lib_dir = match rootfs {
        Some(r) if sysconfigdata_file(&r.join(local.trim_start_matches('/'))).is_some() => local,
        _ => format!("/usr/lib/python{python}"),
    };
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

/// The platform an amd64 tree's programs run on.
const RUST_HOST: &str = "x86_64-unknown-linux-gnu";

mod error;
mod tree;

#[cfg(test)]
mod tests;
