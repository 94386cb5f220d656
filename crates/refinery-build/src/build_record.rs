//! How a wheel the refinery built was made, kept by its sha256 in the cache
//! (`<cache>/build-records/v1/<wheel sha256>.json`: the manifest entry's metadata when it
//! was built), so that a later run that takes the wheel from the cache reports the same
//! facts (how it was built, the reached tag, symbol versions, debug information, the
//! build's log) instead of an entry that says only `cached`.

use std::path::Path;

use refinery_store::ManifestMetadata;

use crate::write_error::WriteFileError;

/// The records' folder below the cache.
pub const RECORDS_DIR: &str = "build-records/v1";

/// Keep `metadata` as the record of the built wheel `sha256` (hex), atomically.
///
/// # Errors
/// [`WriteFileError`] naming the record's file.
pub fn write(
    cache: &Path,
    sha256: &str,
    metadata: &ManifestMetadata,
) -> Result<(), WriteFileError> {
    crate::sha_records::write(&cache.join(RECORDS_DIR), sha256, "build record", metadata)
}

/// The record of the built wheel `sha256`, if there is a readable one.
pub fn read(cache: &Path, sha256: &str) -> Option<ManifestMetadata> {
    crate::sha_records::read(&cache.join(RECORDS_DIR), sha256)
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
        let broken = dir
            .path()
            .join(RECORDS_DIR)
            .join(format!("{}.json", "ef".repeat(32)));
        std::fs::write(broken, b"{not json").unwrap();
        assert_eq!(read(dir.path(), &"ef".repeat(32)), None);
    }
}
