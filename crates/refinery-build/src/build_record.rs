//! How a wheel the refinery built was made, kept by its sha256 in the cache
//! (`<cache>/build-records/v1/<wheel sha256>.json`: the manifest entry's metadata when it
//! was built), so that a later run that takes the wheel from the cache reports the same
//! facts (how it was built, the reached tag, symbol versions, debug information, the
//! build's log) instead of an entry that says only `cached`.

use std::path::{Path, PathBuf};

use refinery_store::ManifestMetadata;

use crate::write_error::WriteFileError;

/// The records' folder below the cache.
pub const RECORDS_DIR: &str = "build-records/v1";

fn path(cache: &Path, sha256: &str) -> PathBuf {
    cache.join(RECORDS_DIR).join(format!("{sha256}.json"))
}

/// Keep `metadata` as the record of the built wheel `sha256` (hex), atomically.
///
/// # Errors
/// [`WriteFileError`] naming the record's file.
pub fn write(
    cache: &Path,
    sha256: &str,
    metadata: &ManifestMetadata,
) -> Result<(), WriteFileError> {
    const WHAT: &str = "build record";
    let file = path(cache, sha256);
    let json = serde_json::to_vec_pretty(metadata)
        .map_err(|source| WriteFileError::Encode { what: WHAT, source })?;
    refinery_store::write_atomic(&file, &json).map_err(WriteFileError::io(WHAT, &file))
}

/// The record of the built wheel `sha256`, if there is a readable one.
pub fn read(cache: &Path, sha256: &str) -> Option<ManifestMetadata> {
    serde_json::from_slice(&std::fs::read(path(cache, sha256)).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_missing_or_broken_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = ManifestMetadata {
            reached_tag: Some("manylinux2014_s390x.manylinux_2_17_s390x".into()),
            debug_info: Some("stripped".into()),
            ..ManifestMetadata::default()
        };
        write(dir.path(), &"ab".repeat(32), &metadata).unwrap();
        assert_eq!(read(dir.path(), &"ab".repeat(32)), Some(metadata));
        assert_eq!(read(dir.path(), &"cd".repeat(32)), None);
        std::fs::write(path(dir.path(), &"ef".repeat(32)), b"{not json").unwrap();
        assert_eq!(read(dir.path(), &"ef".repeat(32)), None);
    }
}
