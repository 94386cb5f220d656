//! The cache's records of a wheel carried over to the same build published under another
//! name: a control plane that refuses a name already published with other bytes
//! (`409 name_taken`) makes a worker take the next build number after the build wrote its
//! records, and the renamed file has other bytes (its WHEEL and RECORD), so records kept
//! by the wheel's sha256 (verification, provenance, build record) would describe a file
//! that was never published.

use std::path::Path;

use refinery_store::ManifestMetadata;

use crate::write_error::WriteFileError;

/// Writes the verification record and the provenance statement of the wheel `from_sha256`
/// again for `wheel_file` with `wheel_sha256`, points `metadata.provenance` at the new
/// statement and writes the build record of the new file from `metadata`. A record the
/// old file does not have is not invented.
///
/// # Errors
/// [`WriteFileError`] naming the first record that could not be written.
pub fn carry_over(
    cache: &Path,
    from_sha256: &str,
    wheel_file: &str,
    wheel_sha256: &str,
    metadata: &mut ManifestMetadata,
) -> Result<(), WriteFileError> {
    if let Some(verification) = crate::verify::record::read(cache, from_sha256) {
        crate::verify::record::write(cache, wheel_sha256, &verification)?;
    }
    if let Some(link) =
        crate::provenance::record_for_renamed(cache, from_sha256, wheel_file, wheel_sha256)?
    {
        metadata.provenance = Some(link);
    }
    crate::build_record::write(cache, wheel_sha256, metadata)
}
