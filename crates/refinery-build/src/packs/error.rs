//! What can go wrong with packs: an unknown name, a source that cannot be had, a build
//! that fails or installs nothing, a mirror's copy that is refused, and file IO.

use std::path::PathBuf;

use super::archive::ArchiveError;

/// A pack that cannot be had; each names the pack, the file or the URL, and the log to
/// read where there is one.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// `--packs` or a hint named a pack without a recipe.
    #[error("there is no native library pack named {name:?} (known: {known})")]
    Unknown { name: String, known: String },
    /// A recipe depends on a pack without a recipe (a catalog mistake).
    #[error("the pack {parent} depends on {name:?}, which has no recipe")]
    UnknownDependency { parent: String, name: String },
    /// The index client could not download a pinned source.
    #[error("cannot download the pack source {url}: {source}")]
    Download {
        url: String,
        #[source]
        source: refinery_index::IndexError,
    },
    /// A file or folder of the store or of a build could not be used; `action` is what
    /// was tried ("create", "lock", "move the pack to", …).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The pack's source could not be fetched; the log says which file.
    #[error("the source of the pack {name} {version} could not be fetched: {source}; see {}", log.display())]
    SourceUnavailable {
        name: String,
        version: String,
        log: PathBuf,
        #[source]
        source: Box<PackError>,
    },
    /// The build step ended without success (`outcome` is how it ended).
    #[error("building the pack {name} {version} failed ({outcome}); see {}", log.display())]
    BuildFailed {
        name: String,
        version: String,
        outcome: String,
        log: PathBuf,
    },
    /// The run or job was stopped (Ctrl-C, a cancelled job) while the pack built: nothing
    /// of it is kept; the next run builds it again.
    #[error("the pack {name} {version} was not finished: the run was stopped")]
    Stopped { name: String, version: String },
    /// The sandbox of the build step could not be started.
    #[error("cannot start the pack build: {source}")]
    Start {
        #[source]
        source: std::io::Error,
    },
    /// The build succeeded but put no `lib/*.a` into the prefix.
    #[error("the pack build installed no static library into {}; see its log", lib.display())]
    NoStaticLibrary { lib: PathBuf },
    /// A header-only pack's build succeeded but put no header into the prefix.
    #[error("the pack build installed no header into {}; see its log", include.display())]
    NoHeaders { include: PathBuf },
    /// A mirror's archive does not have the sha256 the mirror announced.
    #[error("sha256 mismatch: expected {expected}, got {actual}")]
    ShaMismatch { expected: String, actual: String },
    /// A mirror's pack records another recipe or target, or none.
    #[error("{problem}")]
    Marker { problem: String },
    /// A pack archive could not be written or unpacked.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The copy of the pack `key` from `url` (a mirror) was refused for `reason`.
    #[error(
        "the native library pack {key} downloaded from {url} was refused: {reason}; \
         the control plane's copy may be damaged (delete its packs/.archives/{key}.* \
         to have it made again) or the download was altered on the way"
    )]
    Refused {
        key: String,
        url: String,
        #[source]
        reason: Box<PackError>,
    },
}

impl PackError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> PackError {
        let path = path.into();
        move |source| PackError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why a [`super::PackMirror`] could not be asked for a pack (the pack is then built here).
/// Every URL in here is without credentials.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The request could not be sent, or no answer came.
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The mirror answered with an error status (not 404, which means "no such pack").
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The answer lacks the header that announces the archive's sha256.
    #[error("{url} sent no {header} header")]
    NoChecksum { url: String, header: &'static str },
    /// The archive could not be saved (the IO error names the file).
    #[error("cannot save the pack archive: {source}")]
    Save {
        #[source]
        source: std::io::Error,
    },
    /// The download started but broke off.
    #[error("{url}: the download broke off: {source}")]
    Transfer {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
