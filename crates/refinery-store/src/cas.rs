//! Content-addressed store: `<root>/sha256/ab/cdef…` (the first two hex digits name the
//! folder, the other 62 the file). The caller chooses the root, e.g. `<cache>/cas/v1`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const BUF_SIZE: usize = 64 * 1024;

/// Errors of the content-addressed store.
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot write to the content-addressed store at {path}: {source}; \
         check free space and permissions of the cache folder"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{digest}` is not a sha256 digest (expected 64 hexadecimal digits)")]
    InvalidDigest { digest: String },
}

/// Lowercase hex sha256 of a file's content, read in 64 KiB chunks. The error names the path.
///
/// # Errors
/// The IO error of opening or reading `path`, naming it.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    digest_file::<Sha256>(path)
}

/// Lowercase hex digest of a file's content with hash `D` (e.g. `sha2::Sha384` for pip's
/// `--hash=sha384:…`), read in 64 KiB chunks. The error names the path.
///
/// # Errors
/// The IO error of opening or reading `path`, naming it.
pub fn digest_file<D: Digest>(path: &Path) -> io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Lowercase hex sha256 of `data` (64 digits).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// True if `digest` is 64 hexadecimal digits (either case).
pub fn is_valid_digest(digest: &str) -> bool {
    digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A content-addressed file store.
#[derive(Debug, Clone)]
pub struct Cas {
    root: PathBuf,
}

impl Cas {
    /// A store rooted at `root` (created lazily by [`Cas::put_file`]).
    pub fn new(root: impl Into<PathBuf>) -> Cas {
        Cas { root: root.into() }
    }

    /// The root folder of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies `src` into the store and returns its hex sha256.
    ///
    /// The file is hashed while it is copied to a temp file inside the store, then renamed
    /// into place, so a reader never sees a partial object. Storing the same content again
    /// is a no-op (an existing object of the wrong size, e.g. left by a crash of an older
    /// version, is replaced).
    pub fn put_file(&self, src: &Path) -> Result<String, CasError> {
        let input = fs_err::File::open(src).map_err(|source| CasError::Read {
            path: src.to_path_buf(),
            source,
        })?;
        self.put_reader(input, src)
    }

    /// Like [`Cas::put_file`] for bytes in memory (e.g. a wheel's METADATA): they are
    /// written only inside the store, never to a system temp folder.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<String, CasError> {
        self.put_reader(bytes, Path::new("<memory>"))
    }

    /// Streams `input` into the store; `src` names it in read errors.
    fn put_reader(&self, mut input: impl Read, src: &Path) -> Result<String, CasError> {
        let tmp_dir = self.root.join("tmp");
        fs_err::create_dir_all(&tmp_dir).map_err(|source| CasError::Write {
            path: tmp_dir.clone(),
            source,
        })?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".put.")
            .suffix(".tmp")
            .tempfile_in(&tmp_dir)
            .map_err(|source| CasError::Write {
                path: tmp_dir.clone(),
                source,
            })?;
        let write_err = |source| CasError::Write {
            path: tmp_dir.clone(),
            source,
        };

        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CasError::Read {
                        path: src.to_path_buf(),
                        source,
                    })
                }
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(write_err)?;
            size += n as u64;
        }
        let digest = hex::encode(hasher.finalize());
        let dest = self.path_of(&digest);

        if let Ok(meta) = fs_err::metadata(&dest) {
            if meta.is_file() && meta.len() == size {
                return Ok(digest); // already stored; the temp file is removed on drop
            }
        }
        tmp.as_file().sync_all().map_err(write_err)?;
        set_read_only(tmp.as_file()).map_err(write_err)?;
        let parent = dest.parent().expect("object paths have a parent");
        fs_err::create_dir_all(parent).map_err(|source| CasError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
        tmp.persist(&dest).map_err(|e| CasError::Write {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(digest)
    }

    /// Where the object with this digest lives (whether or not it exists).
    ///
    /// The digest is lowercased. An invalid digest maps to a path that never holds an
    /// object (`<root>/sha256/invalid`), so it cannot escape the store.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        if !is_valid_digest(sha256) {
            return self.root.join("sha256").join("invalid");
        }
        let digest = sha256.to_ascii_lowercase();
        self.root
            .join("sha256")
            .join(&digest[..2])
            .join(&digest[2..])
    }

    /// The object's path if the store holds it.
    pub fn get(&self, sha256: &str) -> Option<PathBuf> {
        if !is_valid_digest(sha256) {
            return None;
        }
        let path = self.path_of(sha256);
        path.is_file().then_some(path)
    }

    /// Rehashes the object: `Ok(true)` if it is present and intact, `Ok(false)` if it is
    /// missing or its content no longer matches its digest (put the file again to repair).
    pub fn verify(&self, sha256: &str) -> Result<bool, CasError> {
        if !is_valid_digest(sha256) {
            return Err(CasError::InvalidDigest {
                digest: sha256.to_string(),
            });
        }
        let path = self.path_of(sha256);
        if !path.is_file() {
            return Ok(false);
        }
        let actual = sha256_file(&path).map_err(|source| CasError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(actual.eq_ignore_ascii_case(sha256))
    }
}

#[cfg(unix)]
fn set_read_only(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
}

#[cfg(not(unix))]
fn set_read_only(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn sha256_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello");
        fs_err::write(&path, b"hello").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), HELLO_SHA);
        let err = sha256_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn bytes_and_files_of_one_content_are_one_object() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let src = dir.path().join("METADATA");
        std::fs::write(&src, b"Metadata-Version: 2.1\n").unwrap();
        let from_bytes = cas.put_bytes(b"Metadata-Version: 2.1\n").unwrap();
        assert_eq!(from_bytes, cas.put_file(&src).unwrap());
        assert!(cas.verify(&from_bytes).unwrap());
        // Nothing stays behind in the store's temp folder.
        assert_eq!(
            std::fs::read_dir(dir.path().join("cas/tmp"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn put_is_idempotent_and_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas/v1"));
        let src = dir.path().join("pkg-1.0-cp311-cp311-linux_s390x.whl");
        fs_err::write(&src, b"hello").unwrap();

        let first = cas.put_file(&src).unwrap();
        assert_eq!(first, HELLO_SHA);
        let expected = dir.path().join("cas/v1/sha256/2c").join(&HELLO_SHA[2..]);
        assert_eq!(cas.path_of(&first), expected);
        assert_eq!(cas.get(&first), Some(expected.clone()));
        assert_eq!(fs_err::read(&expected).unwrap(), b"hello");

        let second = cas.put_file(&src).unwrap();
        assert_eq!(first, second);
        // No temp files remain, one object only.
        let tmp_entries = fs_err::read_dir(dir.path().join("cas/v1/tmp"))
            .unwrap()
            .count();
        assert_eq!(tmp_entries, 0);
        let objects = fs_err::read_dir(dir.path().join("cas/v1/sha256/2c"))
            .unwrap()
            .count();
        assert_eq!(objects, 1);

        // Uppercase digests find the same object.
        assert_eq!(cas.get(&first.to_uppercase()), Some(expected));
    }

    #[test]
    fn verify_detects_corruption_and_put_repairs_it() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let src = dir.path().join("src");
        fs_err::write(&src, b"hello").unwrap();
        let digest = cas.put_file(&src).unwrap();
        assert!(cas.verify(&digest).unwrap());

        // Corrupt the object (same size, different bytes).
        let path = cas.path_of(&digest);
        fs_err::remove_file(&path).unwrap();
        fs_err::write(&path, b"jello").unwrap();
        assert!(!cas.verify(&digest).unwrap());

        // Corrupt with a different size: put replaces it.
        fs_err::remove_file(&path).unwrap();
        fs_err::write(&path, b"truncated!").unwrap();
        cas.put_file(&src).unwrap();
        assert!(cas.verify(&digest).unwrap());
    }

    #[test]
    fn missing_and_invalid_digests() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path());
        let absent = "00".repeat(32);
        assert_eq!(cas.get(&absent), None);
        assert!(!cas.verify(&absent).unwrap());
        assert_eq!(cas.get("../../etc/passwd"), None);
        assert!(cas.path_of("../../etc/passwd").starts_with(dir.path()));
        assert!(matches!(
            cas.verify("xyz"),
            Err(CasError::InvalidDigest { .. })
        ));
    }

    #[test]
    fn put_of_a_missing_source_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let missing = dir.path().join("nope.whl");
        let err = cas.put_file(&missing).unwrap_err();
        assert!(matches!(err, CasError::Read { .. }));
        assert!(err.to_string().contains("nope.whl"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn objects_are_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let src = dir.path().join("src");
        fs_err::write(&src, b"bytes").unwrap();
        let digest = cas.put_file(&src).unwrap();
        let mode = fs_err::metadata(cas.path_of(&digest))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o444);
    }
}
