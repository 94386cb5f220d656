//! The pack store: finished packs by key, their archives, a mirror asked first, and building on
//! demand.

use std::path::{Path, PathBuf};

use crate::runner::Runner;
use crate::Reporter;

use super::job::{has_installed, static_pkg_config_files, PackJob};
use super::{
    archive, MirrorError, Pack, PackError, PackRecipe, PackTarget, MARKER_FILE, ZIG_BASELINE_CPU,
};

/// Another store that may hold finished packs (a remote worker's control plane, see
/// `GET /api/packs/{key}`), asked before a pack is built.
pub trait PackMirror: Send + Sync {
    /// Downloads the archive of the pack `key` (see [`archive`]) into the folder `dir`.
    /// `Ok(None)`: the mirror does not have it.
    ///
    /// # Errors
    /// [`MirrorError`]: the mirror could not be asked or the download failed (the pack is
    /// then built here).
    fn fetch(&self, key: &str, dir: &Path) -> Result<Option<MirroredPack>, MirrorError>;
}

/// A pack archive a [`PackMirror`] downloaded, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredPack {
    /// The downloaded `.tar.gz`.
    pub archive: PathBuf,
    /// The sha256 (hex) the mirror says it has.
    pub sha256: String,
    /// Where it came from, without credentials (for messages).
    pub url: String,
}

/// The packs folder of an environments folder.
#[derive(Clone)]
pub struct PackStore {
    dir: PathBuf,
    mirror: Option<std::sync::Arc<dyn PackMirror>>,
    /// The run's compile budget for pack builds' `$JOBS` (`None`: every core).
    budget: Option<crate::compile_jobs::CompileBudget>,
    /// Set to stop a pack build at once (the run's or job's stop flag).
    stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl std::fmt::Debug for PackStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackStore")
            .field("dir", &self.dir)
            .field("mirror", &self.mirror.is_some())
            .field("budget", &self.budget)
            .field("stop", &self.stop.is_some())
            .finish()
    }
}

impl PackStore {
    /// `<envs>/packs`.
    pub fn new(envs_dir: &Path) -> PackStore {
        PackStore::at(envs_dir.join("packs"))
    }

    /// The packs folder `dir` itself (a control plane's, which serves it).
    pub fn at(dir: PathBuf) -> PackStore {
        PackStore {
            dir,
            mirror: None,
            budget: None,
            stop: None,
        }
    }

    /// This store, building packs with `budget.jobs` compilers at once (`$JOBS` of the
    /// recipes) instead of one per core.
    pub fn with_budget(mut self, budget: crate::compile_jobs::CompileBudget) -> PackStore {
        self.budget = Some(budget);
        self
    }

    /// This store, stopping a pack build when `stop` is set (a build's own stop flag);
    /// the build then fails with [`PackError::Stopped`] and leaves no pack.
    pub fn with_stop(
        mut self,
        stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> PackStore {
        self.stop = stop;
        self
    }

    /// This store, asking `mirror` for a missing pack before building it.
    pub fn with_mirror(mut self, mirror: std::sync::Arc<dyn PackMirror>) -> PackStore {
        self.mirror = Some(mirror);
        self
    }

    /// The finished pack `key` of this store (its folder holds the marker file), or
    /// `None`. `key` must be a pack key (see [`is_pack_key`]).
    pub fn finished(&self, key: &str) -> Option<PathBuf> {
        let path = self.dir.join(key);
        (is_pack_key(key) && path.join(MARKER_FILE).is_file()).then_some(path)
    }

    /// The archive of the finished pack `key` (see [`archive::write`]) and its sha256,
    /// made once into `<packs>/.archives/<key>.tar.gz` (with `<key>.sha256` beside it) and
    /// made again when the pack's marker is newer. `Ok(None)`: no such finished pack.
    ///
    /// # Errors
    /// [`PackError::Io`] or [`PackError::Archive`] naming the file.
    pub fn archive(&self, key: &str) -> Result<Option<(PathBuf, String)>, PackError> {
        let Some(pack) = self.finished(key) else {
            return Ok(None);
        };
        let dir = self.dir.join(".archives");
        let file = dir.join(format!("{key}.tar.gz"));
        let sha_file = dir.join(format!("{key}.sha256"));
        let lock_path = self.dir.join(".locks").join(format!("{key}.archive.lock"));
        let _lock =
            crate::layers::lock_exclusive(&lock_path).map_err(PackError::io("lock", &lock_path))?;
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let current = match (modified(&file), modified(&pack.join(MARKER_FILE))) {
            (Some(made), Some(marker)) => made >= marker,
            _ => false,
        };
        if current {
            if let Ok(sha) = std::fs::read_to_string(&sha_file) {
                return Ok(Some((file, sha.trim().to_string())));
            }
        }
        std::fs::create_dir_all(&dir).map_err(PackError::io("create", &dir))?;
        let partial = dir.join(format!(".{key}.tar.gz.{}", std::process::id()));
        let out = std::fs::File::create(&partial).map_err(PackError::io("create", &partial))?;
        let written = archive::write(&pack, std::io::BufWriter::new(out))
            .map_err(PackError::from)
            .and_then(|sha| {
                std::fs::write(&sha_file, format!("{sha}\n"))
                    .and_then(|()| std::fs::rename(&partial, &file))
                    .map_err(PackError::io("store the archive", &file))
                    .map(|()| sha)
            });
        let _ = std::fs::remove_file(&partial);
        written.map(|sha| Some((file, sha)))
    }

    /// The folder bound at [`GUEST_PACKS_DIR`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pack `recipe` for `target`, made first with `runner` (which must compile with
    /// the glibc-targeted compiler) when it does not exist; `dependencies` are the finished
    /// packs it links (see [`with_dependencies`]). The source comes through `download`
    /// (url, sha256, folder) → file. The build's output goes to `log_path`, which a
    /// failure names; a failed build leaves nothing in the store.
    #[allow(clippy::too_many_arguments)]
    pub fn ensure(
        &self,
        recipe: &PackRecipe,
        target: &PackTarget,
        dependencies: &[Pack],
        runner: &dyn Runner,
        download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, PackError>,
        log_path: &Path,
        reporter: &dyn Reporter,
    ) -> Result<Pack, PackError> {
        let key = recipe.key(target);
        let pack = Pack {
            name: recipe.name.to_string(),
            key: key.clone(),
        };
        let path = self.dir.join(&key);
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        let lock_path = self.dir.join(".locks").join(format!("{key}.lock"));
        let _lock =
            crate::layers::lock_exclusive(&lock_path).map_err(PackError::io("lock", &lock_path))?;
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        reporter.message(&format!(
            "making the native library pack {key} ({} {} for glibc {}.{} with {}, {})",
            recipe.name,
            recipe.version,
            target.glibc.0,
            target.glibc.1,
            target.toolchain,
            if recipe.header_only {
                "headers only"
            } else {
                "static"
            }
        ));
        // Work folders of this key that a killed run left (any process id): the lock
        // says nobody builds this key now. A cold OpenBLAS leaves gigabytes.
        let stale = format!(".{key}.work-");
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let work = self.dir.join(format!("{stale}{}", std::process::id()));
        if let Some(mirror) = &self.mirror {
            let mirrored = self.take_from_mirror(&**mirror, recipe, target, &work, reporter);
            let _ = std::fs::remove_dir_all(&work);
            if mirrored? {
                return Ok(pack);
            }
        }
        let job = PackJob {
            recipe,
            pack: &pack,
            dependencies,
            packs_dir: &self.dir,
            work: &work,
            log_path,
            budget: self.budget,
            stop: self.stop.as_deref(),
        };
        let made = job.make(runner, download).and_then(|()| {
            let staged = work
                .join("out")
                .join(pack.guest_prefix().trim_start_matches('/'));
            has_installed(recipe, &staged)?;
            static_pkg_config_files(&staged.join("lib").join("pkgconfig"))?;
            let json = serde_json::to_vec_pretty(&serde_json::json!({
                "recipe": recipe,
                "target": target,
                "cpu": if recipe.cpu.is_empty() { ZIG_BASELINE_CPU } else { recipe.cpu },
            }))
            .expect("recipes serialize");
            std::fs::write(staged.join(MARKER_FILE), json)
                .map_err(PackError::io("write into", &staged))?;
            // A stale folder without the marker (an older, interrupted move) is replaced.
            let _ = std::fs::remove_dir_all(&path);
            std::fs::rename(&staged, &path).map_err(PackError::io("move the pack to", &path))
        });
        let _ = std::fs::remove_dir_all(&work);
        made.map(|()| pack)
    }
}

impl PackStore {
    /// Asks `mirror` for the pack of `recipe` and `target` (the caller holds its lock):
    /// `Ok(true)` when it is now in the store, `Ok(false)` when the mirror does not have
    /// it or cannot be asked (said through `reporter`; the pack is then built). A download
    /// whose sha256 is not the one the mirror announced, an archive with paths leading
    /// out of its folder, or a pack whose `refinery-pack.json` is not this recipe's and
    /// target's is refused (`Err` naming the pack and the URL); nothing of it stays.
    fn take_from_mirror(
        &self,
        mirror: &dyn PackMirror,
        recipe: &PackRecipe,
        target: &PackTarget,
        work: &Path,
        reporter: &dyn Reporter,
    ) -> Result<bool, PackError> {
        let key = recipe.key(target);
        std::fs::create_dir_all(work).map_err(PackError::io("create", work))?;
        let mirrored = match mirror.fetch(&key, work) {
            Ok(Some(mirrored)) => mirrored,
            Ok(None) => return Ok(false),
            Err(e) => {
                reporter.message(&format!(
                    "the pack {key} could not be fetched from the control plane ({e}); it is built here"
                ));
                return Ok(false);
            }
        };
        let refuse = |reason: PackError| PackError::Refused {
            key: key.clone(),
            url: mirrored.url.clone(),
            reason: Box::new(reason),
        };
        let sha256 = refinery_store::sha256_file(&mirrored.archive)
            .map_err(PackError::io("read", &mirrored.archive))?;
        if !sha256.eq_ignore_ascii_case(&mirrored.sha256) {
            return Err(refuse(PackError::ShaMismatch {
                expected: mirrored.sha256.clone(),
                actual: sha256,
            }));
        }
        let partial = self.dir.join(format!(".{key}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        let checked = archive::unpack(&mirrored.archive, &partial)
            .map_err(PackError::from)
            .and_then(|()| check_marker(&partial, recipe, target))
            .and_then(|()| has_installed(recipe, &partial))
            .map_err(refuse)
            .and_then(|()| {
                let path = self.dir.join(&key);
                let _ = std::fs::remove_dir_all(&path);
                std::fs::rename(&partial, &path).map_err(PackError::io("move the pack to", &path))
            });
        let _ = std::fs::remove_dir_all(&partial);
        checked?;
        reporter.message(&format!(
            "the native library pack {key} came from {} (sha256 {sha256})",
            mirrored.url
        ));
        Ok(true)
    }
}

/// Whether `key` has the shape of a pack key (`<name>-<version>-glibc<X.Y>-<hash>`:
/// letters, digits, `.`, `+`, `_` and `-`, not starting with `.`), so it names a folder
/// of the store and nothing else.
pub fn is_pack_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && !key.starts_with('.')
        && key.contains("-glibc")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '-'))
}

/// Fails unless the unpacked pack at `dir` has a `refinery-pack.json` that records
/// `recipe` and `target` (a mirror's folder under the right key with another content is
/// not taken).
fn check_marker(dir: &Path, recipe: &PackRecipe, target: &PackTarget) -> Result<(), PackError> {
    let path = dir.join(MARKER_FILE);
    let problem = |problem: String| PackError::Marker { problem };
    let text = std::fs::read(&path).map_err(|_| problem(format!("it has no {MARKER_FILE}")))?;
    let marker: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| problem(format!("its {MARKER_FILE} is not JSON: {e}")))?;
    let expected_recipe = serde_json::to_value(recipe).expect("recipes serialize");
    let expected_target = serde_json::to_value(target).expect("targets serialize");
    if marker["recipe"] != expected_recipe || marker["target"] != expected_target {
        return Err(problem(format!(
            "its {MARKER_FILE} records another recipe or target ({} {} for {})",
            marker["recipe"]["name"], marker["recipe"]["version"], marker["target"]
        )));
    }
    Ok(())
}
