//! The PEP 503/691 index client.

mod cache;
mod config;
mod download;
mod error;
mod http;
mod urls;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};
use tracing::{debug, instrument, warn};
use url::Url;

use crate::parse::fragment_sha256;
use crate::{filename_matches_project, netrc, normalize_name, parse, redact_url};

use download::{copy_atomic, write_atomic};
use urls::{
    check_filename, display_url, host_key, index_display, is_safe_filename, parse_http_url,
    parse_trusted_host, take_credentials,
};

pub use config::{
    IndexConfig, DEFAULT_INDEX_URL, DEFAULT_PAGE_MAX_AGE_SECS, ENV_VARS, SIMPLE_ACCEPT,
};
pub use error::IndexError;

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

impl DistFile {
    /// A file outside any index (a pack's source tarball, a Rust release archive) at
    /// `url`, whose download must have the pinned `sha256` (lowercase hex); its name is
    /// the URL's last segment.
    pub fn pinned(url: &str, sha256: &str) -> DistFile {
        DistFile {
            filename: url.rsplit('/').next().unwrap_or(url).to_string(),
            url: url.to_string(),
            sha256: Some(sha256.to_string()),
            requires_python: None,
            yanked: false,
            has_metadata: false,
            index: url.to_string(),
        }
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
                what: self.scrub(&what.to_string()),
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
