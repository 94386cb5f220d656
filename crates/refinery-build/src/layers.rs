//! Layers: a base environment plus a set of system packages, made once and reused.
//!
//! A base rootfs is never written after it is made. When a build needs system packages
//! (from a hint, an override or a learned fix), it gets a *layer*: a hard-linked copy of
//! the base (`cp -al`, so it costs only the new files) with the mutable state copied for
//! real (`/etc`, `/var`, …, which dpkg and apt rewrite in place), into which the packages
//! are installed. A layer is keyed by (base, sorted package set), made under an exclusive
//! file lock in a staging folder and renamed into place only when complete, so two runs
//! never write the same layer, and an interrupted or failed creation (a full disk, an
//! unknown package) leaves nothing that a later run trusts.
//!
//! Layout: `<envs>/v1/layers/<base>/<layer>/` with `refinery-layer.json` written last;
//! `<envs>/v1/layers/.locks/<layer>.lock`; last use in `<envs>/v1/.last-used/<name>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exec::{run_logged, Log, Outcome, DEFAULT_LOG_CAP};
use crate::Reporter;

/// The marker that says a layer is complete.
pub const LAYER_FILE: &str = "refinery-layer.json";

/// Top-level folders that package managers rewrite in place: copied for real into a
/// layer, never hard-linked, so writing them cannot reach the base.
const MUTABLE_DIRS: &[&str] = &["etc", "var", "root", "run", "tmp"];

/// Why a layer could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("the package {package:?} does not exist in Debian {suite} for s390x; check its name (e.g. `apt-cache search` on a {suite} system) or remove it from the hint or override")]
    UnknownPackage { package: String, suite: String },
    #[error("{0:?} is not a Debian package name")]
    BadName(String),
    #[error("installing {packages} into a new layer failed: {reason}; see {log}")]
    Install {
        packages: String,
        reason: String,
        log: PathBuf,
    },
    #[error("cannot prepare the layer folder {path}: {source}; check free space in the environments folder")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the layer creation was cancelled")]
    Stopped,
}

/// What a layer was made from (its `refinery-layer.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecipe {
    /// The base environment's folder name.
    pub base: String,
    /// The Debian suite of the base (for error messages and `env list`).
    pub suite: String,
    /// Installed packages, sorted and without duplicates.
    pub packages: Vec<String>,
}

impl LayerRecipe {
    /// The recipe for `packages` over `base`, with the package set made canonical.
    pub fn new(base: &str, suite: &str, packages: &[String]) -> LayerRecipe {
        let mut packages = packages.to_vec();
        packages.sort();
        packages.dedup();
        LayerRecipe {
            base: base.to_string(),
            suite: suite.to_string(),
            packages,
        }
    }

    /// `layer-<12 hex digits>` of sha256(base, packages).
    pub fn key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.base.as_bytes());
        for package in &self.packages {
            hasher.update(b"\n");
            hasher.update(package.as_bytes());
        }
        format!("layer-{}", &hex::encode(hasher.finalize())[..12])
    }
}

/// A layer ready to be used as a root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub root: PathBuf,
    pub recipe: LayerRecipe,
    /// True when this call made it; false when it was reused.
    pub created: bool,
}

impl Layer {
    /// How attempts, manifests and `env list` name what a build ran in: `base+layer`.
    pub fn environment_name(&self) -> String {
        format!("{}+{}", self.recipe.base, self.name)
    }
}

/// A layer on disk, for `env list`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub name: String,
    pub path: PathBuf,
    pub recipe: LayerRecipe,
    /// Bytes of the files only the layer has (hard links shared with the base not counted).
    pub own_bytes: u64,
    pub last_used: Option<SystemTime>,
}

/// Makes the command that installs `packages` into the root filesystem at the given path.
pub type Installer<'a> = dyn Fn(&Path, &[String]) -> Command + 'a;

/// The layers of every base in one environments folder.
#[derive(Debug, Clone)]
pub struct LayerStore {
    /// `<envs>/v1`.
    envs: PathBuf,
}

impl LayerStore {
    /// The layers beside the bases in `envs_layout_dir` (`<envs>/v1`).
    pub fn new(envs_layout_dir: impl Into<PathBuf>) -> LayerStore {
        LayerStore {
            envs: envs_layout_dir.into(),
        }
    }

    fn layers_dir(&self) -> PathBuf {
        self.envs.join("layers")
    }

    fn lock_path(&self, key: &str) -> PathBuf {
        self.layers_dir().join(".locks").join(format!("{key}.lock"))
    }

    /// Where the layer of `recipe` lives.
    pub fn path_for(&self, recipe: &LayerRecipe) -> PathBuf {
        self.layers_dir().join(&recipe.base).join(recipe.key())
    }

    /// The layer of `recipe` over the base at `base_root`: reused when it exists, else made
    /// with `installer` under an exclusive lock (a second caller waits, then reuses it).
    /// The installer's output goes to `log_path`.
    pub fn ensure(
        &self,
        base_root: &Path,
        recipe: &LayerRecipe,
        installer: &Installer<'_>,
        log_path: &Path,
        stop: Option<&std::sync::atomic::AtomicBool>,
        reporter: &dyn Reporter,
    ) -> Result<Layer, LayerError> {
        if let Some(bad) = recipe.packages.iter().find(|p| !is_package_name(p)) {
            return Err(LayerError::BadName(bad.clone()));
        }
        let key = recipe.key();
        let path = self.path_for(recipe);
        let layer = |created| Layer {
            name: key.clone(),
            root: path.clone(),
            recipe: recipe.clone(),
            created,
        };
        if path.join(LAYER_FILE).is_file() {
            self.touch(&key);
            return Ok(layer(false));
        }
        let lock_path = self.lock_path(&key);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LayerError::Io { path, source }
        };
        let _lock = lock_exclusive(&lock_path).map_err(io(&lock_path))?;
        // Another run may have finished it while we waited.
        if path.join(LAYER_FILE).is_file() {
            self.touch(&key);
            return Ok(layer(false));
        }
        let parent = path.parent().expect("layer parent");
        create_dir(parent).map_err(io(parent))?;
        remove_partials(parent, &key);
        let staging = parent.join(format!(".{key}.partial-{}", std::process::id()));
        reporter.message(&format!(
            "making the environment layer {key} ({} over {})",
            recipe.packages.join(" "),
            recipe.base
        ));
        let made =
            make_layer(base_root, &staging, recipe, installer, log_path, stop).and_then(|()| {
                let json = serde_json::to_vec_pretty(recipe).expect("recipes serialize");
                std::fs::write(staging.join(LAYER_FILE), json).map_err(io(&staging))?;
                std::fs::rename(&staging, &path).map_err(io(&path))
            });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        self.touch(&key);
        Ok(layer(true))
    }

    /// Every complete layer.
    pub fn list(&self) -> Vec<LayerInfo> {
        let mut out = Vec::new();
        let Ok(bases) = std::fs::read_dir(self.layers_dir()) else {
            return out;
        };
        for base in bases.filter_map(Result::ok) {
            let Ok(layers) = std::fs::read_dir(base.path()) else {
                continue;
            };
            for entry in layers.filter_map(Result::ok) {
                let path = entry.path();
                let Some(recipe) = std::fs::read(path.join(LAYER_FILE))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<LayerRecipe>(&b).ok())
                else {
                    continue;
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                out.push(LayerInfo {
                    last_used: self.last_used(&name),
                    own_bytes: own_bytes(&path),
                    name,
                    path,
                    recipe,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Remove the layers named `name`, or every layer of the base `name`.
    pub fn remove(&self, name: &str) -> Result<Vec<String>, LayerError> {
        let mut removed = Vec::new();
        for info in self
            .list()
            .into_iter()
            .filter(|l| l.name == name || l.recipe.base == name)
        {
            remove_dir(&info.path)?;
            removed.push(info.name);
        }
        Ok(removed)
    }

    /// Remove layers not used for `unused_for`, and leftovers of interrupted creations
    /// whose lock nobody holds. Returns what was removed.
    pub fn prune(&self, unused_for: Duration) -> Result<Vec<String>, LayerError> {
        let mut removed = Vec::new();
        let now = SystemTime::now();
        for info in self.list() {
            let idle = info
                .last_used
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or(Duration::MAX);
            if idle >= unused_for {
                remove_dir(&info.path)?;
                removed.push(info.name);
            }
        }
        let Ok(bases) = std::fs::read_dir(self.layers_dir()) else {
            return Ok(removed);
        };
        for base in bases.filter_map(Result::ok) {
            for entry in std::fs::read_dir(base.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some((key, _)) = file
                    .strip_prefix('.')
                    .and_then(|f| f.split_once(".partial-"))
                else {
                    continue;
                };
                let free = std::fs::File::create(self.lock_path(key))
                    .is_ok_and(|lock| lock.try_lock().is_ok());
                if free {
                    remove_dir(&entry.path())?;
                    removed.push(file);
                }
            }
        }
        Ok(removed)
    }

    fn stamp(&self, name: &str) -> PathBuf {
        self.envs.join(".last-used").join(name)
    }

    /// Record that `name` (a base or a layer) was used now.
    pub fn touch(&self, name: &str) {
        let stamp = self.stamp(name);
        if let Some(parent) = stamp.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // Writing nothing to an empty file would not move its mtime: set it.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&stamp)
            .and_then(|f| f.set_modified(SystemTime::now()));
    }

    /// When `name` (a base or a layer) was last used.
    pub fn last_used(&self, name: &str) -> Option<SystemTime> {
        std::fs::metadata(self.stamp(name)).ok()?.modified().ok()
    }
}

/// Copy the base into `staging` (hard links, mutable folders copied), then install.
fn make_layer(
    base_root: &Path,
    staging: &Path,
    recipe: &LayerRecipe,
    installer: &Installer<'_>,
    log_path: &Path,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(), LayerError> {
    let log = Log::create(log_path, DEFAULT_LOG_CAP).map_err(|source| LayerError::Io {
        path: log_path.to_path_buf(),
        source,
    })?;
    let install_failed = |reason: String| LayerError::Install {
        packages: recipe.packages.join(" "),
        reason,
        log: log_path.to_path_buf(),
    };
    log.line(&format!(
        "[refinery] layer {}: {} over {}",
        recipe.key(),
        recipe.packages.join(" "),
        recipe.base
    ));
    let mut copy = Command::new("cp");
    copy.arg("-al").arg(base_root).arg(staging);
    run_step(copy, &log, stop, "hard-linking the base")
        .map_err(|r| r.into_error(&install_failed))?;
    for dir in MUTABLE_DIRS {
        let linked = staging.join(dir);
        if !linked.exists() {
            continue;
        }
        remove_dir(&linked)?;
        let mut copy = Command::new("cp");
        copy.arg("-a").arg(base_root.join(dir)).arg(&linked);
        run_step(copy, &log, stop, "copying the mutable folders")
            .map_err(|r| r.into_error(&install_failed))?;
    }
    log.line(&format!("[refinery] install {}", recipe.packages.join(" ")));
    match run_step(
        installer(staging, &recipe.packages),
        &log,
        stop,
        "the package manager",
    ) {
        Ok(()) => Ok(()),
        Err(StepFailure::Stopped) => Err(LayerError::Stopped),
        Err(StepFailure::Failed(reason)) => {
            let text = log.read_all();
            match unknown_package(&text) {
                Some(package) => Err(LayerError::UnknownPackage {
                    package,
                    suite: recipe.suite.clone(),
                }),
                None => Err(install_failed(reason)),
            }
        }
    }
}

enum StepFailure {
    Failed(String),
    Stopped,
}

impl StepFailure {
    fn into_error(self, failed: &dyn Fn(String) -> LayerError) -> LayerError {
        match self {
            StepFailure::Failed(reason) => failed(reason),
            StepFailure::Stopped => LayerError::Stopped,
        }
    }
}

fn run_step(
    cmd: Command,
    log: &Log,
    stop: Option<&std::sync::atomic::AtomicBool>,
    what: &str,
) -> Result<(), StepFailure> {
    match run_logged(cmd, log, None, stop) {
        Ok(Outcome::Success) => Ok(()),
        Ok(Outcome::Stopped) => Err(StepFailure::Stopped),
        Ok(Outcome::Failed(reason)) => Err(StepFailure::Failed(format!(
            "{what} failed ({reason}): {}",
            log.tail().last().cloned().unwrap_or_default()
        ))),
        Ok(Outcome::TimedOut(_)) => Err(StepFailure::Failed(format!("{what} timed out"))),
        Err(e) => Err(StepFailure::Failed(format!("cannot run {what}: {e}"))),
    }
}

/// apt's "E: Unable to locate package NAME" (or "has no installation candidate").
fn unknown_package(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let line = line.trim();
        line.strip_prefix("E: Unable to locate package ")
            .map(|p| p.trim().to_string())
            .or_else(|| {
                line.strip_prefix("E: Package '")
                    .and_then(|rest| rest.split_once("' has no installation candidate"))
                    .map(|(p, _)| p.to_string())
            })
    })
}

/// Debian/RPM package names: no options, no shell.
pub fn is_package_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:".contains(c))
}

/// Wait for, and take, the exclusive lock of the file at `path` (made with its folder
/// when missing); it is held until the returned file is dropped. Layers, Rust toolchains
/// and packs are each made once under such a lock.
pub(crate) fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(path)?;
    file.lock()?;
    Ok(file)
}

/// Remove leftovers of interrupted creations of `key` (`.<key>.partial-*` in `parent`;
/// the caller holds its lock). Environments are made the same way.
pub(crate) fn remove_partials(parent: &Path, key: &str) {
    let prefix = format!(".{key}.partial-");
    for entry in std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn create_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

fn remove_dir(path: &Path) -> Result<(), LayerError> {
    std::fs::remove_dir_all(path).map_err(|source| LayerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Bytes of regular files under `path` that have no other hard link (the layer's own).
fn own_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.nlink() == 1)
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests;
