//! Errors of the history database.

use std::io;
use std::path::{Path, PathBuf};

use crate::queue::QueueError;

/// Errors of the history database. Each names the database file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot create folder {path} for the history database: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot open history database {path}: {source}; check that the cache folder exists \
         and is writable"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history database {path} is locked by another process; wait for it to finish (or \
         stop it) and retry"
    )]
    Locked { path: PathBuf },
    #[error(
        "{path} is not a refinery history database ({reason}); move it away or choose \
         another --cache folder"
    )]
    NotHistory { path: PathBuf, reason: String },
    #[error(
        "{path} is not a refinery history database (schema version {found} newer than this \
         refinery supports, {supported}); upgrade the refinery or choose another --cache folder"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "history database {path} holds invalid JSON in {table}.{column} of row {id} \
         ({source}); the file may be damaged"
    )]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        id: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "history database {path} holds `{value}` in {table}.{column} of row {id}: {reason}; \
         the file may be damaged or written by a newer refinery"
    )]
    Invalid {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        id: i64,
        value: String,
        reason: String,
    },
    #[error("cannot encode {what} as JSON for history database {path}: {source}")]
    Encode {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the history database {path} cannot be reached: {message}; check that it is running \
         and the URL is right"
    )]
    Unavailable { path: PathBuf, message: String },
    #[error("history database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error("the history database {path} {what} while this process had it open: what was written since is in the old file, which goes away when the process ends; stop the process, put the original file back (while the process still runs, a deleted file can be copied from /proc/<pid>/fd/), and start it again")]
    Replaced {
        path: PathBuf,
        /// `was deleted` or `was replaced by another file`.
        what: &'static str,
    },
    #[error("history database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}
/// A PostgreSQL error as a history error.
pub(super) fn pg_error(path: &Path, e: QueueError) -> HistoryError {
    let path = path.to_path_buf();
    match e {
        QueueError::Unavailable { message, .. } => HistoryError::Unavailable { path, message },
        QueueError::TooNew {
            found, supported, ..
        } => HistoryError::TooNew {
            path,
            found,
            supported,
        },
        QueueError::Database { message, .. } => HistoryError::Database { path, message },
        other => HistoryError::Database {
            path,
            message: other.to_string(),
        },
    }
}
