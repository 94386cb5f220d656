//! Index configuration: defaults, the environment variables it reads and their parsing.

use std::fmt;
use std::path::PathBuf;

use crate::redact_url;

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
