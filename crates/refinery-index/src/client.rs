//! The PEP 503/691 index client.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Client, Response};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{debug, instrument, warn};
use url::{Host, Url};

use crate::parse::{self, fragment_sha256};
use crate::{
    filename_matches_project, netrc, normalize_name, percent_decode, redact_url, sha256_hex,
};

/// The default primary index.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// `Accept` header for project pages: PEP 691 JSON preferred, HTML accepted.
pub const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// How long a cached page is fresh when the server does not say (`Cache-Control: max-age`).
pub const DEFAULT_PAGE_MAX_AGE_SECS: u64 = 600;

/// Environment variables read by [`IndexConfig::from_env`] (and `NETRC`/`HOME`
/// by [`IndexClient::new`] when [`IndexConfig::netrc_path`] is `None`).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "INDEX_USERNAME",
        "user name for the primary index (--index-url)",
    ),
    (
        "INDEX_PASSWORD",
        "password or token for the primary index (--index-url)",
    ),
    (
        "SSL_CERT_FILE",
        "PEM bundle of extra trusted CA certificates (e.g. a proxy's CA)",
    ),
    (
        "PIP_CERT",
        "same as SSL_CERT_FILE, used when SSL_CERT_FILE is unset",
    ),
    (
        "NETRC",
        "path of the .netrc file with index credentials (default $HOME/.netrc)",
    ),
];

/// Where and how to look for distributions.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexConfig {
    /// Primary simple index (default [`DEFAULT_INDEX_URL`]); empty = no primary index.
    pub index_url: String,
    pub extra_index_urls: Vec<String>,
    /// Local directories (or `file://` URLs) holding wheels/sdists, or `http(s)`
    /// URLs of a flat HTML page of links.
    pub find_links: Vec<String>,
    /// Hosts (`host` or `host:port`) for which plain http is allowed and TLS
    /// certificates are not verified. Loopback hosts may always use http.
    pub trusted_hosts: Vec<String>,
    /// Credentials for the primary index host (URL userinfo wins over these).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra trusted root certificates (PEM bundle, may hold many certificates).
    pub cert_file: Option<PathBuf>,
    /// On-disk cache: `<cache_dir>/http/` for pages, `<cache_dir>/files/<sha256>/<filename>`
    /// for downloads.
    pub cache_dir: Option<PathBuf>,
    /// Retries after the first attempt, with backoff 0.5 s, 1 s, 2 s, …, on connect
    /// errors, timeouts, HTTP 429 and 5xx.
    pub retries: u32,
    /// Connect and per-read timeout, in seconds.
    pub timeout_secs: u64,
    /// Serve only from the cache; never touch the network.
    pub offline: bool,
    /// `.netrc` location. `None`: `$NETRC`, else `$HOME/.netrc`. `Some("")`: no netrc.
    pub netrc_path: Option<PathBuf>,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            index_url: DEFAULT_INDEX_URL.to_owned(),
            extra_index_urls: Vec::new(),
            find_links: Vec::new(),
            trusted_hosts: Vec::new(),
            username: None,
            password: None,
            cert_file: None,
            cache_dir: None,
            retries: 3,
            timeout_secs: 60,
            offline: false,
            netrc_path: None,
        }
    }
}

impl IndexConfig {
    /// The defaults plus the environment (see [`ENV_VARS`]).
    pub fn from_env() -> Self {
        let mut config = IndexConfig::default();
        config.apply_env();
        config
    }

    /// Fills unset fields from `INDEX_USERNAME`, `INDEX_PASSWORD`, `SSL_CERT_FILE`, `PIP_CERT`.
    pub fn apply_env(&mut self) {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if self.username.is_none() {
            self.username = var("INDEX_USERNAME");
        }
        if self.password.is_none() {
            self.password = var("INDEX_PASSWORD");
        }
        if self.cert_file.is_none() {
            self.cert_file = var("SSL_CERT_FILE")
                .or_else(|| var("PIP_CERT"))
                .map(PathBuf::from);
        }
    }
}

impl fmt::Debug for IndexConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact_all = |v: &[String]| v.iter().map(|s| redact_url(s)).collect::<Vec<_>>();
        f.debug_struct("IndexConfig")
            .field("index_url", &redact_url(&self.index_url))
            .field("extra_index_urls", &redact_all(&self.extra_index_urls))
            .field("find_links", &redact_all(&self.find_links))
            .field("trusted_hosts", &self.trusted_hosts)
            .field("username", &self.username.as_ref().map(|_| "****"))
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("cert_file", &self.cert_file)
            .field("cache_dir", &self.cache_dir)
            .field("retries", &self.retries)
            .field("timeout_secs", &self.timeout_secs)
            .field("offline", &self.offline)
            .field("netrc_path", &self.netrc_path)
            .finish()
    }
}

/// One distribution file offered by an index or a find-links location.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL without credentials (`file://` for local find-links).
    pub url: String,
    /// Lowercase hex sha256, when the source announced it.
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    /// Core metadata is available without downloading (PEP 658/714).
    pub has_metadata: bool,
    /// The (redacted) index URL or find-links location this came from.
    pub index: String,
}

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

    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        IndexError::Io {
            context: context.into(),
            source,
        }
    }
}

fn status_hint(status: u16, attempts: u32) -> String {
    match status {
        401 | 403 => "the index wants credentials or refused them: set INDEX_USERNAME/INDEX_PASSWORD, put them in the URL (https://user:token@host/simple) or in ~/.netrc".to_owned(),
        407 => "the proxy wants credentials: put them in HTTPS_PROXY".to_owned(),
        429 => format!("the index is rate limiting (gave up after {attempts} attempts); retry later or use a mirror"),
        500..=599 => format!("the index has a server problem (gave up after {attempts} attempts); retry later or use a mirror via --index-url"),
        _ => "check --index-url".to_owned(),
    }
}

type HostKey = (String, u16);

#[derive(Clone)]
struct Cred {
    user: String,
    pass: Option<String>,
}

enum Source {
    Index { url: Url, display: String },
    FindLinksDir { path: PathBuf, display: String },
    FindLinksPage { url: Url, display: String },
}

impl Source {
    fn display(&self) -> &str {
        match self {
            Source::Index { display, .. }
            | Source::FindLinksDir { display, .. }
            | Source::FindLinksPage { display, .. } => display,
        }
    }
}

struct Inner {
    sources: Vec<Source>,
    creds: Mutex<HashMap<HostKey, Cred>>,
    netrc: Vec<netrc::NetrcEntry>,
    trusted: Vec<(String, Option<u16>)>,
    certs: Vec<reqwest::Certificate>,
    /// Indexed by `insecure | loopback << 1`, built on first use.
    clients: [OnceLock<Result<Client, String>>; 4],
    cache_dir: Option<PathBuf>,
    retries: u32,
    timeout_secs: u64,
    offline: bool,
}

/// A blocking PEP 503/691 client. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct IndexClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for IndexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<&str> = self.inner.sources.iter().map(Source::display).collect();
        f.debug_struct("IndexClient")
            .field("sources", &sources)
            .field("cache_dir", &self.inner.cache_dir)
            .field("retries", &self.inner.retries)
            .field("timeout_secs", &self.inner.timeout_secs)
            .field("offline", &self.inner.offline)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<IndexClient>();
};

enum Failure {
    Retry(IndexError),
    Fatal(IndexError),
}

impl Failure {
    fn into_error(self) -> IndexError {
        match self {
            Failure::Retry(e) | Failure::Fatal(e) => e,
        }
    }
}

struct Page {
    url: Url,
    content_type: String,
    body: String,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    url: String,
    status: u16,
    content_type: String,
    etag: Option<String>,
    fetched_at: u64,
    max_age: u64,
    body: String,
}

impl CacheEntry {
    fn page(&self) -> Option<Page> {
        if self.status == 404 {
            return None;
        }
        Some(Page {
            url: Url::parse(&self.url).ok()?,
            content_type: self.content_type.clone(),
            body: self.body.clone(),
        })
    }
}

enum Fetched {
    NotModified { max_age: Option<u64> },
    NotFound { max_age: Option<u64>, store: bool },
    Body { entry: CacheEntry, store: bool },
}

impl IndexClient {
    /// Validates the configuration, reads the CA bundle and `.netrc`, builds the HTTP client.
    pub fn new(config: IndexConfig) -> Result<IndexClient, IndexError> {
        let trusted = config
            .trusted_hosts
            .iter()
            .filter_map(|h| parse_trusted_host(h))
            .collect::<Vec<_>>();
        let mut creds: HashMap<HostKey, Cred> = HashMap::new();
        let mut sources = Vec::new();
        let mut primary_key = None;

        if !config.index_url.trim().is_empty() {
            let (url, cred) = parse_http_url(&config.index_url, true)?;
            let key = host_key(&url);
            if let (Some(k), Some(c)) = (key.clone(), cred) {
                creds.insert(k, c);
            }
            primary_key = key;
            sources.push(Source::Index {
                display: index_display(&config.index_url, &url),
                url,
            });
        }
        for extra in &config.extra_index_urls {
            let (url, cred) = parse_http_url(extra, true)?;
            if let (Some(k), Some(c)) = (host_key(&url), cred) {
                creds.entry(k).or_insert(c);
            }
            sources.push(Source::Index {
                display: index_display(extra, &url),
                url,
            });
        }
        for entry in &config.find_links {
            let t = entry.trim();
            let lower = t.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                let (url, cred) = parse_http_url(t, false)?;
                if let (Some(k), Some(c)) = (host_key(&url), cred) {
                    creds.entry(k).or_insert(c);
                }
                sources.push(Source::FindLinksPage {
                    display: display_url(&url),
                    url,
                });
            } else if lower.starts_with("file:") {
                let path = Url::parse(t)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| IndexError::InvalidUrl {
                        url: redact_url(t),
                        reason: "not a valid file:// URL of a local directory".to_owned(),
                    })?;
                sources.push(Source::FindLinksDir {
                    display: path.display().to_string(),
                    path,
                });
            } else {
                let path = PathBuf::from(t);
                sources.push(Source::FindLinksDir {
                    display: path.display().to_string(),
                    path,
                });
            }
        }
        if config.username.is_some() || config.password.is_some() {
            if let Some(key) = primary_key {
                creds.entry(key).or_insert(Cred {
                    user: config.username.clone().unwrap_or_default(),
                    pass: config.password.clone(),
                });
            }
        }

        let mut certs = Vec::new();
        if let Some(path) = &config.cert_file {
            let pem = fs_err::read(path).map_err(|e| IndexError::Config {
                message: format!("cannot read the CA bundle: {e}; check SSL_CERT_FILE / PIP_CERT"),
            })?;
            certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| IndexError::Config {
                    message: format!(
                        "{} is not a PEM certificate bundle ({e}); check SSL_CERT_FILE / PIP_CERT",
                        path.display()
                    ),
                })?;
            if certs.is_empty() {
                return Err(IndexError::Config {
                    message: format!(
                        "{} contains no PEM certificates; check SSL_CERT_FILE / PIP_CERT",
                        path.display()
                    ),
                });
            }
        }

        let netrc_path = match &config.netrc_path {
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) => Some(p.clone()),
            None => std::env::var_os("NETRC")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc"))),
        };
        let netrc = match netrc_path {
            Some(p) if p.is_file() => match fs_err::read_to_string(&p) {
                Ok(text) => netrc::parse(&text),
                Err(e) => {
                    warn!(error = %e, "ignoring unreadable netrc file");
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };

        let client = IndexClient {
            inner: Arc::new(Inner {
                sources,
                creds: Mutex::new(creds),
                netrc,
                trusted,
                certs,
                clients: Default::default(),
                cache_dir: config.cache_dir.clone(),
                retries: config.retries,
                timeout_secs: config.timeout_secs.max(1),
                offline: config.offline,
            }),
        };
        for source in &client.inner.sources {
            if let Source::Index { url, .. } | Source::FindLinksPage { url, .. } = source {
                client.check_secure(url)?;
            }
        }
        // Surface client construction problems (bad certificates) now.
        if let Some(Source::Index { url, .. }) = client.inner.sources.first() {
            client.client_for(url)?;
        } else {
            client.client_for(&Url::parse(DEFAULT_INDEX_URL).expect("valid URL"))?;
        }
        Ok(client)
    }

    /// The configured sources, redacted, in query order.
    pub fn sources(&self) -> Vec<String> {
        self.inner
            .sources
            .iter()
            .map(|s| s.display().to_owned())
            .collect()
    }

    /// All files of `name` from every index and find-links location, merged and
    /// deduplicated by file name (the first source wins). A 404 from an index
    /// means "no files there"; an error is returned only when every source failed.
    #[instrument(skip_all, fields(project = %name))]
    pub fn project_files(&self, name: &str) -> Result<Vec<DistFile>, IndexError> {
        let project = normalize_name(name.trim());
        if project.is_empty() || project.contains('/') || project.contains('\\') {
            return Err(IndexError::InvalidName {
                name: name.to_owned(),
            });
        }
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        let mut errors = Vec::new();
        let mut any_ok = false;
        for source in &self.inner.sources {
            match self.source_files(source, &project) {
                Ok(list) => {
                    any_ok = true;
                    debug!(source = %source.display(), files = list.len(), "queried source");
                    for f in list {
                        if seen.insert(f.filename.clone()) {
                            files.push(f);
                        }
                    }
                }
                Err(e) => {
                    warn!(source = %source.display(), error = %e, "source failed");
                    errors.push(e);
                }
            }
        }
        if !any_ok && !errors.is_empty() {
            return Err(if errors.len() == 1 {
                errors.remove(0)
            } else {
                IndexError::AllSourcesFailed { project, errors }
            });
        }
        Ok(files)
    }

    /// Downloads `file` into `dest_dir` (as `dest_dir/<filename>`), verifying its
    /// sha256 when known, reusing the cache, and never leaving partial files.
    #[instrument(skip_all, fields(file = %file.filename))]
    pub fn download(&self, file: &DistFile, dest_dir: &Path) -> Result<PathBuf, IndexError> {
        check_filename(&file.filename, &file.url)?;
        let mut url = self.parse_file_url(&file.url)?;
        let expected = file
            .sha256
            .as_deref()
            .map(str::to_ascii_lowercase)
            .filter(|s| !s.is_empty())
            .or_else(|| fragment_sha256(&url));
        url.set_fragment(None);
        fs_err::create_dir_all(dest_dir)
            .map_err(|e| IndexError::io("cannot create the download directory", e))?;
        let dest = dest_dir.join(&file.filename);

        if let Some(exp) = &expected {
            if dest.is_file()
                && refinery_store::sha256_file(&dest).ok().as_deref() == Some(exp.as_str())
            {
                debug!("already downloaded");
                return Ok(dest);
            }
            if let Some(cached) = self.files_cache_path(exp, &file.filename) {
                if cached.is_file() {
                    match refinery_store::sha256_file(&cached) {
                        Ok(h) if h == *exp => {
                            debug!("served from the files cache");
                            copy_atomic(&cached, &dest)?;
                            return Ok(dest);
                        }
                        _ => {
                            warn!(path = %cached.display(), "removing corrupt cache entry");
                            let _ = fs_err::remove_file(&cached);
                        }
                    }
                }
            }
        }

        let actual = match url.scheme() {
            "file" => {
                self.copy_local(&url, dest_dir, &dest, expected.as_deref(), &file.filename)?
            }
            "http" | "https" => {
                if self.inner.offline {
                    return Err(IndexError::Offline {
                        url: display_url(&url),
                    });
                }
                self.download_http(&url, dest_dir, &dest, expected.as_deref(), &file.filename)?
            }
            other => {
                return Err(IndexError::InvalidUrl {
                    url: display_url(&url),
                    reason: format!("unsupported scheme {other:?}"),
                })
            }
        };
        if let Some(cached) = self.files_cache_path(&actual, &file.filename) {
            if !cached.is_file() {
                if let Err(e) = copy_atomic(&dest, &cached) {
                    warn!(error = %e, "cannot store the download in the cache");
                }
            }
        }
        Ok(dest)
    }

    /// The file's core metadata (PEP 658 `<url>.metadata`) when `has_metadata`;
    /// `Ok(None)` when the file has none or the server does not have it.
    #[instrument(skip_all, fields(file = %file.filename))]
    pub fn fetch_metadata(&self, file: &DistFile) -> Result<Option<Vec<u8>>, IndexError> {
        if !file.has_metadata {
            return Ok(None);
        }
        let mut url = self.parse_file_url(&file.url)?;
        let sha = file
            .sha256
            .as_deref()
            .map(str::to_ascii_lowercase)
            .or_else(|| fragment_sha256(&url));
        url.set_fragment(None);
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| IndexError::InvalidUrl {
                url: display_url(&url),
                reason: "not a local path".to_owned(),
            })?;
            return crate::wheel_metadata_bytes(&path, None).map_err(|e| {
                IndexError::io(
                    format!("cannot read the metadata of {}", path.display()),
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            });
        }
        let cache_name = format!("{}.metadata", file.filename);
        let cached = sha
            .as_deref()
            .and_then(|s| self.files_cache_path(s, &cache_name));
        if let Some(c) = cached.as_ref().filter(|c| c.is_file()) {
            if let Ok(bytes) = fs_err::read(c) {
                return Ok(Some(bytes));
            }
        }
        let mut meta_url = url.clone();
        meta_url.set_query(None);
        meta_url.set_path(&format!("{}.metadata", url.path()));
        match self.get_url(&meta_url) {
            Ok(bytes) => {
                if let Some(c) = cached {
                    if let Err(e) = write_atomic(&c, &bytes) {
                        warn!(error = %e, "cannot cache metadata");
                    }
                }
                Ok(Some(bytes))
            }
            Err(IndexError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Authenticated GET with retries; `file://` URLs are read from disk.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>, IndexError> {
        let url = self.parse_file_url(url)?;
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| IndexError::InvalidUrl {
                url: display_url(&url),
                reason: "not a local path".to_owned(),
            })?;
            return fs_err::read(&path).map_err(|e| IndexError::io("cannot read a local file", e));
        }
        self.get_url(&url)
    }

    // ---------------------------------------------------------------------
    // sources

    fn source_files(&self, source: &Source, project: &str) -> Result<Vec<DistFile>, IndexError> {
        match source {
            Source::Index { url, display } => {
                let page_url =
                    url.join(&format!("{project}/"))
                        .map_err(|e| IndexError::InvalidUrl {
                            url: display.clone(),
                            reason: e.to_string(),
                        })?;
                match self.fetch_page(&page_url, SIMPLE_ACCEPT)? {
                    None => Ok(Vec::new()),
                    Some(page) => self.page_files(&page, display, None),
                }
            }
            Source::FindLinksPage { url, display } => {
                match self
                    .fetch_page(url, "text/html, application/vnd.pypi.simple.v1+json;q=0.5")?
                {
                    None => Err(IndexError::NotFound {
                        url: display.clone(),
                    }),
                    Some(page) => self.page_files(&page, display, Some(project)),
                }
            }
            Source::FindLinksDir { path, display } => dir_files(path, display, project),
        }
    }

    fn page_files(
        &self,
        page: &Page,
        display: &str,
        only: Option<&str>,
    ) -> Result<Vec<DistFile>, IndexError> {
        let raw = parse::parse_page(&page.url, &page.content_type, &page.body).map_err(|what| {
            IndexError::Garbage {
                url: display_url(&page.url),
                what: self.scrub(&what),
            }
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for r in raw {
            if only.is_some_and(|p| !filename_matches_project(&r.filename, p)) {
                continue;
            }
            if !is_safe_filename(&r.filename) {
                warn!(filename = %r.filename, "skipping file with an unsafe name");
                continue;
            }
            let mut url = r.url;
            if !matches!(url.scheme(), "http" | "https") {
                warn!(url = %display_url(&url), "skipping non-http link on an index page");
                continue;
            }
            if let Some(c) = take_credentials(&mut url) {
                if let Some(k) = host_key(&url) {
                    self.creds().entry(k).or_insert(c);
                }
            }
            out.push(DistFile {
                filename: r.filename,
                url: url.to_string(),
                sha256: r.sha256,
                requires_python: r.requires_python,
                yanked: r.yanked,
                has_metadata: r.has_metadata,
                index: display.to_owned(),
            });
        }
        Ok(out)
    }

    // ---------------------------------------------------------------------
    // HTTP

    fn creds(&self) -> MutexGuard<'_, HashMap<HostKey, Cred>> {
        self.inner.creds.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn creds_for(&self, url: &Url) -> Option<Cred> {
        let key = host_key(url)?;
        if let Some(c) = self.creds().get(&key) {
            return Some(c.clone());
        }
        let entry = netrc::lookup(&self.inner.netrc, &key.0)?;
        Some(Cred {
            user: entry.login.clone().unwrap_or_default(),
            pass: entry.password.clone(),
        })
    }

    /// Redacts URLs and removes every known secret from `text`.
    fn scrub(&self, text: &str) -> String {
        let mut out = redact_url(text);
        let mut secrets: Vec<String> = self
            .creds()
            .values()
            .filter_map(|c| c.pass.clone())
            .collect();
        secrets.extend(self.inner.netrc.iter().filter_map(|e| e.password.clone()));
        for s in secrets.iter().filter(|s| s.len() >= 3) {
            out = out.replace(s.as_str(), "****");
        }
        out
    }

    fn is_trusted(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port_or_known_default();
        self.inner
            .trusted
            .iter()
            .any(|(h, p)| *h == host && (p.is_none() || *p == port))
    }

    fn check_secure(&self, url: &Url) -> Result<(), IndexError> {
        if url.scheme() == "http" && !is_loopback(url) && !self.is_trusted(url) {
            return Err(IndexError::Insecure {
                url: display_url(url),
                host: url.host_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(())
    }

    fn client_for(&self, url: &Url) -> Result<&Client, IndexError> {
        let insecure = self.is_trusted(url);
        let local = is_loopback(url);
        let idx = usize::from(insecure) | (usize::from(local) << 1);
        self.inner.clients[idx]
            .get_or_init(|| self.build_client(insecure, local))
            .as_ref()
            .map_err(|m| IndexError::Config {
                message: format!(
                    "cannot create the HTTP client: {m}; check SSL_CERT_FILE / PIP_CERT"
                ),
            })
    }

    fn build_client(&self, insecure: bool, no_proxy: bool) -> Result<Client, String> {
        let timeout = Duration::from_secs(self.inner.timeout_secs);
        let mut builder = Client::builder()
            .user_agent(concat!("s390x-wheel-refinery/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)));
        for cert in &self.inner.certs {
            builder = builder.add_root_certificate(cert.clone());
        }
        if insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if no_proxy {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| self.scrub(&error_chain(&e)))
    }

    fn with_retries<T>(
        &self,
        url: &Url,
        mut op: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, IndexError> {
        let mut attempt = 0u32;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    if attempt >= self.inner.retries {
                        return Err(e);
                    }
                    let delay = backoff(attempt);
                    warn!(url = %display_url(url), attempt = attempt + 1, error = %e, ?delay, "retrying");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }

    fn send_once(&self, url: &Url, headers: HeaderMap) -> Result<Response, Failure> {
        self.check_secure(url).map_err(Failure::Fatal)?;
        let client = self.client_for(url).map_err(Failure::Fatal)?;
        let mut request = client.get(url.clone()).headers(headers);
        if let Some(c) = self.creds_for(url) {
            request = request.basic_auth(c.user, c.pass);
        }
        debug!(url = %display_url(url), "GET");
        match request.send() {
            Err(e) => Err(self.classify(url, &e)),
            Ok(resp) => {
                let status = resp.status();
                if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    Err(Failure::Retry(self.status_error(url, status)))
                } else {
                    Ok(resp)
                }
            }
        }
    }

    fn status_error(&self, url: &Url, status: StatusCode) -> IndexError {
        if status == StatusCode::NOT_FOUND {
            return IndexError::NotFound {
                url: display_url(url),
            };
        }
        IndexError::Status {
            url: display_url(url),
            status: status.as_u16(),
            hint: status_hint(status.as_u16(), self.inner.retries + 1),
        }
    }

    fn classify(&self, url: &Url, e: &reqwest::Error) -> Failure {
        let message = self.scrub(&error_chain(e));
        let lower = message.to_ascii_lowercase();
        let shown = display_url(url);
        if [
            "certificate",
            "unknownissuer",
            "tls handshake",
            "invalid peer",
            "handshake failure",
        ]
        .iter()
        .any(|m| lower.contains(m))
        {
            Failure::Fatal(IndexError::Tls {
                url: shown,
                host: url.host_str().unwrap_or_default().to_owned(),
                message,
            })
        } else if e.is_timeout() || lower.contains("timed out") {
            Failure::Retry(IndexError::Timeout {
                url: shown,
                secs: self.inner.timeout_secs,
            })
        } else if e.is_builder() {
            Failure::Fatal(IndexError::InvalidUrl {
                url: shown,
                reason: message,
            })
        } else {
            Failure::Retry(IndexError::Connect {
                url: shown,
                message,
            })
        }
    }

    fn read_failure(&self, url: &Url, e: &std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return Failure::Retry(IndexError::Timeout {
                url: display_url(url),
                secs: self.inner.timeout_secs,
            });
        }
        Failure::Retry(IndexError::Connect {
            url: display_url(url),
            message: format!(
                "the connection broke while reading the body: {}",
                self.scrub(&e.to_string())
            ),
        })
    }

    /// GET with retries; 404 -> [`IndexError::NotFound`].
    fn get_url(&self, url: &Url) -> Result<Vec<u8>, IndexError> {
        if self.inner.offline {
            return Err(IndexError::Offline {
                url: display_url(url),
            });
        }
        self.with_retries(url, || {
            let mut resp = self.send_once(url, HeaderMap::new())?;
            let status = resp.status();
            if !status.is_success() {
                return Err(Failure::Fatal(self.status_error(url, status)));
            }
            let mut body = Vec::new();
            resp.read_to_end(&mut body)
                .map_err(|e| self.read_failure(url, &e))?;
            Ok(body)
        })
    }

    fn fetch_page(&self, url: &Url, accept: &str) -> Result<Option<Page>, IndexError> {
        let cache_path = self.inner.cache_dir.as_ref().map(|d| {
            d.join("http").join(format!(
                "{}.json",
                sha256_hex(format!("{url}\n{accept}").as_bytes())
            ))
        });
        let cached: Option<CacheEntry> = cache_path.as_deref().and_then(read_cache_entry);
        let now = unix_now();
        if let Some(c) = &cached {
            if self.inner.offline || now.saturating_sub(c.fetched_at) < c.max_age {
                debug!(url = %display_url(url), "page served from cache");
                return Ok(c.page());
            }
        }
        if self.inner.offline {
            return Err(IndexError::Offline {
                url: display_url(url),
            });
        }
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(accept) {
            headers.insert(ACCEPT, v);
        }
        if let Some(etag) = cached.as_ref().and_then(|c| c.etag.as_deref()) {
            if let Ok(v) = HeaderValue::from_str(etag) {
                headers.insert(IF_NONE_MATCH, v);
            }
        }
        let fetched = self.with_retries(url, || {
            let mut resp = self.send_once(url, headers.clone())?;
            let status = resp.status();
            let (max_age, store) = cache_policy(resp.headers());
            if status == StatusCode::NOT_MODIFIED && cached.is_some() {
                return Ok(Fetched::NotModified { max_age });
            }
            if status == StatusCode::NOT_FOUND {
                return Ok(Fetched::NotFound { max_age, store });
            }
            if !status.is_success() {
                return Err(Failure::Fatal(self.status_error(url, status)));
            }
            let header = |name| {
                resp.headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header(CONTENT_TYPE).unwrap_or_default();
            let etag = header(ETAG);
            let mut final_url = resp.url().clone();
            let _ = take_credentials(&mut final_url);
            let mut body = Vec::new();
            resp.read_to_end(&mut body)
                .map_err(|e| self.read_failure(url, &e))?;
            let body = String::from_utf8_lossy(&body).into_owned();
            Ok(Fetched::Body {
                entry: CacheEntry {
                    url: final_url.to_string(),
                    status: 200,
                    content_type,
                    etag,
                    fetched_at: now,
                    max_age: max_age.unwrap_or(DEFAULT_PAGE_MAX_AGE_SECS),
                    body,
                },
                store,
            })
        })?;
        let (entry, store) = match fetched {
            Fetched::NotModified { max_age } => {
                let mut entry = cached.expect("checked above");
                entry.fetched_at = now;
                if let Some(m) = max_age {
                    entry.max_age = m;
                }
                (entry, true)
            }
            Fetched::NotFound { max_age, store } => (
                CacheEntry {
                    url: url.to_string(),
                    status: 404,
                    content_type: String::new(),
                    etag: None,
                    fetched_at: now,
                    max_age: max_age.unwrap_or(DEFAULT_PAGE_MAX_AGE_SECS),
                    body: String::new(),
                },
                store,
            ),
            Fetched::Body { entry, store } => (entry, store),
        };
        if let (Some(path), true) = (cache_path, store) {
            match serde_json::to_vec(&entry) {
                Ok(bytes) => {
                    if let Err(e) = write_atomic(&path, &bytes) {
                        warn!(error = %e, "cannot write the page cache");
                    }
                }
                Err(e) => warn!(error = %e, "cannot serialise a cache entry"),
            }
        }
        Ok(entry.page())
    }

    // ---------------------------------------------------------------------
    // downloads

    /// Parses a file URL, moves any userinfo into the credential store.
    fn parse_file_url(&self, raw: &str) -> Result<Url, IndexError> {
        let mut url = Url::parse(raw.trim()).map_err(|e| IndexError::InvalidUrl {
            url: redact_url(raw),
            reason: e.to_string(),
        })?;
        if let Some(c) = take_credentials(&mut url) {
            if let Some(k) = host_key(&url) {
                self.creds().entry(k).or_insert(c);
            }
        }
        Ok(url)
    }

    fn files_cache_path(&self, sha256: &str, filename: &str) -> Option<PathBuf> {
        let dir = self.inner.cache_dir.as_ref()?;
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && is_safe_filename(filename)).then(|| {
            dir.join("files")
                .join(sha256.to_ascii_lowercase())
                .join(filename)
        })
    }

    fn download_http(
        &self,
        url: &Url,
        dest_dir: &Path,
        dest: &Path,
        expected: Option<&str>,
        filename: &str,
    ) -> Result<String, IndexError> {
        self.with_retries(url, || {
            let mut resp = self.send_once(url, HeaderMap::new())?;
            let status = resp.status();
            if !status.is_success() {
                return Err(Failure::Fatal(self.status_error(url, status)));
            }
            stream_verified(&mut resp, dest_dir, dest, expected, filename, |e| {
                self.read_failure(url, e)
            })
        })
    }

    fn copy_local(
        &self,
        url: &Url,
        dest_dir: &Path,
        dest: &Path,
        expected: Option<&str>,
        filename: &str,
    ) -> Result<String, IndexError> {
        let src = url.to_file_path().map_err(|()| IndexError::InvalidUrl {
            url: display_url(url),
            reason: "not a local path".to_owned(),
        })?;
        let same = match (fs_err::canonicalize(&src), fs_err::canonicalize(dest)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            let actual = refinery_store::sha256_file(&src)
                .map_err(|e| IndexError::io("cannot hash a local file", e))?;
            if let Some(exp) = expected {
                if exp != actual {
                    return Err(IndexError::HashMismatch {
                        file: filename.to_owned(),
                        expected: exp.to_owned(),
                        actual,
                    });
                }
            }
            return Ok(actual);
        }
        let mut reader = fs_err::File::open(&src)
            .map_err(|e| IndexError::io("cannot open a find-links file", e))?;
        stream_verified(&mut reader, dest_dir, dest, expected, filename, |e| {
            Failure::Fatal(IndexError::io(
                format!("cannot read {}", src.display()),
                std::io::Error::new(e.kind(), e.to_string()),
            ))
        })
        .map_err(Failure::into_error)
    }
}

/// Copies `reader` to a temp file beside `dest`, hashing; renames on success.
fn stream_verified(
    reader: &mut dyn Read,
    dest_dir: &Path,
    dest: &Path,
    expected: Option<&str>,
    filename: &str,
    on_read_error: impl Fn(&std::io::Error) -> Failure,
) -> Result<String, Failure> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{filename}."))
        .suffix(".part")
        .tempfile_in(dest_dir)
        .map_err(|e| {
            Failure::Fatal(IndexError::io(
                format!("cannot create a temporary file in {}", dest_dir.display()),
                e,
            ))
        })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(on_read_error(&e)),
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(|e| {
            Failure::Fatal(IndexError::io(
                format!("cannot write {}", tmp.path().display()),
                e,
            ))
        })?;
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(exp) = expected {
        if !exp.eq_ignore_ascii_case(&actual) {
            // `tmp` is deleted on drop.
            return Err(Failure::Fatal(IndexError::HashMismatch {
                file: filename.to_owned(),
                expected: exp.to_owned(),
                actual,
            }));
        }
    }
    tmp.flush()
        .map_err(|e| Failure::Fatal(IndexError::io("cannot flush a download", e)))?;
    tmp.persist(dest).map_err(|e| {
        Failure::Fatal(IndexError::io(
            format!("cannot move the download to {}", dest.display()),
            e.error,
        ))
    })?;
    Ok(actual)
}

fn dir_files(path: &Path, display: &str, project: &str) -> Result<Vec<DistFile>, IndexError> {
    let context = || format!("cannot read the --find-links location {display}; check --find-links");
    let abs = fs_err::canonicalize(path).map_err(|e| IndexError::io(context(), e))?;
    let candidates: Vec<PathBuf> = if abs.is_dir() {
        fs_err::read_dir(&abs)
            .map_err(|e| IndexError::io(context(), e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect()
    } else {
        vec![abs.clone()]
    };
    let mut out = Vec::new();
    for p in candidates {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !p.is_file() || name.starts_with('.') || !filename_matches_project(name, project) {
            continue;
        }
        let sha = refinery_store::sha256_file(&p)
            .map_err(|e| IndexError::io(format!("cannot hash {}", p.display()), e))?;
        let Ok(url) = Url::from_file_path(&p) else {
            continue;
        };
        let metadata = if name.to_ascii_lowercase().ends_with(".whl") {
            crate::wheel_metadata_bytes(&p, None).ok().flatten()
        } else {
            None
        };
        out.push(DistFile {
            filename: name.to_owned(),
            url: url.to_string(),
            sha256: Some(sha),
            requires_python: metadata
                .as_deref()
                .and_then(|m| crate::metadata_field(m, "Requires-Python"))
                .filter(|s| !s.is_empty()),
            yanked: false,
            has_metadata: metadata.is_some(),
            index: display.to_owned(),
        });
    }
    out.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(out)
}

// -------------------------------------------------------------------------
// helpers

fn parse_http_url(raw: &str, directory: bool) -> Result<(Url, Option<Cred>), IndexError> {
    let invalid = |reason: String| IndexError::InvalidUrl {
        url: redact_url(raw.trim()),
        reason,
    };
    let mut url = Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            "only http:// and https:// indexes are supported".to_owned(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host".to_owned()));
    }
    let cred = take_credentials(&mut url);
    url.set_fragment(None);
    if directory && !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok((url, cred))
}

fn take_credentials(url: &mut Url) -> Option<Cred> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let cred = Cred {
        user: percent_decode(url.username()),
        pass: url.password().map(percent_decode),
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(cred)
}

fn host_key(url: &Url) -> Option<HostKey> {
    Some((
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

fn display_url(url: &Url) -> String {
    redact_url(url.as_str())
}

/// How an index is named in `DistFile::index` and errors: as configured, minus
/// credentials (and minus the trailing slash we added).
fn index_display(raw: &str, url: &Url) -> String {
    let shown = display_url(url);
    if raw.trim().ends_with('/') {
        shown
    } else {
        shown.strip_suffix('/').map(str::to_owned).unwrap_or(shown)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `host`, `host:port`, `[v6]:port` or a URL -> (lowercase host, port).
fn parse_trusted_host(raw: &str) -> Option<(String, Option<u16>)> {
    let mut s = raw.trim();
    if let Some((_, rest)) = s.split_once("://") {
        s = rest;
    }
    let s = s.split('/').next().unwrap_or_default();
    let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_ascii_lowercase(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_ascii_lowercase(), port.parse().ok()))
        }
        _ => Some((s.to_ascii_lowercase(), None)),
    }
}

fn is_safe_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name != ".."
}

fn check_filename(filename: &str, url: &str) -> Result<(), IndexError> {
    if is_safe_filename(filename) {
        Ok(())
    } else {
        Err(IndexError::UnsafeFilename {
            filename: filename.to_owned(),
            url: redact_url(url),
        })
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(6)).min(Duration::from_secs(30))
}

/// The error and its sources, without reqwest's "error sending request for url
/// (…)" wrapper and hyper's "client error (Connect)" (the URL is shown anyway).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        let noise =
            text.starts_with("error sending request for url") || text.starts_with("client error (");
        if !noise && !parts.last().is_some_and(|l| l.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

/// `(max-age, may store)` from `Cache-Control`.
fn cache_policy(headers: &HeaderMap) -> (Option<u64>, bool) {
    let Some(cc) = headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) else {
        return (None, true);
    };
    let mut max_age = None;
    let mut store = true;
    for directive in cc.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" {
            store = false;
        } else if d == "no-cache" {
            max_age = Some(0);
        } else if let Some(v) = d.strip_prefix("max-age=") {
            if max_age.is_none() {
                max_age = v.trim_matches('"').parse().ok();
            }
        }
    }
    (max_age, store)
}

fn read_cache_entry(path: &Path) -> Option<CacheEntry> {
    let bytes = fs_err::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    refinery_store::write_atomic(path, bytes)
        .map_err(|e| IndexError::io(format!("cannot write {}", path.display()), e))
}

fn copy_atomic(src: &Path, dest: &Path) -> Result<(), IndexError> {
    refinery_store::copy_atomic(src, dest).map_err(|e| {
        IndexError::io(
            format!("cannot copy {} to {}", src.display(), dest.display()),
            e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_host_forms() {
        assert_eq!(
            parse_trusted_host("Example.com"),
            Some(("example.com".into(), None))
        );
        assert_eq!(
            parse_trusted_host("example.com:8080"),
            Some(("example.com".into(), Some(8080)))
        );
        assert_eq!(
            parse_trusted_host("http://u:p@example.com:81/simple"),
            Some(("example.com".into(), Some(81)))
        );
        assert_eq!(parse_trusted_host("[::1]:9"), Some(("::1".into(), Some(9))));
        assert_eq!(parse_trusted_host(""), None);
    }

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }

    #[test]
    fn unsafe_names() {
        for bad in ["", "..", ".hidden.whl", "a/b.whl", "a\\b.whl", "../x.whl"] {
            assert!(!is_safe_filename(bad), "{bad}");
        }
        assert!(is_safe_filename("foo-1.0+local-py3-none-any.whl"));
    }

    #[test]
    fn credentials_are_taken_out_of_urls() {
        let (url, cred) =
            parse_http_url("https://al%40ice:p%3Ass@host.example/simple", true).unwrap();
        assert_eq!(url.as_str(), "https://host.example/simple/");
        let cred = cred.unwrap();
        assert_eq!(cred.user, "al@ice");
        assert_eq!(cred.pass.as_deref(), Some("p:ss"));
    }

    #[test]
    fn config_debug_hides_secrets() {
        let config = IndexConfig {
            index_url: "https://bob:hunter22@idx.example/simple".into(),
            extra_index_urls: vec!["https://tok123456@other.example/simple".into()],
            username: Some("someuser".into()),
            password: Some("topsecretpw".into()),
            ..IndexConfig::default()
        };
        let dbg = format!("{config:?}");
        for secret in ["hunter22", "tok123456", "someuser", "topsecretpw"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        let client = IndexClient::new(IndexConfig {
            netrc_path: Some(PathBuf::new()),
            ..config
        })
        .unwrap();
        let dbg = format!("{client:?}");
        for secret in ["hunter22", "tok123456", "someuser", "topsecretpw"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("idx.example"));
    }

    #[test]
    fn plain_http_needs_trust() {
        let err = IndexClient::new(IndexConfig {
            index_url: "http://user:pw12345@idx.example/simple".into(),
            netrc_path: Some(PathBuf::new()),
            ..IndexConfig::default()
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, IndexError::Insecure { .. }), "{msg}");
        assert!(msg.contains("--trusted-host idx.example"), "{msg}");
        assert!(!msg.contains("pw12345"), "{msg}");
        IndexClient::new(IndexConfig {
            index_url: "http://idx.example:8080/simple".into(),
            trusted_hosts: vec!["idx.example".into()],
            netrc_path: Some(PathBuf::new()),
            ..IndexConfig::default()
        })
        .unwrap();
    }

    #[test]
    fn cache_control() {
        let mut h = HeaderMap::new();
        assert_eq!(cache_policy(&h), (None, true));
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("max-age=600, public"),
        );
        assert_eq!(cache_policy(&h), (Some(600), true));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assert_eq!(cache_policy(&h), (None, false));
    }
}
