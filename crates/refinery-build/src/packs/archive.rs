//! A finished pack as one file, for serving it to remote workers: a gzip-compressed tar
//! (POSIX ustar/GNU, the `tar` crate) of the pack's folder, paths relative to it. The
//! reading side refuses anything that could land outside the folder it unpacks into.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a pack archive could not be written or unpacked; names the folder, the archive or
/// the entry.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading the folder or writing the archive failed.
    #[error("cannot archive {}: {source}", dir.display())]
    Write {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file or folder could not be read, created or changed (`action`: "read",
    /// "create", "set the mode of").
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The archive is damaged or holds an entry that must not be unpacked.
    #[error("the pack archive {} {problem}", archive.display())]
    Refused { archive: PathBuf, problem: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.to_path_buf();
    move |source| ArchiveError::Io {
        action,
        path,
        source,
    }
}

/// Writes the folder `dir` (a finished pack) as a `.tar.gz` into `out`: directories,
/// regular files (modes kept) and symbolic links (as links; e.g. libpng's
/// `libpng.a -> libpng16.a`), in name order with the files' own modification times, so
/// the same folder gives the same bytes. Returns the archive's sha256 (hex).
///
/// # Errors
/// [`ArchiveError::Write`] naming `dir`.
pub fn write(dir: &Path, out: impl Write) -> Result<String, ArchiveError> {
    let hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
    };
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        hashing,
        flate2::Compression::default(),
    ));
    builder.follow_symlinks(false);
    let failed = |source: std::io::Error| ArchiveError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        // `other` keeps walkdir's text, which names the entry.
        let entry = entry.map_err(|e| failed(std::io::Error::other(e)))?;
        let relative = entry
            .path()
            .strip_prefix(dir)
            .map_err(|e| failed(std::io::Error::other(e)))?;
        builder
            .append_path_with_name(entry.path(), relative)
            .map_err(failed)?;
    }
    let gz = builder.into_inner().map_err(failed)?;
    let mut hashing = gz.finish().map_err(failed)?;
    hashing.inner.flush().map_err(failed)?;
    Ok(hex::encode(hashing.hasher.finalize()))
}

/// Unpacks the `.tar.gz` at `archive` into the folder `dest` (created; it should be new
/// and empty). Refused, naming the entry: absolute paths, `..` components, hard links,
/// devices and FIFOs, and symbolic links whose target is absolute or leads out of `dest`.
/// Modes are kept without set-user/group-id bits.
///
/// # Errors
/// [`ArchiveError::Refused`] naming the archive and the entry; [`ArchiveError::Io`]
/// naming the file.
pub fn unpack(archive: &Path, dest: &Path) -> Result<(), ArchiveError> {
    let file = std::fs::File::open(archive).map_err(io("read", archive))?;
    std::fs::create_dir_all(dest).map_err(io("create", dest))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |problem: String| ArchiveError::Refused {
        archive: archive.to_path_buf(),
        problem,
    };
    let entries = tar
        .entries()
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("cannot be read: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("has an unreadable entry name: {e}")))?
            .into_owned();
        let relative = inside(&path).ok_or_else(|| {
            bad(format!(
                "has an entry outside its folder: {}",
                path.display()
            ))
        })?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&relative);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io("create", &target))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let parent = target.parent().unwrap_or(dest);
                std::fs::create_dir_all(parent).map_err(io("create", parent))?;
                // Never through a link: an earlier link entry named like a folder would
                // otherwise let this file land where the link points.
                refuse_links_on_the_way(dest, &relative).map_err(bad)?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(io("create", &target))?;
                std::io::copy(&mut entry, &mut out)
                    .map_err(|e| bad(format!("cannot be read at {}: {e}", path.display())))?;
                set_mode(&target, mode)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(|e| bad(format!("has an unreadable link: {e}")))?
                    .ok_or_else(|| bad(format!("has a link without target: {}", path.display())))?
                    .into_owned();
                let parent = relative.parent().unwrap_or(Path::new(""));
                if link.is_absolute() || inside(&parent.join(&link)).is_none() {
                    return Err(bad(format!(
                        "has a link leading out of its folder: {} -> {}",
                        path.display(),
                        link.display()
                    )));
                }
                let at = target.parent().unwrap_or(dest);
                std::fs::create_dir_all(at).map_err(io("create", at))?;
                refuse_links_on_the_way(dest, &relative).map_err(bad)?;
                std::os::unix::fs::symlink(&link, &target).map_err(io("create", &target))?;
            }
            other => {
                return Err(bad(format!(
                    "has an entry of a kind a pack never holds ({other:?}): {}",
                    path.display()
                )))
            }
        }
    }
    Ok(())
}

/// `path` as a path below its folder: `None` when it is absolute or a `..` leads above
/// the folder (lexically; `a/../b` is `b`).
fn inside(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Fails when a folder between `dest` and `relative` (its parents) is a symbolic link.
fn refuse_links_on_the_way(dest: &Path, relative: &Path) -> Result<(), String> {
    let mut at = dest.to_path_buf();
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!(
                    "puts {} below a link ({})",
                    relative.display(),
                    at.display()
                ));
            }
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ArchiveError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("set the mode of", path))
}

/// Passes writes through and hashes them.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
