//! Classify the files of an input folder: which wheels already work on the target,
//! which must be rebuilt, and which cannot be used at all (with the reason).

use std::path::{Path, PathBuf};

use refinery_pep::{
    Compatibility, CoreMetadata, ProjectVersion, SdistFilename, Target, WheelFilename,
};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Reuse,
    Rebuild,
    Invalid,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decision::Reuse => "reuse",
            Decision::Rebuild => "rebuild",
            Decision::Invalid => "invalid",
        })
    }
}

/// What kind of input file a scanned entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Wheel,
    Sdist,
    Other,
}

/// One scanned input file.
#[derive(Debug, Clone, Serialize)]
pub struct ScannedFile {
    /// File name inside the input folder.
    pub file: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub kind: FileKind,
    pub name: Option<String>,
    /// The version of the file name, normalized (`null` when the name does not parse).
    pub version: Option<ProjectVersion>,
    pub tags: Vec<String>,
    pub decision: Decision,
    pub reason: String,
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the input folder {path}: {source}\nhint: check that the folder exists and is readable, or pass another --input")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Files in the input folder that are not distributions but inputs of their own kind.
#[must_use]
pub fn is_requirements_file(file_name: &str) -> bool {
    file_name.ends_with(".txt") || file_name.ends_with(".in") || file_name == "pylock.toml"
}

/// List the distribution files of `input` (sorted, top level only).
///
/// # Errors
///
/// [`ScanError::ReadDir`] naming `input` when it cannot be listed.
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>, ScanError> {
    let read_dir = |source| ScanError::ReadDir {
        path: input.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(input).map_err(read_dir)? {
        let entry = entry.map_err(read_dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || is_requirements_file(&name) {
            continue;
        }
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Scan every distribution file in `input` for `target`, in parallel, in file-name order.
///
/// # Errors
///
/// [`ScanError::ReadDir`] naming `input` when it cannot be listed; a file that cannot
/// be read or parsed is scanned as `invalid` with the reason instead.
///
/// # Panics
///
/// When a scan thread panicked (a bug: [`scan_file`] never fails).
pub fn scan_dir(input: &Path, target: &Target) -> Result<Vec<ScannedFile>, ScanError> {
    let files = input_files(input)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8);
    let chunk = files.len().div_ceil(workers).max(1);
    let mut results: Vec<ScannedFile> = Vec::with_capacity(files.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| scan_file(p, target))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            results.extend(handle.join().expect("scan worker panicked"));
        }
    });
    Ok(results)
}

/// Classify one file. Never fails: problems become `invalid` with a reason.
#[must_use]
pub fn scan_file(path: &Path, target: &Target) -> ScannedFile {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut scanned = ScannedFile {
        file: file.clone(),
        path: path.to_path_buf(),
        kind: FileKind::Other,
        name: None,
        version: None,
        tags: Vec::new(),
        decision: Decision::Invalid,
        reason: String::new(),
        requires_dist: Vec::new(),
        requires_python: None,
        size,
    };
    if file.ends_with(".whl") {
        scanned.kind = FileKind::Wheel;
        scan_wheel(path, &file, target, &mut scanned);
    } else if let Ok(sdist) = file.parse::<SdistFilename>() {
        scanned.kind = FileKind::Sdist;
        scanned.name = Some(sdist.name.to_string());
        scanned.version = Some(ProjectVersion::from(&sdist.version));
        scanned.decision = Decision::Rebuild;
        scanned.reason = "source distribution: it will be built for the target".to_string();
    } else {
        scanned.reason = "not a wheel (.whl) or a source distribution (.tar.gz, .zip): remove it from the input folder".to_string();
    }
    scanned
}

fn scan_wheel(path: &Path, file: &str, target: &Target, scanned: &mut ScannedFile) {
    let wheel: WheelFilename = match file.parse() {
        Ok(wheel) => wheel,
        Err(err) => {
            scanned.reason = format!("invalid wheel filename: {err}");
            return;
        }
    };
    scanned.name = Some(wheel.name.to_string());
    scanned.version = Some(ProjectVersion::from(&wheel.version));
    scanned.tags = wheel.tags().iter().map(ToString::to_string).collect();
    let metadata = match read_wheel_metadata(path, &wheel) {
        Ok(metadata) => metadata,
        Err(reason) => {
            scanned.reason = reason.to_string();
            return;
        }
    };
    scanned.requires_dist = metadata.requires_dist.clone();
    scanned.requires_python = metadata.requires_python.clone();
    if metadata.name != wheel.name || metadata.version != wheel.version {
        scanned.reason = format!(
            "the filename says {} {} but METADATA says {} {}: the file was renamed or is corrupt",
            wheel.name, wheel.version, metadata.name, metadata.version
        );
        return;
    }
    if let Some(problem) = wheel_format_problem(path, &wheel) {
        scanned.reason = problem;
        return;
    }
    // pip refuses a wheel whose Requires-Python excludes the interpreter (PEP 345; an
    // unparsable one admits, as in the plan's index files).
    if let Some(spec) = metadata.requires_python.as_deref() {
        if !target.admits_requires_python(spec) {
            scanned.reason = format!(
                "its METADATA says Requires-Python {spec}, which excludes CPython {}: pip \
                 refuses to install it; use a version of {} that supports CPython {}",
                target.python_str(),
                wheel.name,
                target.python_str()
            );
            return;
        }
    }
    match target.compatibility(&wheel) {
        Compatibility::Compatible { .. } if is_pure(&wheel) => {
            match crate::foreign_elf::foreign_elf_members(path, 3) {
                Ok(foreign) if !foreign.is_empty() => {
                    scanned.decision = Decision::Rebuild;
                    scanned.reason = format!(
                        "tagged {} but carries binaries for another machine: {}; it cannot run on s390x, so it will be built from its sdist",
                        wheel.tags().iter().map(ToString::to_string).collect::<Vec<_>>().join("."),
                        crate::foreign_elf::describe(&foreign)
                    );
                }
                Ok(_) => {
                    scanned.decision = Decision::Reuse;
                    scanned.reason = format!(
                        "installs as is on CPython {} {}",
                        target.python_str(),
                        target.platform_tag()
                    );
                }
                Err(reason) => scanned.reason = reason.to_string(),
            }
        }
        Compatibility::Compatible { .. } => {
            scanned.decision = Decision::Reuse;
            scanned.reason = format!(
                "installs as is on CPython {} {}",
                target.python_str(),
                target.platform_tag()
            );
        }
        Compatibility::Incompatible { reason } => {
            scanned.decision = Decision::Rebuild;
            scanned.reason = reason;
        }
    }
}

/// What keeps installers from installing the wheel at `path` by the binary distribution
/// format (packaging.python.org, "Binary distribution format"): no `.dist-info/WHEEL` or
/// `.dist-info/RECORD` at its top (pip fails on either), or a `Wheel-Version` whose major
/// version is not 1 (an installer must refuse a newer major). `None` when it is
/// installable; call it on a wheel whose METADATA was read (its members are checked).
fn wheel_format_problem(path: &Path, wheel: &WheelFilename) -> Option<String> {
    let archive = zip::ZipArchive::new(std::fs::File::open(path).ok()?).ok()?;
    let dist_infos: Vec<&str> = archive
        .file_names()
        .filter_map(|n| n.split_once(".dist-info/").map(|(dir, _)| dir))
        .filter(|dir| !dir.contains('/'))
        .collect();
    // The project's own dist-info (names compare normalized), else the first.
    let wanted = refinery_index::normalize_name(wheel.name.as_ref());
    let dist_info = dist_infos
        .iter()
        .find(|dir| {
            dir.split_once('-')
                .is_some_and(|(name, _)| refinery_index::normalize_name(name) == wanted)
        })
        .or(dist_infos.first())
        .map(|dir| format!("{dir}.dist-info"))?;
    let mut archive = archive;
    let wheel_text = archive
        .by_name(&format!("{dist_info}/WHEEL"))
        .ok()
        .map(|member| {
            use std::io::Read;
            let mut text = String::new();
            let _ = member.take(64 * 1024).read_to_string(&mut text);
            text
        });
    let Some(wheel_text) = wheel_text else {
        return Some(format!(
            "it has no {dist_info}/WHEEL: pip cannot install it; rebuild the wheel"
        ));
    };
    if archive.by_name(&format!("{dist_info}/RECORD")).is_err() {
        return Some(format!(
            "it has no {dist_info}/RECORD: pip cannot install it; rebuild the wheel"
        ));
    }
    let Some(version) = wheel_text
        .lines()
        .find_map(|l| l.strip_prefix("Wheel-Version:"))
        .map(str::trim)
    else {
        return Some(format!(
            "its {dist_info}/WHEEL has no Wheel-Version: installers refuse it; rebuild the wheel"
        ));
    };
    let major = version.split('.').next().unwrap_or(version);
    (major != "1").then(|| {
        format!(
            "its WHEEL says Wheel-Version {version}: installers refuse a wheel format other \
             than 1.x; rebuild it with a current build backend"
        )
    })
}

/// Whether every platform tag of the wheel is `any` (a pure wheel by its name).
fn is_pure(wheel: &WheelFilename) -> bool {
    wheel.platform_tags.iter().all(|p| p == "any")
}

/// Open the wheel as a zip, check every member name and size, and parse its METADATA
/// (through [`refinery_index::read_wheel_metadata`], which every wheel reader shares).
/// The error's text is the human reason the wheel is invalid.
///
/// # Errors
///
/// [`refinery_index::WheelMetadataError`] when the file cannot be opened or is not a
/// zip, has too many members or a corrupt one, or its METADATA is missing or does not
/// parse.
pub fn read_wheel_metadata(
    path: &Path,
    wheel: &WheelFilename,
) -> Result<CoreMetadata, refinery_index::WheelMetadataError> {
    refinery_index::read_wheel_metadata(path, wheel).map(|(_bytes, parsed)| parsed)
}
