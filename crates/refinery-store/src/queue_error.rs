//! The error of the queue store and of the storage layer under it ([`crate::db`]), which
//! the queue and the history share: its own module, so that the storage layer does not
//! depend on the queue built on it.

/// Errors of the queue store and of the storage layer ([`crate::db`]).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue database {location} cannot be reached: {message}; check that it is running and the URL is right")]
    Unavailable { location: String, message: String },
    #[error("queue database {location}: {message}")]
    Database { location: String, message: String },
    #[error("the queue database {location} {what} while this process had it open: what was written since is in the old file, which goes away when the process ends; stop the process, put the original file back (while the process still runs, a deleted file can be copied from /proc/<pid>/fd/), and start it again")]
    Replaced {
        location: String,
        /// `was deleted` or `was replaced by another file`.
        what: &'static str,
    },
    #[error("{location} is not a refinery queue database ({reason}); choose another --cache folder or --database-url")]
    NotOurs { location: String, reason: String },
    #[error("queue database {location} has schema version {found}, newer than this refinery supports ({supported}); upgrade the refinery")]
    TooNew {
        location: String,
        found: i64,
        supported: i64,
    },
    #[error("job {job}: the lease of attempt {attempt} is no longer held (it expired and the job went back to the queue, or the job finished or was cleared)")]
    LeaseLost { job: i64, attempt: i64 },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// A file name already published with other bytes (a published file never changes):
    /// the one conflict a publisher mends itself, under a new build number.
    #[error("{0}")]
    NameTaken(String),
    #[error("{0}")]
    Invalid(String),
}
