//! Atomic file replacement: readers see either the old file or the new one, never half of it.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically.
///
/// The data goes to a temp file (`.<name>.XXXXXX.tmp`) in the same folder, is fsynced, then
/// renamed over `path`; the folder is fsynced afterwards so the rename survives a crash.
/// Missing parent folders are created. An existing file keeps its permissions; a new file
/// gets `0644` (the temp file would otherwise be `0600`). Every error names the path.
///
/// # Errors
/// The IO error of the step that failed, naming the path; the temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with(path, None, |file| file.write_all(bytes))
}

/// Writes `bytes` to `path` atomically with mode `0755` (a script that a running build may
/// be executing sees the old or the new text, never half of one). Otherwise as
/// [`write_atomic`].
///
/// # Errors
/// As [`write_atomic`].
pub fn write_executable_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with(path, Some(0o755), |file| file.write_all(bytes))
}

/// Copies `src` to `dest` atomically, streaming (a wheel need not fit in memory); the copy
/// is an ordinary file (`0644` when new, whatever the mode of `src`, e.g. a read-only CAS
/// object). Copying a file onto itself does nothing. Otherwise as [`write_atomic`].
///
/// # Errors
/// As [`write_atomic`], or `src` cannot be read (the error names it).
pub fn copy_atomic(src: &Path, dest: &Path) -> io::Result<()> {
    if src == dest {
        return Ok(());
    }
    let mut reader = fs_err::File::open(src)?;
    replace_with(dest, None, |file| io::copy(&mut reader, file).map(drop))
}

/// The one implementation behind the writers above: `fill` writes the temp file, `mode`
/// overrides the kept-or-`0644` permissions.
fn replace_with(
    path: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot write {}: the path does not end in a file name",
                path.display()
            ),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir)?;

    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| annotate(e, "create a temp file in folder", dir))?;
    let tmp_path = tmp.path().to_path_buf();
    fill(tmp.as_file_mut()).map_err(|e| annotate(e, "write temp file", &tmp_path))?;
    set_permissions(tmp.as_file(), path, mode)
        .map_err(|e| annotate(e, "set permissions of", tmp.path()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| annotate(e, "fsync temp file", tmp.path()))?;
    // On failure the temp file is deleted when the returned error's NamedTempFile drops.
    tmp.persist(path).map_err(|e| {
        let tmp_path = e.file.path().display().to_string();
        io::Error::new(
            e.error.kind(),
            format!(
                "failed to rename {tmp_path} to {}: {}",
                path.display(),
                e.error
            ),
        )
    })?;
    sync_dir(dir);
    Ok(())
}

fn annotate(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("failed to {what} {}: {err}", path.display()),
    )
}

#[cfg(unix)]
fn set_permissions(file: &std::fs::File, target: &Path, mode: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = mode.unwrap_or_else(|| match std::fs::metadata(target) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => 0o644,
    });
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_permissions(_file: &std::fs::File, _target: &Path, _mode: Option<u32>) -> io::Result<()> {
    Ok(())
}

/// Best effort: makes the rename durable. Not all platforms/filesystems allow fsync on a
/// folder, and the data itself is already safe, so errors are ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/file.json");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"first");
        write_atomic(&path, b"second, longer content").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"second, longer content");
        write_atomic(&path, b"").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"");
        assert!(leftovers(path.parent().unwrap()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_world_readable_and_existing_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"x").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"y").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn failure_names_the_path_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is an existing non-empty folder: rename must fail.
        let target = dir.path().join("occupied");
        fs_err::create_dir_all(target.join("inner")).unwrap();
        let err = write_atomic(&target, b"data").unwrap_err();
        assert!(
            err.to_string().contains(&target.display().to_string()),
            "{err}"
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn copies_are_ordinary_files_and_scripts_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("object");
        fs_err::write(&src, b"wheel bytes").unwrap();
        fs_err::set_permissions(&src, std::fs::Permissions::from_mode(0o444)).unwrap();
        let dest = dir.path().join("out/copy.whl");
        copy_atomic(&src, &dest).unwrap();
        assert_eq!(fs_err::read(&dest).unwrap(), b"wheel bytes");
        let mode = fs_err::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        copy_atomic(&dest, &dest).unwrap();
        assert_eq!(fs_err::read(&dest).unwrap(), b"wheel bytes");
        let err = copy_atomic(&dir.path().join("missing"), &dest).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");

        let script = dir.path().join("cc");
        write_executable_atomic(&script, b"#!/bin/sh\n").unwrap();
        let mode = fs_err::metadata(&script).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn path_without_file_name_is_rejected() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
