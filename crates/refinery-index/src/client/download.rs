//! Downloads and local copies, streamed through sha256 verification and written atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use url::Url;

use crate::redact_url;

use super::error::IndexError;
use super::urls::{display_url, host_key, is_safe_filename, take_credentials};
use super::{Failure, IndexClient};

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
    // A temporary file is 0600; a download is an ordinary file that a web server serving
    // the output (or another user) must be able to read, like every other copy.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| {
                Failure::Fatal(IndexError::io(
                    format!("cannot make {} readable", tmp.path().display()),
                    e,
                ))
            })?;
    }
    tmp.persist(dest).map_err(|e| {
        Failure::Fatal(IndexError::io(
            format!("cannot move the download to {}", dest.display()),
            e.error,
        ))
    })?;
    Ok(actual)
}
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    refinery_store::write_atomic(path, bytes)
        .map_err(|e| IndexError::io(format!("cannot write {}", path.display()), e))
}

pub(super) fn copy_atomic(src: &Path, dest: &Path) -> Result<(), IndexError> {
    refinery_store::copy_atomic(src, dest).map_err(|e| {
        IndexError::io(
            format!("cannot copy {} to {}", src.display(), dest.display()),
            e,
        )
    })
}

impl IndexClient {
    // ---------------------------------------------------------------------
    // downloads

    /// Parses a file URL, moves any userinfo into the credential store.
    pub(super) fn parse_file_url(&self, raw: &str) -> Result<Url, IndexError> {
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

    pub(super) fn files_cache_path(&self, sha256: &str, filename: &str) -> Option<PathBuf> {
        let dir = self.inner.cache_dir.as_ref()?;
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && is_safe_filename(filename)).then(|| {
            dir.join("files")
                .join(sha256.to_ascii_lowercase())
                .join(filename)
        })
    }

    pub(super) fn download_http(
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

    pub(super) fn copy_local(
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
