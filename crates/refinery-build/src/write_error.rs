//! The error of writing one of the files a run leaves behind (a lock, a provenance or
//! verification record, a page of the static index): it names the file and what it is.

use std::path::PathBuf;

/// A record or output file could not be written; `what` is e.g. `lock` or
/// `provenance record`.
#[derive(Debug, thiserror::Error)]
pub enum WriteFileError {
    #[error("cannot write the {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl WriteFileError {
    /// The [`WriteFileError::Io`] maker for `what` at `path`, for `map_err`.
    pub fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> WriteFileError {
        let path = path.to_path_buf();
        move |source| WriteFileError::Io { what, path, source }
    }
}
