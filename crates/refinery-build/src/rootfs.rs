//! s390x root filesystems made from Debian's packages with mmdebstrap, one per recipe,
//! kept under the environments folder and reused across runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Reporter;

/// Bump when the layout of an environment folder changes.
pub(crate) const ENV_LAYOUT: &str = "v1";
const RECIPE_FILE: &str = "refinery-env.json";

/// Debian packages every build environment has: the interpreter, its headers, and a
/// C/C++ toolchain for extensions.
const BASE_PACKAGES: &[&str] = &[
    "python3",
    "python3-dev",
    "python3-venv",
    "python3-pip",
    "gcc",
    "g++",
    "make",
    "pkg-config",
    "ca-certificates",
    "libc6-dev",
];

/// What an environment is made from; its hash names the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsRecipe {
    pub python: String,
    pub suite: String,
    pub arch: String,
    pub packages: Vec<String>,
    /// A CPython built from source into `/usr/local` (as `python<X.Y>`) when the suite's
    /// own `python3` is another version. Absent from the JSON (and so from the key) when
    /// unset, so the folders of the other recipes keep their names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_python: Option<crate::cpython::SourcePython>,
}

/// Why a rootfs environment could not be chosen, made or removed; each names the Python,
/// the environment or the path, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error(
        "no Debian release ships CPython {python} for a rootfs environment; rootfs environments exist for 3.9 (built from bullseye's source package), 3.11 (bookworm), 3.13 (trixie) and 3.14 (forky).\nhint: use --python 3.9, 3.11, 3.13 or 3.14, or a container image with that Python (--container-image quay.io/pypa/manylinux_2_28_s390x)"
    )]
    NoSuite { python: String },
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the environments folder {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run mmdebstrap ({source}).\nhint: apt-get install mmdebstrap")]
    Mmdebstrap {
        #[source]
        source: std::io::Error,
    },
    #[error("mmdebstrap did not finish: {source}")]
    MmdebstrapWait {
        #[source]
        source: std::io::Error,
    },
    /// mmdebstrap exited with `status`; `tail` is the end of what it printed.
    #[error("mmdebstrap failed ({status}) creating {key}:\n{tail}")]
    MmdebstrapFailed {
        status: std::process::ExitStatus,
        key: String,
        tail: String,
    },
    #[error("building CPython {python} for {key} failed: {source}")]
    Cpython {
        python: String,
        key: String,
        #[source]
        source: Box<crate::cpython::CpythonError>,
    },
    #[error("the new environment {key} is not usable: {message}")]
    Unusable { key: String, message: String },
    #[error("cannot write the recipe into {}: {source}", path.display())]
    WriteRecipe {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot move the new environment to {}: {source}", path.display())]
    Move {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no environment named or for Python {name:?} in {}; `refinery env list` shows them",
        dir.display()
    )]
    NotFound { name: String, dir: PathBuf },
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RootfsRecipe {
    /// The Debian suite whose `python3` is the requested version: 3.11 bookworm, 3.13
    /// trixie (named `stable`: mmdebstrap fails on `trixie` for foreign architectures
    /// with "File has unexpected size"), 3.14 forky. CPython 3.9 is bullseye's, whose
    /// s390x binaries left the reachable mirrors with its move to LTS: it is built from
    /// bullseye's source package into a bookworm rootfs (see [`crate::cpython`]).
    pub fn for_python(python: &str) -> Result<RootfsRecipe, RootfsError> {
        let (suite, extra): (&str, &[&str]) = match python {
            "3.11" => ("bookworm", &[]),
            // Newer Pythons no longer bring setuptools into venvs; builds without
            // isolation need the suite's.
            "3.13" => ("stable", &["python3-setuptools"]),
            "3.14" => ("forky", &["python3-setuptools"]),
            "3.9" => ("bookworm", crate::cpython::BUILD_PACKAGES),
            other => {
                return Err(RootfsError::NoSuite {
                    python: other.to_string(),
                })
            }
        };
        Ok(RootfsRecipe {
            python: python.to_string(),
            suite: suite.to_string(),
            arch: "s390x".to_string(),
            packages: BASE_PACKAGES
                .iter()
                .chain(extra)
                .map(ToString::to_string)
                .collect(),
            source_python: (python == "3.9").then(crate::cpython::SourcePython::cpython_3_9),
        })
    }

    /// The interpreter builds run: the suite's `python3`, or `python<X.Y>` when it is
    /// built from source (the suite's `python3` is another version then).
    pub fn interpreter(&self) -> String {
        match self.source_python {
            Some(_) => format!("python{}", self.python),
            None => "python3".to_string(),
        }
    }

    /// Folder name: readable prefix plus a hash of the recipe.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        format!(
            "rootfs-{}-{}-py{}-{digest}",
            self.suite, self.arch, self.python
        )
    }
}

/// An environment that exists on disk.
#[derive(Debug, Clone, Serialize)]
pub struct EnvInfo {
    pub name: String,
    pub path: PathBuf,
    pub recipe: RootfsRecipe,
    pub size_bytes: u64,
}

/// The folder holding the environments (`<cache>/envs/v1`, or `REFINERY_ENVS_DIR`).
#[derive(Debug, Clone)]
pub struct EnvStore {
    dir: PathBuf,
}

impl EnvStore {
    pub fn new(envs_dir: impl Into<PathBuf>) -> EnvStore {
        EnvStore {
            dir: envs_dir.into().join(ENV_LAYOUT),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_for(&self, recipe: &RootfsRecipe) -> PathBuf {
        self.dir.join(recipe.key())
    }

    /// The environment for `recipe`, created first if it does not exist yet.
    pub fn ensure(
        &self,
        recipe: &RootfsRecipe,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, RootfsError> {
        let path = self.path_for(recipe);
        if path.join(RECIPE_FILE).is_file() {
            return Ok(path);
        }
        let _lock = self.lock(recipe)?;
        // Another process may have made it while we waited.
        if path.join(RECIPE_FILE).is_file() {
            return Ok(path);
        }
        self.create_locked(recipe, reporter)
    }

    /// Build the root filesystem with mmdebstrap into a temporary folder, then move it
    /// into place, so a half-made environment is never used. Made under an exclusive
    /// lock per recipe: a second process waits, and leftovers of interrupted creations
    /// are removed first.
    pub fn create(
        &self,
        recipe: &RootfsRecipe,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, RootfsError> {
        let _lock = self.lock(recipe)?;
        self.create_locked(recipe, reporter)
    }

    fn lock(&self, recipe: &RootfsRecipe) -> Result<std::fs::File, RootfsError> {
        let lock_path = self
            .dir
            .join(".locks")
            .join(format!("{}.lock", recipe.key()));
        crate::layers::lock_exclusive(&lock_path).map_err(|source| RootfsError::Lock {
            path: lock_path.clone(),
            source,
        })
    }

    fn create_locked(
        &self,
        recipe: &RootfsRecipe,
        reporter: &dyn Reporter,
    ) -> Result<PathBuf, RootfsError> {
        let path = self.path_for(recipe);
        std::fs::create_dir_all(&self.dir).map_err(|source| RootfsError::CreateDir {
            path: self.dir.clone(),
            source,
        })?;
        crate::layers::remove_partials(&self.dir, &recipe.key());
        let staging = self
            .dir
            .join(format!(".{}.partial-{}", recipe.key(), std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        reporter.message(&format!(
            "creating the s390x environment {} (Debian {} with CPython {}); this takes about {} minutes once",
            recipe.key(),
            recipe.suite,
            recipe.python,
            if recipe.source_python.is_some() { 15 } else { 5 }
        ));
        let mut child = Command::new("mmdebstrap")
            .arg(format!("--arch={}", recipe.arch))
            .arg("--variant=apt")
            // Mirrors frozen at a snapshot (proxies, caches) serve Release files whose
            // Valid-Until has passed; the signatures are still checked. The option is
            // kept in the rootfs, so the apt of its layers accepts them too.
            .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
            .arg(format!("--include={}", recipe.packages.join(",")))
            .arg(&recipe.suite)
            .arg(&staging)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| RootfsError::Mmdebstrap { source })?;
        let mut tail = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                reporter.message(&line);
                tail.push(line);
                if tail.len() > 30 {
                    tail.remove(0);
                }
            }
        }
        let status = child
            .wait()
            .map_err(|source| RootfsError::MmdebstrapWait { source })?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(RootfsError::MmdebstrapFailed {
                status,
                key: recipe.key(),
                tail: tail.join("\n"),
            });
        }
        if let Some(source) = &recipe.source_python {
            let work = self.dir.join(format!(
                ".{}.partial-{}-work",
                recipe.key(),
                std::process::id()
            ));
            let log_path = self
                .dir
                .join("logs")
                .join(format!("{}-cpython.log", recipe.key()));
            let built = crate::cpython::build_into(
                source,
                &recipe.python,
                &staging,
                &work,
                &self.dir.join("downloads"),
                &log_path,
                reporter,
            );
            let _ = std::fs::remove_dir_all(&work);
            if let Err(source) = built {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(RootfsError::Cpython {
                    python: recipe.python.clone(),
                    key: recipe.key(),
                    source: Box::new(source),
                });
            }
        }
        // A suite named by role (`stable`) moves on one day: check that its python3 is
        // still the version the recipe promises (and that a built one is complete).
        if let Err(message) = check_python_version(&staging, recipe) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(RootfsError::Unusable {
                key: recipe.key(),
                message,
            });
        }
        let recipe_json = serde_json::to_vec_pretty(recipe).expect("recipes serialize");
        std::fs::write(staging.join(RECIPE_FILE), recipe_json).map_err(|source| {
            RootfsError::WriteRecipe {
                path: staging.clone(),
                source,
            }
        })?;
        match std::fs::rename(&staging, &path) {
            Ok(()) => Ok(path),
            // Another process finished the same environment first: use theirs.
            Err(_) if path.join(RECIPE_FILE).is_file() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(path)
            }
            Err(source) => Err(RootfsError::Move { path, source }),
        }
    }

    pub fn list(&self) -> Vec<EnvInfo> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut envs: Vec<EnvInfo> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                let recipe: RootfsRecipe =
                    serde_json::from_slice(&std::fs::read(path.join(RECIPE_FILE)).ok()?).ok()?;
                Some(EnvInfo {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    size_bytes: dir_size(&path),
                    path,
                    recipe,
                })
            })
            .collect();
        envs.sort_by(|a, b| a.name.cmp(&b.name));
        envs
    }

    /// Remove an environment by folder name or by Python version.
    pub fn remove(&self, name_or_python: &str) -> Result<Vec<String>, RootfsError> {
        let doomed: Vec<EnvInfo> = self
            .list()
            .into_iter()
            .filter(|e| e.name == name_or_python || e.recipe.python == name_or_python)
            .collect();
        if doomed.is_empty() {
            return Err(RootfsError::NotFound {
                name: name_or_python.to_string(),
                dir: self.dir.clone(),
            });
        }
        doomed
            .into_iter()
            .map(|env| {
                std::fs::remove_dir_all(&env.path)
                    .map(|()| env.name.clone())
                    .map_err(|source| RootfsError::Remove {
                        path: env.path.clone(),
                        source,
                    })
            })
            .collect()
    }
}

/// The recipe's interpreter inside `root` must be CPython `recipe.python` (X.Y); one
/// built from source must also import [`crate::cpython::REQUIRED_MODULES`].
fn check_python_version(root: &Path, recipe: &RootfsRecipe) -> Result<(), String> {
    let want = recipe.python.as_str();
    let python = recipe.interpreter();
    let code = if recipe.source_python.is_some() {
        crate::cpython::check_code()
    } else {
        "import sys; print('%d.%d' % sys.version_info[:2])".to_string()
    };
    let output = Command::new("bwrap")
        .arg("--ro-bind")
        .arg(root)
        .arg("/")
        .args([
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--unshare-all",
            "--die-with-parent",
        ])
        .args([python.as_str(), "-c", code.as_str()])
        .output()
        .map_err(|e| format!("cannot run its {python} ({e}); is bubblewrap installed?"))?;
    let found = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() {
        return Err(format!(
            "its {python} does not run or lacks a module: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if found != want {
        return Err(format!(
            "its {python} is CPython {found}, the recipe asks for {want}; the suite has moved on: use the Python it has or a container image"
        ));
    }
    Ok(())
}

/// The recipe an environment (or a layer, which carries its base's file) was made from.
pub fn read_recipe(root: &Path) -> Option<RootfsRecipe> {
    serde_json::from_slice(&std::fs::read(root.join(RECIPE_FILE)).ok()?).ok()
}

pub(crate) fn dir_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_follow_the_python_version() {
        assert_eq!(RootfsRecipe::for_python("3.11").unwrap().suite, "bookworm");
        assert_eq!(RootfsRecipe::for_python("3.13").unwrap().suite, "stable");
        assert_eq!(RootfsRecipe::for_python("3.14").unwrap().suite, "forky");
        let err = RootfsRecipe::for_python("3.12").unwrap_err().to_string();
        assert!(err.contains("3.11") && err.contains("container"), "{err}");
        // 3.9 is built from bullseye's source package into a bookworm rootfs, run as
        // python3.9; the others are their suite's python3 and carry no source.
        let py39 = RootfsRecipe::for_python("3.9").unwrap();
        assert_eq!(py39.suite, "bookworm");
        assert_eq!(py39.interpreter(), "python3.9");
        assert!(py39.packages.contains(&"libssl-dev".to_string()));
        assert!(py39.key().starts_with("rootfs-bookworm-s390x-py3.9-"));
        let py311 = RootfsRecipe::for_python("3.11").unwrap();
        assert_eq!(py311.interpreter(), "python3");
        assert!(!serde_json::to_string(&py311)
            .unwrap()
            .contains("source_python"));
        // The bookworm recipe (and so its folder) is unchanged by the newer ones.
        assert!(!RootfsRecipe::for_python("3.11")
            .unwrap()
            .packages
            .contains(&"python3-setuptools".to_string()));
    }

    #[test]
    fn the_key_changes_with_the_recipe() {
        let a = RootfsRecipe::for_python("3.11").unwrap();
        let mut b = a.clone();
        b.packages.push("libffi-dev".into());
        assert_ne!(a.key(), b.key());
        assert!(a.key().starts_with("rootfs-bookworm-s390x-py3.11-"));
    }

    #[test]
    fn list_and_remove_see_only_finished_environments() {
        let dir = tempfile::tempdir().unwrap();
        let store = EnvStore::new(dir.path());
        let recipe = RootfsRecipe::for_python("3.11").unwrap();
        let path = store.path_for(&recipe);
        std::fs::create_dir_all(path.join("usr")).unwrap();
        assert!(store.list().is_empty(), "no recipe file: not finished");
        std::fs::write(path.join(RECIPE_FILE), serde_json::to_vec(&recipe).unwrap()).unwrap();
        assert_eq!(store.list().len(), 1);
        assert!(store.remove("3.12").is_err());
        assert_eq!(store.remove("3.11").unwrap(), vec![recipe.key()]);
        assert!(!path.exists());
    }
}
