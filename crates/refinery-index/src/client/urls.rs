//! URL, host and file-name parsing: credentials out of URLs, trusted hosts, safe names.

use url::{Host, Url};

use crate::{percent_decode, redact_url};

use super::error::IndexError;
use super::{Cred, HostKey};

// -------------------------------------------------------------------------
// helpers

pub(super) fn parse_http_url(
    raw: &str,
    directory: bool,
) -> Result<(Url, Option<Cred>), IndexError> {
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

pub(super) fn take_credentials(url: &mut Url) -> Option<Cred> {
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

pub(super) fn host_key(url: &Url) -> Option<HostKey> {
    Some((
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

pub(super) fn display_url(url: &Url) -> String {
    redact_url(url.as_str())
}

/// How an index is named in `DistFile::index` and errors: as configured, minus
/// credentials (and minus the trailing slash we added).
pub(super) fn index_display(raw: &str, url: &Url) -> String {
    let shown = display_url(url);
    if raw.trim().ends_with('/') {
        shown
    } else {
        shown.strip_suffix('/').map(str::to_owned).unwrap_or(shown)
    }
}

pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `host`, `host:port`, `[v6]:port` or a URL -> (lowercase host, port).
pub(super) fn parse_trusted_host(raw: &str) -> Option<(String, Option<u16>)> {
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

pub(super) fn is_safe_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name != ".."
}

pub(super) fn check_filename(filename: &str, url: &str) -> Result<(), IndexError> {
    if is_safe_filename(filename) {
        Ok(())
    } else {
        Err(IndexError::UnsafeFilename {
            filename: filename.to_owned(),
            url: redact_url(url),
        })
    }
}
