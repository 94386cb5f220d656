//! PEP 503 / PEP 691 "simple" package index client and renderer.
//!
//! * [`IndexClient`] queries one primary index, extra indexes and `--find-links`
//!   locations, with authentication (config, URL userinfo, `~/.netrc`), extra CA
//!   bundles, trusted hosts, an on-disk cache, retries and sha256 verification.
//! * [`render`] produces the pages of our own published `/simple` index.
//! * [`testing`] is a tiny local index server for hermetic tests (also used by
//!   other crates' integration tests).
//!
//! Secrets never leave this crate in readable form: every URL in an error, a
//! `Debug` output or a tracing event goes through [`redact_url`].
//!
//! The client is blocking (it wraps `reqwest::blocking`); from async code call it
//! inside `tokio::task::spawn_blocking`.

pub mod client;
mod netrc;
mod parse;
mod pip_env;
pub mod render;
pub mod static_pages;
pub mod testing;
pub mod wheel_metadata;
pub mod zip_members;

pub use client::{DistFile, IndexClient, IndexConfig, IndexError};
pub use refinery_pep::redact_url;
pub use refinery_store::sha256_hex;
pub use render::{render_project_page_html, render_project_page_json, render_root_index};
pub use wheel_metadata::{read_wheel_metadata, wheel_metadata_bytes, WheelMetadataError};

/// File name endings recognised as Python distributions (wheels and sdists).
pub const DIST_EXTENSIONS: &[&str] = &[
    ".whl", ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar",
];

/// PEP 503 name normalisation: lowercase, and every run of `-`, `_`, `.`
/// becomes a single `-` (exactly `re.sub(r"[-_.]+", "-", name).lower()`).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
                in_run = true;
            }
        } else {
            in_run = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The distribution extension of `filename` (`.whl`, `.tar.gz`, …), if any.
pub fn dist_extension(filename: &str) -> Option<&'static str> {
    let lower = filename.to_ascii_lowercase();
    DIST_EXTENSIONS
        .iter()
        .find(|ext| lower.ends_with(*ext) && lower.len() > ext.len())
        .copied()
}

/// The normalised project name of a wheel or sdist file name, if it looks like one.
///
/// Wheels: the first `-`-separated component. Sdists: everything before the first
/// `-` that is followed by a digit (`foo-bar-1.0.tar.gz` -> `foo-bar`).
pub fn project_name_from_filename(filename: &str) -> Option<String> {
    let ext = dist_extension(filename)?;
    let stem = &filename[..filename.len() - ext.len()];
    let name = if ext == ".whl" {
        stem.split('-').next()?
    } else {
        let bytes = stem.as_bytes();
        let idx = (0..bytes.len())
            .find(|&i| bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))?;
        &stem[..idx]
    };
    if name.is_empty() {
        None
    } else {
        Some(normalize_name(name))
    }
}

/// Whether `filename` is a distribution of the (normalised) `project`.
pub fn filename_matches_project(filename: &str, project: &str) -> bool {
    let Some(ext) = dist_extension(filename) else {
        return false;
    };
    let project = normalize_name(project);
    let stem = &filename[..filename.len() - ext.len()];
    if ext == ".whl" {
        return stem
            .split('-')
            .next()
            .is_some_and(|n| normalize_name(n) == project);
    }
    let bytes = stem.as_bytes();
    (0..bytes.len()).any(|i| {
        if bytes[i] != b'-' {
            return false;
        }
        let rest = &bytes[i + 1..];
        let version_like = match rest {
            [d, ..] if d.is_ascii_digit() => true,
            [b'v' | b'V', d, ..] if d.is_ascii_digit() => true,
            _ => false,
        };
        version_like && normalize_name(&stem[..i]) == project
    })
}

/// The first value of header `field` (case-insensitive) in core metadata.
pub fn metadata_field(metadata: &[u8], field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(metadata);
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            if key.trim().eq_ignore_ascii_case(field) {
                return Some(value.trim().to_owned());
            }
        }
    }
    None
}

/// Percent-decodes `s` (invalid escapes are kept literally; invalid UTF-8 is replaced).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a single path segment (keeps unreserved characters and `+`, `!`).
pub(crate) fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'!') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard (or URL-safe, unpadded) base64.
pub fn base64_encode(data: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if !url_safe {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("A-_-b"), "a-b");
        assert_eq!(normalize_name("numpy"), "numpy");
    }

    #[test]
    fn names_from_filenames() {
        assert_eq!(
            project_name_from_filename("Foo_Bar-1.0-py3-none-any.whl").as_deref(),
            Some("foo-bar")
        );
        assert_eq!(
            project_name_from_filename("foo-bar-1.0.tar.gz").as_deref(),
            Some("foo-bar")
        );
        assert_eq!(project_name_from_filename("README.txt"), None);
        assert!(filename_matches_project("foo-bar-1.0.tar.gz", "foo-bar"));
        assert!(!filename_matches_project("foo-bar-1.0.tar.gz", "foo"));
        assert!(filename_matches_project("Foo.Bar-2.0.zip", "foo-bar"));
        assert!(filename_matches_project(
            "foo_bar-1.0-py3-none-any.whl",
            "Foo-Bar"
        ));
        assert!(!filename_matches_project(
            "foo_barx-1.0-py3-none-any.whl",
            "foo-bar"
        ));
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode("a%2Bb%zz%4"), "a+b%zz%4");
        assert_eq!(percent_encode_segment("a b+c"), "a%20b+c");
    }

    #[test]
    fn base64() {
        assert_eq!(base64_encode(b"user:pass", false), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"ab", false), "YWI=");
        assert_eq!(base64_encode(b"ab", true), "YWI");
        assert_eq!(base64_encode(b"", false), "");
    }
}
