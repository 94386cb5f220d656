//! Native library packs: C libraries that extensions link (libffi, zlib, …) built from
//! pinned Debian source tarballs with the glibc-targeted compiler (see [`crate::zig`]) into
//! a prefix, static and position independent. An extension built for `manylinux2014`
//! then links the library in, instead of linking the environment's shared library, whose
//! own glibc symbols are newer than the target allows (auditwheel would graft it and
//! refuse the tag).
//!
//! Packs live in `<envs>/packs/<name>-<version>-glibc<X.Y>-<hash>/`, made once per target
//! glibc, and the whole folder is bound read-only at [`GUEST_PACKS_DIR`] into build steps.
//! A pack is made in the build environment itself: its configure script runs under
//! emulation and the compiler natively, `make install DESTDIR=…` stages it, and the
//! prefix recorded in its `.pc` files is the path builds see.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::runner::{Mount, RunSpec, Runner};
use crate::Reporter;

/// Where the packs folder appears inside build steps.
pub const GUEST_PACKS_DIR: &str = "/opt/refinery-packs";
/// Written into a finished pack; a folder without it is not used.
const MARKER_FILE: &str = "refinery-pack.json";
/// Where a pack's build folder appears (one of the build mount points).
const GUEST_WORK: &str = "/build";

/// How to make one pack: a pinned source tarball and the shell commands that build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackRecipe {
    pub name: &'static str,
    pub version: &'static str,
    /// The Debian `.orig` tarball (the upstream release as Debian ships it).
    pub url: &'static str,
    /// Its sha256, from the Debian `.dsc`.
    pub sha256: &'static str,
    /// The folder the tarball unpacks to.
    pub folder: &'static str,
    /// Commands run in that folder with `$PREFIX` (the prefix builds see), `$DESTDIR`
    /// (where to install) and `$JOBS` set; `s390x-linux-gnu-gcc` is the glibc-targeted
    /// compiler.
    pub build: &'static str,
}

/// The packs this refinery can make.
const RECIPES: &[PackRecipe] = &[
    PackRecipe {
        name: "libffi",
        version: "3.4.4",
        url: "https://deb.debian.org/debian/pool/main/libf/libffi/libffi_3.4.4.orig.tar.gz",
        sha256: "d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676",
        folder: "libffi-3.4.4",
        // configure's visibility probe greps GCC's assembly output and misses clang's, so
        // the internal symbols would stay global: a static libffi then cannot be linked
        // into an extension (R_390_PC32DBL against ffi_closure_helper_SYSV).
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --disable-docs --disable-multi-os-directory libffi_cv_hidden_visibility_attribute=yes\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
];

/// The recipe of the pack `name`.
pub fn recipe(name: &str) -> Option<&'static PackRecipe> {
    RECIPES.iter().find(|r| r.name == name)
}

/// The names of every pack.
pub fn names() -> Vec<&'static str> {
    RECIPES.iter().map(|r| r.name).collect()
}

impl PackRecipe {
    /// Folder name for a target glibc: readable prefix and a hash of the recipe.
    pub fn key(&self, glibc: (u16, u16)) -> String {
        let json = serde_json::to_vec(&(self, glibc)).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        format!(
            "{}-{}-glibc{}.{}-{digest}",
            self.name, self.version, glibc.0, glibc.1
        )
    }

    fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
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

/// Variables that make build systems find `packs` first: headers (`CPATH`), libraries
/// (`LIBRARY_PATH` and `-L` in `LDFLAGS`, appended to `ldflags` when the build sets it)
/// and `pkg-config` files (`PKG_CONFIG_PATH`).
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
    vec![
        ("CPATH".into(), join("include").join(":")),
        ("LIBRARY_PATH".into(), join("lib").join(":")),
        ("LDFLAGS".into(), ldflags),
        ("PKG_CONFIG_PATH".into(), join("lib/pkgconfig").join(":")),
    ]
}

/// The packs folder of an environments folder.
#[derive(Debug, Clone)]
pub struct PackStore {
    dir: PathBuf,
}

impl PackStore {
    /// `<envs>/packs`.
    pub fn new(envs_dir: &Path) -> PackStore {
        PackStore {
            dir: envs_dir.join("packs"),
        }
    }

    /// The folder bound at [`GUEST_PACKS_DIR`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pack `recipe` for `glibc`, made first with `runner` (which must compile with
    /// the glibc-targeted compiler) when it does not exist; the source comes through
    /// `download` (url, sha256, folder) → file. The build's output goes to `log_path`.
    pub fn ensure(
        &self,
        recipe: &PackRecipe,
        glibc: (u16, u16),
        runner: &dyn Runner,
        download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, String>,
        log_path: &Path,
        reporter: &dyn Reporter,
    ) -> Result<Pack, String> {
        let key = recipe.key(glibc);
        let pack = Pack {
            name: recipe.name.to_string(),
            key: key.clone(),
        };
        let path = self.dir.join(&key);
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        let lock_path = self.dir.join(".locks").join(format!("{key}.lock"));
        let _lock = crate::layers::lock_exclusive(&lock_path)
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        reporter.message(&format!(
            "making the native library pack {key} ({} {} for glibc {}.{}, static)",
            recipe.name, recipe.version, glibc.0, glibc.1
        ));
        let work = self.dir.join(format!(".{key}.work-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let made = make_pack(recipe, &pack, runner, download, &work, log_path).and_then(|()| {
            let staged = work
                .join("out")
                .join(pack.guest_prefix().trim_start_matches('/'));
            let json = serde_json::to_vec_pretty(&(recipe, glibc)).expect("recipes serialize");
            std::fs::write(staged.join(MARKER_FILE), json)
                .map_err(|e| format!("cannot write into {}: {e}", staged.display()))?;
            std::fs::rename(&staged, &path)
                .map_err(|e| format!("cannot move the pack to {}: {e}", path.display()))
        });
        let _ = std::fs::remove_dir_all(&work);
        made.map(|()| pack)
    }
}

/// Fetch the source into `work` and build it in the environment.
fn make_pack(
    recipe: &PackRecipe,
    pack: &Pack,
    runner: &dyn Runner,
    download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, String>,
    work: &Path,
    log_path: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(work.join("out"))
        .map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let tarball = download(recipe.url, recipe.sha256, work)?;
    let script = format!(
        "set -e\ncd {GUEST_WORK}\ntar xf {tarball}\ncd {folder}\n{build}\n",
        tarball = tarball
            .file_name()
            .map_or_else(|| recipe.file_name().into(), |n| n.to_string_lossy()),
        folder = recipe.folder,
        build = recipe.build,
    );
    let spec = RunSpec {
        argv: vec!["sh".into(), "-c".into(), script],
        env: vec![
            ("PREFIX".into(), pack.guest_prefix()),
            ("DESTDIR".into(), format!("{GUEST_WORK}/out")),
            (
                "JOBS".into(),
                std::thread::available_parallelism()
                    .map_or(1, std::num::NonZero::get)
                    .to_string(),
            ),
            ("HOME".into(), format!("{GUEST_WORK}/out")),
        ],
        mounts: vec![Mount::rw(work, GUEST_WORK)],
        workdir: GUEST_WORK.into(),
        network: false,
        accelerate: true,
        zig: true,
        rust: None,
    };
    let log = crate::exec::Log::create(log_path, crate::exec::DEFAULT_LOG_CAP)
        .map_err(|e| format!("cannot create the log {}: {e}", log_path.display()))?;
    match crate::exec::run_logged(runner.command(&spec), &log, None, None) {
        Ok(crate::exec::Outcome::Success) => Ok(()),
        Ok(other) => Err(format!(
            "building the pack {} {} failed ({other:?}); see {}",
            recipe.name,
            recipe.version,
            log_path.display()
        )),
        Err(e) => Err(format!("cannot start the pack build: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_is_pinned_and_named_by_its_catalog_entry() {
        for recipe in RECIPES {
            assert_eq!(recipe.sha256.len(), 64, "{}", recipe.name);
            assert!(recipe
                .url
                .starts_with("https://deb.debian.org/debian/pool/"));
            assert!(
                recipe.file_name().contains(recipe.version),
                "{}",
                recipe.name
            );
            assert!(recipe.build.contains("$DESTDIR"), "{}", recipe.name);
        }
        // Hints name packs that exist (the catalog check refuses unknown ones).
        let catalog = crate::hints::Catalog::builtin();
        assert!(catalog.hints().any(|h| h.pack.as_deref() == Some("libffi")));
    }

    #[test]
    fn keys_differ_per_glibc_and_builds_find_headers_libraries_and_pkg_config() {
        let libffi = recipe("libffi").unwrap();
        assert_ne!(libffi.key((2, 17)), libffi.key((2, 28)));
        assert!(libffi.key((2, 17)).starts_with("libffi-3.4.4-glibc2.17-"));
        let packs = [
            Pack {
                name: "libffi".into(),
                key: "libffi-k".into(),
            },
            Pack {
                name: "zlib".into(),
                key: "zlib-k".into(),
            },
        ];
        let env: std::collections::HashMap<String, String> =
            build_env(&packs, Some("-O1")).into_iter().collect();
        assert_eq!(
            env["CPATH"],
            "/opt/refinery-packs/libffi-k/include:/opt/refinery-packs/zlib-k/include"
        );
        assert_eq!(
            env["LDFLAGS"],
            "-O1 -L/opt/refinery-packs/libffi-k/lib -L/opt/refinery-packs/zlib-k/lib"
        );
        assert_eq!(
            env["PKG_CONFIG_PATH"],
            "/opt/refinery-packs/libffi-k/lib/pkgconfig:/opt/refinery-packs/zlib-k/lib/pkgconfig"
        );
        assert!(build_env(&[], None).is_empty());
    }
}
