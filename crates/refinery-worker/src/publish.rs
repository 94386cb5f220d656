//! Putting a wheel into the index: the wheel and its METADATA (PEP 658) go into the
//! content-addressed store, a row into the store's `published` table.
//!
//! What gets listed is checked first: the METADATA must name the project and version of
//! the file name, a worker's wheel must be its job's ([`publish_job_wheel`]), and a file
//! name once published keeps its bytes (the store refuses other bytes under that name).

use std::path::Path;

use refinery_pep::metadata::CoreMetadata;
use refinery_pep::{PackageName, ProjectVersion, WheelFilename};
use refinery_store::queue::{Job, PublishedFile};
use refinery_store::{Cas, QueueError, QueueStore};

/// Why a wheel was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Not a wheel the index can list: bad name, not a zip, no or inconsistent METADATA.
    #[error("{0}")]
    Invalid(String),
    /// The wheel's METADATA could not be read: not a zip, hostile, or no METADATA.
    #[error("{filename} is not a usable wheel: {source}")]
    Metadata {
        filename: String,
        #[source]
        source: refinery_index::WheelMetadataError,
    },
    /// A worker uploaded a wheel of another project or version than its job's.
    #[error(
        "{filename} is not a wheel of job {job} ({package} {version}); a job publishes only \
         its own package and version"
    )]
    NotTheJobs {
        filename: String,
        job: i64,
        package: String,
        version: String,
    },
    /// The store refused the row: [`QueueError::NameTaken`] when the name is already
    /// published with other bytes.
    #[error(transparent)]
    Store(#[from] QueueError),
    /// The content-addressed store could not take the file (a full disk among others).
    #[error(transparent)]
    Storage(#[from] refinery_store::CasError),
}

/// Refuses a METADATA whose `Name` or `Version` is not the file name's (pip refuses such
/// a wheel at install time; the index must not list it).
fn check_metadata_matches(filename: &WheelFilename, core: &CoreMetadata) -> Result<(), String> {
    if core.name != filename.name || core.version != filename.version {
        return Err(format!(
            "{filename}: its METADATA says `Name: {}` `Version: {}`, but the file name says \
             {} {}; rebuild the wheel so both agree",
            core.name, core.version, filename.name, filename.version
        ));
    }
    Ok(())
}

/// Refuses a wheel that is not `job`'s: another project (compared after PEP 503
/// normalization) or another version (compared as PEP 440 versions, so `1.0` is `1.0.0`).
///
/// # Errors
///
/// [`PublishError::NotTheJobs`] naming the file and the job.
pub fn check_job_wheel(job: &Job, filename: &WheelFilename) -> Result<(), PublishError> {
    let same_name = PackageName::new(job.package.clone()).is_ok_and(|n| n == filename.name);
    let same_version =
        ProjectVersion::new(job.version.as_str()).is_ok_and(|v| v == filename.version);
    if same_name && same_version {
        return Ok(());
    }
    Err(PublishError::NotTheJobs {
        filename: filename.to_string(),
        job: job.id,
        package: job.package.clone(),
        version: job.version.clone(),
    })
}

/// Publishes the wheel a worker made for `job`: only a wheel of the job's package and
/// version, whose METADATA agrees (checked by [`publish_wheel_named`]).
///
/// # Errors
///
/// [`PublishError::Invalid`] when `name` is not a wheel file name,
/// [`PublishError::NotTheJobs`] for another package or version than the job's, and the
/// errors of [`publish_wheel_named`].
pub fn publish_job_wheel(
    store: &dyn QueueStore,
    cas: &Cas,
    job: &Job,
    wheel: &Path,
    name: &str,
    origin: &str,
) -> Result<PublishedFile, PublishError> {
    check_job_wheel(job, &parse_wheel_name(name)?)?;
    publish_wheel_named(store, cas, wheel, name, origin, Some(job.id))
}

fn parse_wheel_name(name: &str) -> Result<WheelFilename, PublishError> {
    name.parse()
        .map_err(|e| PublishError::Invalid(format!("`{name}` is not a wheel file name: {e}")))
}

/// Stores `wheel` and its metadata in `cas` and lists it in the index.
///
/// # Errors
///
/// The errors of [`publish_wheel_named`], for the file's own name.
pub fn publish_wheel(
    store: &dyn QueueStore,
    cas: &Cas,
    wheel: &Path,
    origin: &str,
    job_id: Option<i64>,
) -> Result<PublishedFile, PublishError> {
    let name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    publish_wheel_named(store, cas, wheel, &name, origin, job_id)
}

/// Like [`publish_wheel`] for a file whose path does not end in its wheel name (e.g. an
/// object of the content-addressed store). The METADATA must name the file name's project
/// and version; a name already published with other bytes is refused by the store
/// ([`QueueError::NameTaken`]), the same bytes again are fine.
///
/// # Errors
///
/// [`PublishError::Invalid`] for a name that is not a wheel's or a METADATA that
/// disagrees with the file name, [`PublishError::Metadata`] when the METADATA cannot be
/// read (not a zip, hostile, none),
/// [`PublishError::Storage`] when the store cannot take the file and
/// [`PublishError::Store`] when the index refuses it (another file of that name).
pub fn publish_wheel_named(
    store: &dyn QueueStore,
    cas: &Cas,
    wheel: &Path,
    name: &str,
    origin: &str,
    job_id: Option<i64>,
) -> Result<PublishedFile, PublishError> {
    let parsed = parse_wheel_name(name)?;
    let (metadata, core) =
        refinery_index::read_wheel_metadata(wheel, &parsed).map_err(|source| {
            PublishError::Metadata {
                filename: name.to_string(),
                source,
            }
        })?;
    check_metadata_matches(&parsed, &core).map_err(PublishError::Invalid)?;
    let sha256 = cas.put_file(wheel)?;
    // PEP 658's METADATA goes straight into the store: no write outside the cache.
    let metadata_sha256 = cas.put_bytes(&metadata)?;
    let size = fs_err::metadata(wheel).map(|m| m.len()).unwrap_or(0) as i64;
    let file = PublishedFile {
        filename: name.to_string(),
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
    store.publish(&file)?;
    Ok(file)
}
