//! The sdist unpacked into a fixed folder of the attempt, which the build frontend builds.
//!
//! Given an archive, pip unpacks it into `$TMPDIR/pip-req-build-XXXX` and uv into
//! `<out-dir>/.tmpXXXX`: random names that reach the wheel wherever a backend records its
//! source folder (maturin's CycloneDX SBOM names it, so two builds of one sdist differed in
//! that file and in RECORD). Unpacking it ourselves into `<attempt>/tree/` and handing the
//! frontend that folder gives every build of the sdist the same source path
//! (`/build/tree/<name>-<version>` in the sandbox), as the Reproducible Builds guidance asks
//! (<https://reproducible-builds.org/docs/build-path/>). Both frontends build a local
//! folder as they build the folder they unpack (pip ≥ 21.3 in place, uv `build --wheel`).

use std::path::{Path, PathBuf};

/// The attempt's folder, beside `src/` and `out/`, that the sdist is unpacked into.
pub const TREE_DIR: &str = "tree";

/// Why an sdist could not be unpacked; each names the archive and, where one is to blame,
/// the member.
#[derive(Debug, thiserror::Error)]
pub enum SourceTreeError {
    /// A format this module does not unpack (`.tar.bz2`, `.tar.xz`, ...): the frontend
    /// unpacks it itself.
    #[error("{} is not a .tar.gz or .zip sdist", path.display())]
    Format { path: PathBuf },
    #[error("cannot read the sdist {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot unpack the sdist {}: {source}", path.display())]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error(
        "the sdist {} has a member {member:?} that points outside its folder: refusing a hostile archive",
        path.display()
    )]
    Hostile { path: PathBuf, member: String },
    #[error("the sdist {} is empty", path.display())]
    Empty { path: PathBuf },
}

/// Unpack `sdist` (`.tar.gz`, `.tgz` or `.zip`) into `into` (created; expected empty) and
/// return the source tree to build: the archive's single top folder (`<name>-<version>`,
/// PEP 625 and the sdist specification), or `into` itself when the members have no common
/// top folder (as pip does). Members keep their times and permission bits (no owners, no
/// set-id bits), so a build sees the files as the author packed them.
///
/// # Errors
///
/// [`SourceTreeError::Format`] for another format; a member whose path leaves `into`
/// (absolute, `..`, through a link) fails the whole unpack with
/// [`SourceTreeError::Hostile`] rather than being skipped; read and write errors name the
/// archive.
pub fn unpack(sdist: &Path, into: &Path) -> Result<PathBuf, SourceTreeError> {
    let read = |source| SourceTreeError::Read {
        path: sdist.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(into).map_err(read)?;
    let name = sdist.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        unpack_tar_gz(sdist, into)?;
    } else if name.ends_with(".zip") {
        unpack_zip(sdist, into)?;
    } else {
        return Err(SourceTreeError::Format {
            path: sdist.to_path_buf(),
        });
    }
    let mut top = std::fs::read_dir(into)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    match top.len() {
        0 => Err(SourceTreeError::Empty {
            path: sdist.to_path_buf(),
        }),
        1 if top[0].file_type().map_err(read)?.is_dir() => Ok(top.remove(0).path()),
        _ => Ok(into.to_path_buf()),
    }
}

fn unpack_tar_gz(sdist: &Path, into: &Path) -> Result<(), SourceTreeError> {
    let read = |source| SourceTreeError::Read {
        path: sdist.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(sdist).map_err(read)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries().map_err(read)? {
        let mut entry = entry.map_err(read)?;
        let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // `unpack_in` refuses (false) a path that is absolute after `/` is stripped, holds
        // `..`, or would be written through a link that leaves `into`.
        if !entry.unpack_in(into).map_err(read)? {
            return Err(SourceTreeError::Hostile {
                path: sdist.to_path_buf(),
                member,
            });
        }
    }
    Ok(())
}

fn unpack_zip(sdist: &Path, into: &Path) -> Result<(), SourceTreeError> {
    let zip_error = |source| SourceTreeError::Zip {
        path: sdist.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(sdist).map_err(|source| SourceTreeError::Read {
        path: sdist.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    // `extract` would skip a member whose name leaves the folder; refuse the archive.
    for index in 0..archive.len() {
        let member = archive.by_index_raw(index).map_err(zip_error)?;
        if member.enclosed_name().is_none() {
            return Err(SourceTreeError::Hostile {
                path: sdist.to_path_buf(),
                member: member.name().to_string(),
            });
        }
    }
    archive.extract(into).map_err(zip_error)
}

/// Whether `sdist` names a format [`unpack`] reads (else the frontend gets the archive).
pub fn unpacks(sdist: &Path) -> bool {
    let name = sdist.to_string_lossy().to_ascii_lowercase();
    name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".zip")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn head(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn tar_gz(path: &Path, members: &[(&str, &[u8], u32)]) {
        let file = std::fs::File::create(path).unwrap();
        let mut builder =
            tar::Builder::new(flate2::write::GzEncoder::new(file, Default::default()));
        for (name, data, mode) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(1_600_000_000);
            header.set_entry_type(tar::EntryType::Regular);
            // `set_path` refuses `..`; a hostile archive writes the name raw.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn a_tar_gz_unpacks_into_its_top_folder_with_times_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("x-1.tar.gz");
        tar_gz(
            &sdist,
            &[
                ("x-1/pyproject.toml", b"[project]\n", 0o644),
                ("x-1/configure", b"#!/bin/sh\n", 0o4755),
            ],
        );
        let tree = unpack(&sdist, &dir.path().join(TREE_DIR)).unwrap();
        assert_eq!(tree, dir.path().join(TREE_DIR).join("x-1"));
        assert_eq!(head(&tree.join("pyproject.toml")), "[project]\n");
        let configure = std::fs::metadata(tree.join("configure")).unwrap();
        // Executable bits kept, set-id bits dropped.
        assert_eq!(configure.permissions().mode() & 0o7777, 0o755);
        let mtime = configure
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(mtime.as_secs(), 1_600_000_000);
    }

    #[test]
    fn members_without_a_common_folder_build_from_the_unpack_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("x-1.tar.gz");
        tar_gz(
            &sdist,
            &[("setup.py", b"", 0o644), ("x/__init__.py", b"", 0o644)],
        );
        let into = dir.path().join(TREE_DIR);
        assert_eq!(unpack(&sdist, &into).unwrap(), into);
    }

    #[test]
    fn a_hostile_tar_member_fails_the_unpack_and_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("x-1.tar.gz");
        tar_gz(
            &sdist,
            &[
                ("x-1/setup.py", b"", 0o644),
                ("x-1/../../escaped", b"", 0o644),
            ],
        );
        let err = unpack(&sdist, &dir.path().join(TREE_DIR)).unwrap_err();
        assert!(matches!(err, SourceTreeError::Hostile { .. }), "{err}");
        assert!(err.to_string().contains("x-1/../../escaped"), "{err}");
        assert!(!dir.path().join("escaped").exists());
    }

    #[test]
    fn a_zip_unpacks_and_a_hostile_zip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write_zip = |path: &Path, names: &[&str]| {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
            for name in names {
                zip.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                zip.write_all(b"print(1)\n").unwrap();
            }
            zip.finish().unwrap();
        };
        let good = dir.path().join("x-1.zip");
        write_zip(&good, &["x-1/setup.py"]);
        let tree = unpack(&good, &dir.path().join("good")).unwrap();
        assert_eq!(head(&tree.join("setup.py")), "print(1)\n");

        let bad = dir.path().join("y-1.zip");
        write_zip(&bad, &["y-1/setup.py", "../evil.py"]);
        let err = unpack(&bad, &dir.path().join("bad")).unwrap_err();
        assert!(err.to_string().contains("../evil.py"), "{err}");
        assert!(!dir.path().join("evil.py").exists());
    }

    #[test]
    fn other_formats_and_empty_archives_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let bz2 = dir.path().join("x-1.tar.bz2");
        std::fs::write(&bz2, b"BZh").unwrap();
        assert!(!unpacks(&bz2));
        let err = unpack(&bz2, &dir.path().join("a")).unwrap_err();
        assert!(matches!(err, SourceTreeError::Format { .. }), "{err}");

        let empty = dir.path().join("x-1.tar.gz");
        tar_gz(&empty, &[]);
        let err = unpack(&empty, &dir.path().join("b")).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }
}
