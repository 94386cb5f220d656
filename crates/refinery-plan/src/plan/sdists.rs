//! The sdists of build nodes: downloading them hash-checked and reading their `build-
//! system.requires`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use refinery_index::{IndexClient, IndexError};
use refinery_pep::project_version::spelling_or_empty;
use refinery_pep::PackageName;

use crate::build_requires::{read_build_requires, BuildRequiresError};
use crate::hashes::{check_file, ExpectedHashes, FileCheck};
use crate::listings::{Listings, MAX_CONCURRENT_LISTINGS};
use crate::scan::ScannedFile;

use super::{Action, PlanError, PlanNode, SourceKind};

/// The tracing target of the code before it moved here, so that log lines and
/// `RUST_LOG` filters stay the same.
const LOG_TARGET: &str = "refinery_plan::plan";

/// Why the source file of a plan node cannot be had or read. The message becomes the
/// reason of a node that turns `missing`, so it names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The node has no source (nothing to fetch).
    #[error("no source")]
    NoSource,
    /// The listing fetched before no longer names the file (or could not be fetched).
    #[error("{filename} disappeared from the index")]
    Disappeared { filename: String },
    /// The download failed, or brought other bytes than the index announced
    /// ([`IndexError::HashMismatch`]).
    #[error("cannot download {filename}: {source}")]
    Download {
        filename: String,
        #[source]
        source: IndexError,
    },
    /// The sdist is there but its `build-system.requires` cannot be read.
    #[error("the sdist cannot be read: {0}")]
    Unreadable(#[source] BuildRequiresError),
}

impl SourceError {
    /// True when the index or a proxy served other bytes than the listing announced.
    fn is_hash_mismatch(&self) -> bool {
        matches!(
            self,
            SourceError::Download {
                source: IndexError::HashMismatch { .. },
                ..
            }
        )
    }
}

/// Download the sdists of the build nodes (hash-checked, concurrently) and read their
/// `build-system.requires`; a node whose sdist cannot be had becomes `missing`.
pub(super) fn read_all_build_requires(
    nodes: &mut [PlanNode],
    listings: &Listings,
    client: &IndexClient,
    dir: &Path,
) {
    let mut builds: Vec<&mut PlanNode> = nodes
        .iter_mut()
        .filter(|n| n.action == Action::Build)
        .collect();
    if builds.is_empty() {
        return;
    }
    let workers = builds.len().min(MAX_CONCURRENT_LISTINGS);
    let chunk = builds.len().div_ceil(workers);
    std::thread::scope(|scope| {
        for part in builds.chunks_mut(chunk) {
            scope.spawn(move || {
                for node in part.iter_mut() {
                    let read = build_requires_of(node, listings, client, dir);
                    match read {
                        Ok(requires) => node.build_requires = requires,
                        Err(reason) => {
                            node.action = Action::Missing;
                            node.reason = reason.to_string();
                            node.steps.clear();
                        }
                    }
                }
            });
        }
    });
}

/// The `build-system.requires` of a build node's sdist: from the cache when an sdist with
/// the same sha256 was read before, else from the sdist (downloaded, hash-checked).
fn build_requires_of(
    node: &PlanNode,
    listings: &Listings,
    client: &IndexClient,
    dir: &Path,
) -> Result<Vec<String>, SourceError> {
    let known = node
        .source
        .as_ref()
        .filter(|s| s.path.is_none())
        .and_then(|s| s.sha256.as_deref())
        .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|sha| {
            dir.join("build-requires")
                .join(format!("{}.json", sha.to_ascii_lowercase()))
        });
    if let Some(cached) = known.as_ref().and_then(|p| std::fs::read(p).ok()) {
        if let Ok(requires) = serde_json::from_slice::<Vec<String>>(&cached) {
            return Ok(requires);
        }
    }
    let path = sdist_path(node, listings, client, dir)?;
    let requires = read_build_requires(&path).map_err(SourceError::Unreadable)?;
    if let Some(cached) = known {
        if let Err(err) = refinery_store::write_atomic(
            &cached,
            &serde_json::to_vec(&requires).unwrap_or_default(),
        ) {
            tracing::warn!(target: LOG_TARGET, path = %cached.display(), %err, "cannot cache build requirements");
        }
    }
    Ok(requires)
}

/// The local path of a build node's sdist, downloading (hash-checked) when needed.
fn sdist_path(
    node: &PlanNode,
    listings: &Listings,
    client: &IndexClient,
    dir: &Path,
) -> Result<PathBuf, SourceError> {
    let source = node.source.as_ref().ok_or(SourceError::NoSource)?;
    if let Some(path) = &source.path {
        return Ok(PathBuf::from(path));
    }
    download_listed(node, &source.filename, listings, client, dir)
}

/// Download `filename` of the node's listing into `dir` (hash-checked).
fn download_listed(
    node: &PlanNode,
    filename: &str,
    listings: &Listings,
    client: &IndexClient,
    dir: &Path,
) -> Result<PathBuf, SourceError> {
    let file = match listings.get(node.name.normalized().as_ref()) {
        Some(Ok(files)) => files.iter().find(|f| f.filename == filename),
        _ => None,
    }
    .ok_or_else(|| SourceError::Disappeared {
        filename: filename.to_string(),
    })?;
    client
        .download(file, dir)
        .map_err(|source| SourceError::Download {
            filename: filename.to_string(),
            source,
        })
}

/// The local file of a node's source: the input file, the sdist in `sdist_dir`, or the
/// index wheel downloaded into `wheel_dir` (both hash-checked against the index's sha256).
pub(super) fn fetch_source(
    node: &PlanNode,
    listings: &Listings,
    client: &IndexClient,
    sdist_dir: &Path,
    wheel_dir: &Path,
) -> Result<PathBuf, SourceError> {
    let source = node.source.as_ref().ok_or(SourceError::NoSource)?;
    match source.kind {
        SourceKind::IndexWheel => {
            download_listed(node, &source.filename, listings, client, wheel_dir)
        }
        _ => sdist_path(node, listings, client, sdist_dir),
    }
}

/// pip's hash-checking mode over the plan: the source file of every reuse and build node,
/// and every input file of a package with hashes, must match one of its `--hash` values;
/// in `--require-hashes` mode every node needs some. A node whose file cannot be fetched
/// becomes missing. On success the index sources carry the sha256 of the checked bytes
/// (later downloads are held to it) and the hash they matched.
pub(super) fn check_hashes(
    nodes: &mut [PlanNode],
    scanned: &[ScannedFile],
    expected: &ExpectedHashes,
    fetch: impl Fn(&PlanNode) -> Result<PathBuf, SourceError>,
) -> Result<(), PlanError> {
    let mut problems = Vec::new();
    let describe_origin = |name: &str| {
        expected
            .by_name
            .get(name)
            .map(|p| p.origins.join(", "))
            .unwrap_or_default()
    };
    let mut checked_paths = BTreeSet::new();
    for node in nodes
        .iter_mut()
        .filter(|n| matches!(n.action, Action::Reuse | Action::Build))
    {
        let name = node.name.normalized().clone();
        let path = match fetch(node) {
            Ok(path) => path,
            // Other bytes than the index announced: in hash-checking mode that is a hash
            // failure like any other (exit 2), not a missing package.
            Err(reason) if reason.is_hash_mismatch() => {
                problems.push(format!(
                    "{} {}: the download is not the file the index announced ({reason})",
                    node.name,
                    node.version_str()
                ));
                continue;
            }
            Err(reason) => {
                node.action = Action::Missing;
                node.reason = format!("cannot fetch the file to check its hash: {reason}");
                node.steps.clear();
                continue;
            }
        };
        checked_paths.insert(path.clone());
        let source = node.source.as_mut().expect("fetched nodes have a source");
        let from = source
            .url
            .clone()
            .or(source.path.clone())
            .unwrap_or_default();
        match check_file(expected, &name, &path).map_err(|e| e.to_string()) {
            Ok(FileCheck::Matched { hash, origin }) => {
                if source.path.is_none() {
                    source.sha256 = crate::hashes::file_digest(&path, "sha256").ok();
                }
                source.checked_hash = Some(format!("{hash} ({origin})"));
            }
            Ok(FileCheck::Unchecked) => {}
            Ok(FileCheck::Mismatch { got }) => problems.push(format!(
                "{} ({} {} from {from}) has {}, but {} allows only {}",
                source.filename,
                node.name,
                spelling_or_empty(node.version.as_ref()),
                got.join(" / "),
                describe_origin(name.as_ref()),
                expected.by_name[name.as_ref()].hashes.join(", ")
            )),
            Ok(FileCheck::NoHash { sha256 }) => problems.push(format!(
                "{} {} ({}) has no --hash, which --require-hashes needs for every package, dependencies included; add `{}=={} --hash=sha256:{sha256}` if {from} is the file you want",
                node.name, spelling_or_empty(node.version.as_ref()), source.filename, node.name, spelling_or_empty(node.version.as_ref())
            )),
            Err(e) => problems.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    // Input files of packages with hashes, also those that are not a node's source.
    for file in scanned {
        let (Some(name), false) = (&file.name, checked_paths.contains(&file.path)) else {
            continue;
        };
        let Ok(name) = PackageName::new(name.clone()) else {
            continue;
        };
        if !expected.by_name.contains_key(name.as_ref()) {
            continue;
        }
        if let Ok(FileCheck::Mismatch { got }) = check_file(expected, &name, &file.path) {
            problems.push(format!(
                "input file {} has {}, but {} allows only {}",
                file.file,
                got.join(" / "),
                describe_origin(name.as_ref()),
                expected.by_name[name.as_ref()].hashes.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Hashes { problems })
    }
}
