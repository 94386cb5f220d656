//! Putting a wheel into the index: the wheel and its METADATA (PEP 658) go into the
//! content-addressed store, a row into the store's `published` table.

use std::io::Read;
use std::path::Path;

use refinery_pep::metadata::CoreMetadata;
use refinery_pep::WheelFilename;
use refinery_store::queue::PublishedFile;
use refinery_store::{Cas, QueueStore};

/// Largest METADATA file read from a wheel.
const MAX_METADATA: u64 = 4 * 1024 * 1024;

/// The wheel's `*.dist-info/METADATA` bytes and its parsed fields.
pub fn wheel_metadata(
    path: &Path,
    filename: &WheelFilename,
) -> Result<(Vec<u8>, CoreMetadata), String> {
    let file = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a valid wheel (zip): {e}", path.display()))?;
    let wanted_suffix = ".dist-info/METADATA";
    let name_prefix = filename.name.as_ref().replace('-', "_").to_lowercase();
    let mut candidates: Vec<String> = zip
        .file_names()
        .filter(|n| n.ends_with(wanted_suffix) && n.matches('/').count() == 1)
        .map(str::to_string)
        .collect();
    // The dist-info of this distribution first, if there are several.
    candidates.sort_by_key(|n| !n.to_lowercase().starts_with(&name_prefix));
    let member = candidates
        .first()
        .ok_or_else(|| format!("{} has no .dist-info/METADATA", path.display()))?
        .clone();
    let entry = zip.by_name(&member).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_METADATA)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let parsed =
        CoreMetadata::parse(&bytes).map_err(|e| format!("{}: {member}: {e}", path.display()))?;
    Ok((bytes, parsed))
}

/// Stores `wheel` and its metadata in `cas` and lists it in the index.
pub fn publish_wheel(
    store: &dyn QueueStore,
    cas: &Cas,
    wheel: &Path,
    origin: &str,
    job_id: Option<i64>,
) -> Result<PublishedFile, String> {
    let name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    publish_wheel_named(store, cas, wheel, &name, origin, job_id)
}

/// Like [`publish_wheel`] for a file whose path does not end in its wheel name (e.g. an
/// object of the content-addressed store).
pub fn publish_wheel_named(
    store: &dyn QueueStore,
    cas: &Cas,
    wheel: &Path,
    name: &str,
    origin: &str,
    job_id: Option<i64>,
) -> Result<PublishedFile, String> {
    let name = name.to_string();
    let parsed: WheelFilename = name
        .parse()
        .map_err(|e| format!("`{name}` is not a wheel file name: {e}"))?;
    let (metadata, core) = wheel_metadata(wheel, &parsed)?;
    let sha256 = cas.put_file(wheel).map_err(|e| e.to_string())?;
    let tmp = tempfile::NamedTempFile::new_in(std::env::temp_dir()).map_err(|e| e.to_string())?;
    fs_err::write(tmp.path(), &metadata).map_err(|e| e.to_string())?;
    let metadata_sha256 = cas.put_file(tmp.path()).map_err(|e| e.to_string())?;
    let size = fs_err::metadata(wheel).map(|m| m.len()).unwrap_or(0) as i64;
    let file = PublishedFile {
        filename: name,
        project: parsed.name.to_string(),
        version: parsed.version.to_string(),
        sha256,
        size,
        requires_python: core.requires_python.clone(),
        metadata_sha256: Some(metadata_sha256),
        origin: origin.to_string(),
        job_id,
        created_ms: refinery_store::queue::now_ms(),
    };
    store.publish(&file).map_err(|e| e.to_string())?;
    Ok(file)
}
