//! Native library packs: C libraries that extensions link (libffi, zlib, OpenBLAS, …)
//! built from pinned source tarballs (Debian's orig tarballs; a PyPI sdist where Debian's
//! lacks a part) with the glibc-targeted compiler (see [`crate::zig`]) into
//! a prefix, static and position independent. An extension built for `manylinux2014`
//! then links the library in, instead of linking the environment's shared library, whose
//! own glibc symbols are newer than the target allows (auditwheel would graft it and
//! refuse the tag).
//!
//! Packs live in `<envs>/packs/<name>-<version>-glibc<X.Y>-<hash>/`, made once per target
//! glibc and toolchain ([`PackTarget`]), and the whole folder is bound read-only at [`GUEST_PACKS_DIR`] into build steps.
//! A pack is made in the build environment itself: its configure script runs under
//! emulation and the compiler natively, `make install DESTDIR=…` stages it, and the
//! prefix recorded in its `.pc` files is the path builds see.

pub mod archive;
mod error;
mod job;
mod recipes;
mod store;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use recipes::RECIPES;

pub use error::{MirrorError, PackError};
pub use store::{is_pack_key, MirroredPack, PackMirror, PackStore};

/// Where the packs folder appears inside build steps.
pub const GUEST_PACKS_DIR: &str = "/opt/refinery-packs";
/// The CPU level of code Zig compiles for `s390x-linux-gnu` without `-mcpu` (measured:
/// `__ARCH__` 11 and `__VX__` defined), recorded for packs whose recipe chooses none.
const ZIG_BASELINE_CPU: &str = "arch11 (z13, vector facility): Zig's s390x default";
/// Written into a finished pack (its recipe, target and CPU level as JSON); a folder
/// without it is not used.
const MARKER_FILE: &str = "refinery-pack.json";
/// Where a pack's build folder appears (one of the build mount points).
const GUEST_WORK: &str = "/build";
/// Unpacks the source archive named by its argument with Python's `tarfile`: Debian's
/// minimal environments have no `bzip2` or `xz` program, Python has both codecs. A Debian
/// binary package (`.deb`, an `ar` archive: an 8-byte magic, then members behind 60-byte
/// headers, each padded to an even size; deb(5)) unpacks its `data.tar.*` member, for
/// header-only libraries whose source tarball the pool no longer serves.
const UNPACK: &str = r#"'import io, sys, tarfile
path = sys.argv[1]
if path.endswith(".deb"):
    data, at, member = open(path, "rb").read(), 8, None
    while data[:8] == b"!<arch>\n" and at + 60 <= len(data):
        name, size = data[at:at + 16].strip().rstrip(b"/"), int(data[at + 48:at + 58])
        if name.startswith(b"data.tar"):
            member = io.BytesIO(data[at + 60:at + 60 + size])
        at += 60 + size + size % 2
    if member is None:
        sys.exit(path + ": not a Debian package with a data.tar member")
    t = tarfile.open(fileobj=member)
else:
    t = tarfile.open(path)
t.extractall(**({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))'"#;

/// How to make one pack: a pinned source tarball and the shell commands that build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackRecipe {
    pub name: &'static str,
    pub version: &'static str,
    /// The Debian `.orig` tarball (the upstream release as Debian ships it), or a PyPI
    /// sdist that carries the upstream tree when Debian's leaves out a part, or (for a
    /// header-only library whose orig tarball the pool no longer serves) Debian's binary
    /// `-dev` package.
    pub url: &'static str,
    /// Its sha256, from the Debian `.dsc` (e.g. libxml2_2.9.14+dfsg-1.3~deb12u6.dsc), the
    /// pool's `Packages` index (a `.deb`) or PyPI's JSON API. The orig tarball is
    /// upstream's release: Debian's patches are not applied.
    pub sha256: &'static str,
    /// The folder the tarball unpacks to.
    pub folder: &'static str,
    /// Packs this one links (made first, found like a build finds packs, and each one's
    /// prefix in `$PACK_<NAME>`, e.g. `$PACK_ZLIB`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub depends: &'static [&'static str],
    /// Variables the builds that link this pack get, telling their build systems where
    /// it is and that it is static (openssl-sys links `libssl.so` otherwise); `$PREFIX`
    /// in a value is the pack's prefix. Not part of the key: they change the users'
    /// builds, not the pack.
    #[serde(skip)]
    pub link_env: &'static [(&'static str, &'static str)],
    /// Build programs the environment lacks (e.g. CMake), taken from pinned s390x wheels
    /// on PyPI and put on `PATH`; they run emulated like `configure`.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'static [PackTool],
    /// The s390x CPU level the library's code is built for, when the recipe chooses one
    /// (recorded in the pack's `refinery-pack.json`); empty: the toolchain's baseline
    /// (Zig's default for s390x is arch11 = z13, with the vector facility).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub cpu: &'static str,
    /// The pack is headers (and CMake or pkg-config files) only, e.g. xsimd: its prefix
    /// must then hold `include`, not a `lib/*.a`. Left out of the key when false, so the
    /// keys of the library packs stay what they were.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub header_only: bool,
    /// Commands run in that folder with `$PREFIX` (the prefix builds see), `$DESTDIR`
    /// (where to install) and `$JOBS` set; `s390x-linux-gnu-gcc` is the glibc-targeted
    /// compiler.
    pub build: &'static str,
}

/// A build program from a wheel: its URL, sha256 and the folder inside the wheel that
/// holds its executables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackTool {
    pub url: &'static str,
    pub sha256: &'static str,
    pub bin: &'static str,
}

/// The recipe of the pack `name`.
pub fn recipe(name: &str) -> Option<&'static PackRecipe> {
    RECIPES.iter().find(|r| r.name == name)
}

/// The names of every pack.
pub fn names() -> Vec<&'static str> {
    RECIPES.iter().map(|r| r.name).collect()
}

/// The recipes of `names` and of every pack they depend on, each once, dependencies
/// before the packs that link them (`["libxslt"]` → zlib, libxml2, libxslt). `Err` names
/// an unknown pack.
///
/// # Errors
/// [`PackError::Unknown`] or [`PackError::UnknownDependency`] naming the pack.
pub fn with_dependencies(names: &[String]) -> Result<Vec<&'static PackRecipe>, PackError> {
    fn visit(
        name: &str,
        wanted_by: Option<&str>,
        out: &mut Vec<&'static PackRecipe>,
    ) -> Result<(), PackError> {
        let recipe = recipe(name).ok_or_else(|| match wanted_by {
            Some(parent) => PackError::UnknownDependency {
                parent: parent.to_string(),
                name: name.to_string(),
            },
            None => PackError::Unknown {
                name: name.to_string(),
                known: self::names().join(", "),
            },
        })?;
        if out.iter().any(|r| r.name == recipe.name) {
            return Ok(());
        }
        for dependency in recipe.depends {
            visit(dependency, Some(recipe.name), out)?;
        }
        out.push(recipe);
        Ok(())
    }
    let mut out = Vec::new();
    for name in names {
        visit(name, None, &mut out)?;
    }
    Ok(out)
}

impl PackRecipe {
    /// Folder name for a target: readable prefix (`<name>-<version>-glibc<X.Y>-`) and a
    /// hash of the recipe, the target glibc, the toolchain's identity (a changed Zig or
    /// wrapper makes a new pack) and the dependencies' keys (a rebuilt zlib makes a new
    /// libxml2).
    pub fn key(&self, target: &PackTarget) -> String {
        let dependencies: Vec<String> = self
            .depends
            .iter()
            .map(|d| recipe(d).map_or_else(|| (*d).to_string(), |r| r.key(target)))
            .collect();
        let json = serde_json::to_vec(&(self, target, dependencies)).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        format!(
            "{}-{}-glibc{}.{}-{digest}",
            self.name, self.version, target.glibc.0, target.glibc.1
        )
    }

    fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
}

/// What a pack is built for and with; part of its key and of its `refinery-pack.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackTarget {
    /// The target glibc, e.g. (2, 17).
    pub glibc: (u16, u16),
    /// The compiler's identity ([`crate::zig::ZigToolchain::identity`]).
    pub toolchain: String,
}

impl PackTarget {
    /// Packs compiled by `zig`.
    pub fn of(zig: &crate::zig::ZigToolchain) -> PackTarget {
        PackTarget {
            glibc: zig.glibc,
            toolchain: zig.identity(),
        }
    }
}

/// The variable naming a mirror of the pack sources: a base URL (`https://…/` or
/// `file:///…/`) under which every pinned source archive and build-tool wheel is found by
/// its file name (e.g. `$REFINERY_PACK_SOURCES/zlib_1.2.13.dfsg.orig.tar.bz2`), for
/// machines that cannot reach Debian or PyPI. What comes from it is checked against the
/// recipe's sha256 like the original; pack keys do not change.
pub const SOURCES_MIRROR_VAR: &str = "REFINERY_PACK_SOURCES";

/// Where the pinned source `url` is fetched from: from the mirror in
/// [`SOURCES_MIRROR_VAR`] when it is set (non-empty), else `url` itself.
pub fn source_url(url: &str) -> String {
    match std::env::var(SOURCES_MIRROR_VAR) {
        Ok(base) if !base.trim().is_empty() => format!(
            "{}/{}",
            base.trim().trim_end_matches('/'),
            url.rsplit('/').next().unwrap_or(url)
        ),
        _ => url.to_string(),
    }
}

/// Download `url` into `dir` with `client` (its files cache serves later runs), refusing
/// bytes whose sha256 is not `sha256`: the error then names the file and both digests.
///
/// # Errors
/// [`PackError::Download`] naming `url`, with the index client's error as its source.
pub fn fetch_source(
    client: &refinery_index::IndexClient,
    url: &str,
    sha256: &str,
    dir: &Path,
) -> Result<PathBuf, PackError> {
    let file = refinery_index::DistFile::pinned(url, sha256);
    client
        .download(&file, dir)
        .map_err(|source| PackError::Download {
            url: url.to_string(),
            source,
        })
}

/// A finished pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub name: String,
    pub key: String,
}

impl Pack {
    /// The pack's prefix as build steps see it.
    pub fn guest_prefix(&self) -> String {
        format!("{GUEST_PACKS_DIR}/{}", self.key)
    }
}

/// The `bin` folders of `packs` as build steps see them (`pg_config`, `xml2-config`),
/// for [`crate::runner::RunSpec::path_prepend`].
pub fn bin_dirs(packs: &[Pack]) -> Vec<String> {
    packs
        .iter()
        .map(|p| format!("{}/bin", p.guest_prefix()))
        .collect()
}

/// Variables that make build systems find `packs` first: headers (`CPATH`), libraries
/// (`LIBRARY_PATH` and `-L` in `LDFLAGS`, appended to `ldflags` when the build sets it),
/// `pkg-config` files (`PKG_CONFIG_PATH`) and CMake package configurations
/// (`CMAKE_PREFIX_PATH`, whose environment form is `:`-separated, as `find_package`
/// reads it; e.g. pyarrow's `find_package(Arrow)`).
pub fn build_env(packs: &[Pack], ldflags: Option<&str>) -> Vec<(String, String)> {
    if packs.is_empty() {
        return Vec::new();
    }
    let join = |sub: &str| {
        packs
            .iter()
            .map(|p| format!("{}/{sub}", p.guest_prefix()))
            .collect::<Vec<_>>()
    };
    let link: Vec<String> = join("lib").iter().map(|l| format!("-L{l}")).collect();
    let ldflags = ldflags
        .into_iter()
        .map(str::to_string)
        .chain(link)
        .collect::<Vec<_>>()
        .join(" ");
    let mut env = vec![
        ("CPATH".into(), join("include").join(":")),
        ("LIBRARY_PATH".into(), join("lib").join(":")),
        ("LDFLAGS".into(), ldflags),
        ("PKG_CONFIG_PATH".into(), join("lib/pkgconfig").join(":")),
        (
            "CMAKE_PREFIX_PATH".into(),
            packs
                .iter()
                .map(Pack::guest_prefix)
                .collect::<Vec<_>>()
                .join(":"),
        ),
    ];
    for pack in packs {
        let link_env = recipe(&pack.name).map_or(&[][..], |r| r.link_env);
        env.extend(
            link_env
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.replace("$PREFIX", &pack.guest_prefix()))),
        );
    }
    env
}

#[cfg(test)]
mod tests;
