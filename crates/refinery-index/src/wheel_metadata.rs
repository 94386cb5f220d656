//! Reading a wheel's `*.dist-info/METADATA` (PEP 427 layout, core metadata per PEP 566/643)
//! out of an untrusted archive: the one reader the index client, the planner's scan and the
//! worker's publisher share, so every one of them has the same zip-bomb and path guards.

use std::io::{self, Read};
use std::path::Path;

use refinery_pep::{CoreMetadata, MetadataError, WheelFilename};

use crate::zip_members::{declared_member_count, MAX_WHEEL_MEMBERS};

/// Largest METADATA read, in bytes; real ones are a few KiB to a few hundred KiB.
pub const MAX_METADATA_BYTES: u64 = 16 * 1024 * 1024;
/// Largest single member accepted as declared, in bytes (zip bomb guard).
const MAX_MEMBER_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Largest compression ratio accepted for members bigger than `RATIO_MIN_SIZE`.
const MAX_COMPRESSION_RATIO: u64 = 200;
const RATIO_MIN_SIZE: u64 = 64 * 1024 * 1024;

/// Why a wheel's METADATA could not be read. The texts are the human reason the wheel is
/// unusable (the scan shows them as they are); the path is the caller's to add.
#[derive(Debug, thiserror::Error)]
pub enum WheelMetadataError {
    #[error("cannot open the file: {source}")]
    Open {
        #[source]
        source: io::Error,
    },
    #[error("the archive declares {count} members; a wheel may have at most {MAX_WHEEL_MEMBERS}")]
    TooManyMembers { count: u64 },
    #[error("cannot read the archive's directory: {source}")]
    Directory {
        #[source]
        source: io::Error,
    },
    #[error(
        "not a readable zip archive ({source}): the file is truncated or corrupt, download it again"
    )]
    NotZip {
        #[source]
        source: zip::result::ZipError,
    },
    #[error("corrupt zip member #{index}: {source}")]
    CorruptMember {
        index: usize,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("archive member {name:?} points outside the wheel: refusing a hostile archive")]
    HostileName { name: String },
    #[error(
        "member {name} expands to {size} bytes from {compressed}: refusing a possible zip bomb"
    )]
    ZipBomb {
        name: String,
        size: u64,
        compressed: u64,
    },
    #[error("cannot read METADATA (corrupt data: {source})")]
    Read {
        #[source]
        source: io::Error,
    },
    #[error("no .dist-info/METADATA for {name} {version} in the archive")]
    Missing { name: String, version: String },
    #[error("unparsable METADATA: {source}")]
    Unparsable {
        #[source]
        source: MetadataError,
    },
}

/// Refuses an archive that declares more than [`MAX_WHEEL_MEMBERS`] members, before
/// anything parses its central directory.
///
/// # Errors
/// [`WheelMetadataError::Open`], [`WheelMetadataError::Directory`] or [`WheelMetadataError::TooManyMembers`].
pub fn check_wheel_member_count(path: &Path) -> Result<(), WheelMetadataError> {
    let mut file =
        std::fs::File::open(path).map_err(|source| WheelMetadataError::Open { source })?;
    match declared_member_count(&mut file) {
        Ok(Some(count)) if count > MAX_WHEEL_MEMBERS => {
            Err(WheelMetadataError::TooManyMembers { count })
        }
        Ok(_) => Ok(()),
        Err(source) => Err(WheelMetadataError::Directory { source }),
    }
}

/// The raw bytes of the wheel's `<dir>.dist-info/METADATA` (at most
/// [`MAX_METADATA_BYTES`]): the dist-info whose name normalizes to `project` when there is
/// one, else the first at the archive's top level; `None` when the archive has none.
/// Checks the member count, every member's name (no absolute paths, no `..`) and declared
/// size (no zip bombs) first.
///
/// # Errors
/// A [`WheelMetadataError`] when the archive cannot be read, is hostile or a zip bomb.
pub fn wheel_metadata_bytes(
    path: &Path,
    project: Option<&str>,
) -> Result<Option<Vec<u8>>, WheelMetadataError> {
    check_wheel_member_count(path)?;
    let file = std::fs::File::open(path).map_err(|source| WheelMetadataError::Open { source })?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|source| WheelMetadataError::NotZip { source })?;
    let wanted = project.map(crate::normalize_name);
    let mut first = None;
    let mut matching = None;
    for index in 0..archive.len() {
        let member = archive
            .by_index_raw(index)
            .map_err(|source| WheelMetadataError::CorruptMember { index, source })?;
        let name = member.name().to_string();
        check_member_name(&name)?;
        let (size, compressed) = (member.size(), member.compressed_size());
        if size > MAX_MEMBER_BYTES
            || (size > RATIO_MIN_SIZE && size / compressed.max(1) > MAX_COMPRESSION_RATIO)
        {
            return Err(WheelMetadataError::ZipBomb {
                name,
                size,
                compressed,
            });
        }
        let Some(dist) = metadata_dist_name(&name) else {
            continue;
        };
        first.get_or_insert(index);
        if matching.is_none() && wanted.as_deref() == Some(crate::normalize_name(dist).as_str()) {
            matching = Some(index);
        }
    }
    let Some(index) = matching.or(first) else {
        return Ok(None);
    };
    let member = archive
        .by_index(index)
        .map_err(|source| WheelMetadataError::CorruptMember { index, source })?;
    let mut bytes = Vec::new();
    member
        .take(MAX_METADATA_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|source| WheelMetadataError::Read { source })?;
    Ok(Some(bytes))
}

/// The METADATA of `wheel` (the file at `path`), as bytes and parsed; as
/// [`wheel_metadata_bytes`] with the wheel's project, and a missing METADATA is an error.
/// Whether its `Name`/`Version` agree with the file name is the caller's to check.
///
/// # Errors
/// As [`wheel_metadata_bytes`], and [`WheelMetadataError::Missing`] / [`WheelMetadataError::Unparsable`].
pub fn read_wheel_metadata(
    path: &Path,
    wheel: &WheelFilename,
) -> Result<(Vec<u8>, CoreMetadata), WheelMetadataError> {
    let bytes = wheel_metadata_bytes(path, Some(wheel.name.as_ref()))?.ok_or_else(|| {
        WheelMetadataError::Missing {
            name: wheel.name.to_string(),
            version: wheel.version.to_string(),
        }
    })?;
    let parsed =
        CoreMetadata::parse(&bytes).map_err(|source| WheelMetadataError::Unparsable { source })?;
    Ok((bytes, parsed))
}

/// Member names must stay inside the archive: no absolute paths, no `..`, no drive letters.
fn check_member_name(name: &str) -> Result<(), WheelMetadataError> {
    let hostile = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|part| part == "..")
        || name.as_bytes().get(1) == Some(&b':');
    if hostile {
        Err(WheelMetadataError::HostileName {
            name: name.to_string(),
        })
    } else {
        Ok(())
    }
}

/// The distribution name of a top-level `<name>-<version>.dist-info/METADATA` member.
fn metadata_dist_name(member: &str) -> Option<&str> {
    let dir = member.strip_suffix(".dist-info/METADATA")?;
    if dir.contains('/') {
        return None;
    }
    Some(dir.rsplit_once('-').map_or(dir, |(name, _version)| name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_member_names_are_refused() {
        for name in ["/etc/passwd", "../x", "a/../../b", "C:/x", "a\\..\\b"] {
            assert!(check_member_name(name).is_err(), "{name}");
        }
        for name in ["six.py", "six-1.16.0.dist-info/METADATA", "a/b..c/d"] {
            assert!(check_member_name(name).is_ok(), "{name}");
        }
    }

    fn wheel(dir: &Path, members: &[(&str, &[u8])]) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join("w.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, data) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    #[test]
    fn the_projects_dist_info_wins_over_a_vendored_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(
            dir.path(),
            &[
                ("vendored-2.0.dist-info/METADATA", b"Name: vendored\n"),
                ("My_Pkg-1.0.dist-info/METADATA", b"Name: my-pkg\n"),
            ],
        );
        let mine = wheel_metadata_bytes(&path, Some("my.pkg"))
            .unwrap()
            .unwrap();
        assert_eq!(mine, b"Name: my-pkg\n");
        let any = wheel_metadata_bytes(&path, None).unwrap().unwrap();
        assert_eq!(any, b"Name: vendored\n");
        let none = wheel(dir.path(), &[("nested/x.dist-info/METADATA", b"")]);
        assert!(wheel_metadata_bytes(&none, None).unwrap().is_none());
    }

    #[test]
    fn hostile_and_corrupt_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hostile = wheel(dir.path(), &[("../evil", b"x")]);
        assert!(matches!(
            wheel_metadata_bytes(&hostile, None),
            Err(WheelMetadataError::HostileName { .. })
        ));
        let junk = dir.path().join("junk.whl");
        std::fs::write(&junk, b"not a zip").unwrap();
        let err = wheel_metadata_bytes(&junk, None).unwrap_err();
        assert!(err.to_string().contains("truncated or corrupt"), "{err}");
    }
}
