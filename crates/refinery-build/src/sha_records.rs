//! Small JSON records kept in the cache by the sha256 of the wheel they describe
//! (`<folder>/<sha256>.json`): what verification found, how a wheel was built. One writer
//! and one reader, so every kind of record is written atomically and read leniently.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::write_error::WriteFileError;

/// Writes `value` as the `what` record of the wheel `sha256` (hex) in `folder`, atomically.
///
/// # Errors
/// [`WriteFileError`] naming the record (`what`) and its file.
pub fn write<T: Serialize>(
    folder: &Path,
    sha256: &str,
    what: &'static str,
    value: &T,
) -> Result<(), WriteFileError> {
    let file = folder.join(format!("{sha256}.json"));
    let json = serde_json::to_vec_pretty(value)
        .map_err(|source| WriteFileError::Encode { what, source })?;
    refinery_store::write_atomic(&file, &json).map_err(WriteFileError::io(what, &file))
}

/// The record of the wheel `sha256` in `folder`, if there is a readable one (a missing or
/// unreadable record is as good as none: the caller does the work again).
pub fn read<T: DeserializeOwned>(folder: &Path, sha256: &str) -> Option<T> {
    serde_json::from_slice(&std::fs::read(folder.join(format!("{sha256}.json"))).ok()?).ok()
}
