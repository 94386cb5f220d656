//! The on-disk page cache: conditional requests, `Cache-Control` and freshness.

use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};
use url::Url;

use crate::sha256_hex;

use super::config::DEFAULT_PAGE_MAX_AGE_SECS;
use super::download::write_atomic;
use super::error::IndexError;
use super::urls::{display_url, take_credentials};
use super::{Failure, IndexClient, Page};

/// The tracing target of the code before it moved here, so that log lines and
/// `RUST_LOG` filters stay the same.
const LOG_TARGET: &str = "refinery_index::client";

#[derive(Serialize, Deserialize)]
pub(super) struct CacheEntry {
    pub(super) url: String,
    pub(super) status: u16,
    pub(super) content_type: String,
    etag: Option<String>,
    fetched_at: u64,
    max_age: u64,
    pub(super) body: String,
}

impl CacheEntry {
    pub(super) fn page(&self) -> Option<Page> {
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
/// `(max-age, may store)` from `Cache-Control`.
pub(super) fn cache_policy(headers: &HeaderMap) -> (Option<u64>, bool) {
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

impl IndexClient {
    pub(super) fn fetch_page(&self, url: &Url, accept: &str) -> Result<Option<Page>, IndexError> {
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
                debug!(target: LOG_TARGET, url = %display_url(url), "page served from cache");
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
                        warn!(target: LOG_TARGET, error = %e, "cannot write the page cache");
                    }
                }
                Err(e) => warn!(target: LOG_TARGET, error = %e, "cannot serialise a cache entry"),
            }
        }
        Ok(entry.page())
    }
}
