//! The client's error type, with the hint each failure carries.

/// Everything that can go wrong; every URL in here is redacted.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot connect to {url}: {message}; check --index-url and the network or proxy settings (HTTPS_PROXY, NO_PROXY)")]
    Connect { url: String, message: String },
    #[error("TLS certificate verification failed for {url}: {message}; behind a proxy with its own CA set SSL_CERT_FILE (or PIP_CERT) to a PEM bundle that contains it, or use --trusted-host {host} for a host you trust")]
    Tls {
        url: String,
        host: String,
        message: String,
    },
    #[error(
        "request to {url} timed out (timeout {secs} s); check the network, or raise the timeout"
    )]
    Timeout { url: String, secs: u64 },
    #[error("{url} answered HTTP {status}; {hint}")]
    Status {
        url: String,
        status: u16,
        hint: String,
    },
    #[error("{url} was not found (HTTP 404); check --index-url and that the file still exists")]
    NotFound { url: String },
    #[error("{url} answered {what}; this is not a PEP 503/691 simple index — check --index-url (it usually ends in /simple)")]
    Garbage { url: String, what: String },
    #[error(
        "offline mode: {url} is not in the cache; run once without --offline to fill the cache"
    )]
    Offline { url: String },
    #[error("refusing plain http for {url}; use https, or --trusted-host {host} if you trust this host and the network")]
    Insecure { url: String, host: String },
    #[error(
        "invalid URL {url:?}: {reason}; check --index-url, --extra-index-url and --find-links"
    )]
    InvalidUrl { url: String, reason: String },
    #[error("invalid project name {name:?}")]
    InvalidName { name: String },
    #[error("sha256 mismatch for {file}: expected {expected}, got {actual}; the download was removed — the index, a mirror or a proxy served other bytes than announced")]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("refusing unsafe file name {filename:?} announced by {url}")]
    UnsafeFilename { filename: String, url: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{message}")]
    Config { message: String },
    #[error("every source failed for {project}:{}", list_errors(.errors))]
    AllSourcesFailed {
        project: String,
        errors: Vec<IndexError>,
    },
}

fn list_errors(errors: &[IndexError]) -> String {
    errors.iter().map(|e| format!("\n  - {e}")).collect()
}

impl IndexError {
    /// The HTTP status, for [`IndexError::Status`] and [`IndexError::NotFound`].
    pub fn status(&self) -> Option<u16> {
        match self {
            IndexError::Status { status, .. } => Some(*status),
            IndexError::NotFound { .. } => Some(404),
            _ => None,
        }
    }

    pub(super) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        IndexError::Io {
            context: context.into(),
            source,
        }
    }
}

pub(super) fn status_hint(status: u16, attempts: u32) -> String {
    match status {
        401 | 403 => "the index wants credentials or refused them: set INDEX_USERNAME/INDEX_PASSWORD, put them in the URL (https://user:token@host/simple) or in ~/.netrc".to_owned(),
        407 => "the proxy wants credentials: put them in HTTPS_PROXY".to_owned(),
        429 => format!("the index is rate limiting (gave up after {attempts} attempts); retry later or use a mirror"),
        500..=599 => format!("the index has a server problem (gave up after {attempts} attempts); retry later or use a mirror via --index-url"),
        _ => "check --index-url".to_owned(),
    }
}
