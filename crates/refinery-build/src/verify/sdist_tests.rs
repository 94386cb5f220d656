//! The test suite an sdist ships, for `--verify tests` when the catalog knows no
//! self-test: its top-level `tests/` folder (or `test/`), with a `conftest.py` next to
//! it, copied out of the archive (`.tar.gz` or `.zip`, PEP 625) into a folder of its own
//! and run with pytest against the installed wheel (the package's sources are left
//! behind, so the tests import the wheel).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most files copied; a larger suite is cut (and says so).
pub const MAX_FILES: usize = 5000;
/// The most bytes copied in all.
pub const MAX_BYTES: u64 = 128 * 1024 * 1024;

/// Why the tests could not be copied out of an sdist; names the archive or the file.
#[derive(Debug, thiserror::Error)]
pub enum SdistTestsError {
    /// A file or folder could not be opened, created or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {member} out of {}: {source}", sdist.display())]
    Copy {
        member: String,
        sdist: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a readable zip: {source}", sdist.display())]
    NotZip {
        sdist: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{} is corrupt: {source}", sdist.display())]
    CorruptZip {
        sdist: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{} is not a readable .tar.gz: {source}", sdist.display())]
    NotTarGz {
        sdist: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is corrupt: {source}", sdist.display())]
    Corrupt {
        sdist: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has a bad member name: {source}", sdist.display())]
    BadName {
        sdist: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SdistTestsError {
    let path = path.to_path_buf();
    move |source| SdistTestsError::Io {
        action,
        path,
        source,
    }
}

/// What [`extract_tests`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistTests {
    /// The folder's name as the sdist has it: `tests` or `test`.
    pub folder: String,
    /// Files copied (the folder's and a top-level `conftest.py`).
    pub files: usize,
}

/// Copy the sdist's top-level `tests/` folder (else `test/`) and a top-level
/// `conftest.py` into `dest` (created), keeping their paths below the sdist's root
/// folder. `Ok(None)` when the sdist has neither folder. Only regular files are copied;
/// members with `..` or absolute paths are skipped.
///
/// # Errors
/// [`SdistTestsError`] naming the archive or the file.
pub fn extract_tests(sdist: &Path, dest: &Path) -> Result<Option<SdistTests>, SdistTestsError> {
    let members = list_members(sdist)?;
    let folder = ["tests", "test"].into_iter().find(|folder| {
        members
            .iter()
            .any(|m| relative(m).is_some_and(|r| r.starts_with(&format!("{folder}/"))))
    });
    let Some(folder) = folder else {
        return Ok(None);
    };
    let wanted = |member: &str| {
        relative(member).is_some_and(|r| r.starts_with(&format!("{folder}/")) || r == "conftest.py")
    };
    let mut files = 0usize;
    let mut bytes = 0u64;
    let mut copy = |member: &str, reader: &mut dyn Read| -> Result<bool, SdistTestsError> {
        let Some(rel) = relative(member).filter(|_| wanted(member)) else {
            return Ok(true);
        };
        if files >= MAX_FILES || bytes >= MAX_BYTES {
            return Ok(false);
        }
        let target: PathBuf = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let mut out = std::fs::File::create(&target).map_err(io("write", &target))?;
        bytes +=
            std::io::copy(&mut reader.take(MAX_BYTES - bytes), &mut out).map_err(|source| {
                SdistTestsError::Copy {
                    member: member.to_string(),
                    sdist: sdist.to_path_buf(),
                    source,
                }
            })?;
        files += 1;
        Ok(true)
    };
    std::fs::create_dir_all(dest).map_err(io("create", dest))?;
    each_file(sdist, &mut copy)?;
    Ok(Some(SdistTests {
        folder: folder.to_string(),
        files,
    }))
}

/// The member's path below the sdist's root folder (`pkg-1.0/tests/x.py` → `tests/x.py`),
/// or `None` for the root itself and for unsafe paths.
fn relative(member: &str) -> Option<String> {
    let parts = refinery_plan::sdist_files::member_parts(member);
    if member.starts_with('/') || parts.len() < 2 || parts.contains(&"..") {
        return None;
    }
    Some(parts[1..].join("/"))
}

fn is_zip(sdist: &Path) -> bool {
    sdist.to_string_lossy().ends_with(".zip")
}

fn open(sdist: &Path) -> Result<std::fs::File, SdistTestsError> {
    std::fs::File::open(sdist).map_err(io("open", sdist))
}

/// The paths of the regular files of the archive.
fn list_members(sdist: &Path) -> Result<Vec<String>, SdistTestsError> {
    let mut names = Vec::new();
    each_file(sdist, &mut |member, _| {
        names.push(member.to_string());
        Ok(true)
    })?;
    Ok(names)
}

/// Call `visit` with each regular file's path and contents until it returns `false`.
fn each_file(
    sdist: &Path,
    visit: &mut dyn FnMut(&str, &mut dyn Read) -> Result<bool, SdistTestsError>,
) -> Result<(), SdistTestsError> {
    let sdist_path = || sdist.to_path_buf();
    if is_zip(sdist) {
        let mut archive =
            zip::ZipArchive::new(open(sdist)?).map_err(|source| SdistTestsError::NotZip {
                sdist: sdist_path(),
                source,
            })?;
        for index in 0..archive.len() {
            let mut member =
                archive
                    .by_index(index)
                    .map_err(|source| SdistTestsError::CorruptZip {
                        sdist: sdist_path(),
                        source,
                    })?;
            if !member.is_file() {
                continue;
            }
            let name = member.name().to_string();
            if !visit(&name, &mut member)? {
                break;
            }
        }
        return Ok(());
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(open(sdist)?));
    let entries = archive
        .entries()
        .map_err(|source| SdistTestsError::NotTarGz {
            sdist: sdist_path(),
            source,
        })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| SdistTestsError::Corrupt {
            sdist: sdist_path(),
            source,
        })?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|source| SdistTestsError::BadName {
                sdist: sdist_path(),
                source,
            })?
            .to_string_lossy()
            .into_owned();
        if !visit(&name, &mut entry)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(path: &Path, members: &[(&str, &str)]) {
        let file = std::fs::File::create(path).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        for (name, text) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn copies_the_tests_folder_and_the_root_conftest_only() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("pkg-1.0.tar.gz");
        tar_gz(
            &sdist,
            &[
                ("pkg-1.0/pkg/__init__.py", "X = 1\n"),
                ("pkg-1.0/conftest.py", "# root\n"),
                ("pkg-1.0/tests/test_a.py", "def test_a(): pass\n"),
                ("pkg-1.0/tests/data/blob.bin", "\u{1}\u{2}"),
                ("pkg-1.0/test/test_old.py", "def test_old(): pass\n"),
                ("pkg-1.0/docs/conftest.py", "# not this one\n"),
            ],
        );
        let dest = dir.path().join("out");
        let found = extract_tests(&sdist, &dest).unwrap().unwrap();
        assert_eq!(
            found,
            SdistTests {
                folder: "tests".into(),
                files: 3
            }
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("tests/test_a.py")).unwrap(),
            "def test_a(): pass\n"
        );
        assert!(dest.join("tests/data/blob.bin").is_file());
        assert!(dest.join("conftest.py").is_file());
        assert!(!dest.join("test").exists());
        assert!(!dest.join("pkg").exists());
        assert!(!dest.join("docs").exists());
    }

    #[test]
    fn takes_test_when_there_is_no_tests_and_none_when_neither() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("pkg-1.0.zip");
        {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&sdist).unwrap());
            let options = zip::write::SimpleFileOptions::default();
            zip.start_file("pkg-1.0/test/test_b.py", options).unwrap();
            std::io::Write::write_all(&mut zip, b"def test_b(): pass\n").unwrap();
            zip.finish().unwrap();
        }
        let found = extract_tests(&sdist, &dir.path().join("out"))
            .unwrap()
            .unwrap();
        assert_eq!(found.folder, "test");
        assert!(dir.path().join("out/test/test_b.py").is_file());

        let bare = dir.path().join("bare-1.0.tar.gz");
        tar_gz(&bare, &[("bare-1.0/bare.py", "")]);
        assert_eq!(
            extract_tests(&bare, &dir.path().join("none")).unwrap(),
            None
        );
    }

    #[test]
    fn a_corrupt_sdist_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("broken-1.0.tar.gz");
        std::fs::write(&sdist, b"not gzip at all").unwrap();
        let err = extract_tests(&sdist, &dir.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("broken-1.0.tar.gz"), "{err}");
    }
}
