//! Reading the input: requirements files, constraints and the wheels and sdists of an input folder.

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::redact_url;
use refinery_pep::{BinaryOption, PackageName, RequirementsTxt};

use crate::hashes::ExpectedHashes;
use crate::scan::{Decision, FileKind, ScannedFile};

use super::{PlanError, PlanOptions, RejectedInput};

/// What the requirements files contribute.
#[derive(Debug, Default)]
pub(super) struct RequirementInputs {
    pub(super) requirements: Vec<String>,
    pub(super) constraints: Vec<String>,
    pub(super) rejected: Vec<RejectedInput>,
    /// Names of rejected requirements that still name a package (`foo @ URL`).
    pub(super) rejected_names: Vec<(String, String)>,
    /// `--pre` in a requirements file.
    pub(super) pre: bool,
    /// Index options of the requirements files, which the plan does not follow.
    pub(super) ignored_options: Vec<String>,
    /// `--hash` values and `--require-hashes` of the files.
    pub(super) hashes: ExpectedHashes,
    /// `--no-binary` / `--only-binary` of the files, in order.
    pub(super) binary_options: Vec<(BinaryOption, String)>,
}
pub(super) fn read_requirement_inputs(
    input: &Path,
    options: &PlanOptions,
    index_name: &str,
) -> Result<RequirementInputs, PlanError> {
    let mut out = RequirementInputs::default();
    let requirements = options
        .requirements_path
        .clone()
        .or_else(|| Some(input.join("requirements.txt")).filter(|p| p.is_file()));
    // Bytes decoded as pip does: a BOM (UTF-8, UTF-16, UTF-32), a coding line, else UTF-8.
    let mut loader = |path: &Path| {
        let bytes = std::fs::read(path)?;
        refinery_pep::decode_text(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    };
    let mut add = |path: &Path,
                   as_constraints: bool,
                   out: &mut RequirementInputs|
     -> Result<(), PlanError> {
        let parsed =
            RequirementsTxt::parse(path, &mut loader).map_err(|e| PlanError::Requirements {
                path: path.to_path_buf(),
                // The IO error (e.g. the byte offset that does not decode) is the cause.
                message: match std::error::Error::source(&e) {
                    Some(cause) => format!("{e}: {cause}"),
                    None => e.to_string(),
                },
            })?;
        let requirements = parsed
            .requirements
            .iter()
            .map(|e| e.requirement.to_string());
        if as_constraints {
            out.constraints.extend(requirements);
        } else {
            out.requirements.extend(requirements);
        }
        out.constraints
            .extend(parsed.constraints.iter().map(|e| e.requirement.to_string()));
        out.pre |= parsed.pre;
        out.hashes.required |= parsed.require_hashes;
        out.hashes
            .add_entries(parsed.requirements.iter().chain(&parsed.constraints));
        out.binary_options
            .extend(parsed.binary_options.iter().cloned());
        let options = parsed
            .index_url
            .iter()
            .map(|u| format!("--index-url {}", redact_url(u)))
            .chain(
                parsed
                    .extra_index_urls
                    .iter()
                    .map(|u| format!("--extra-index-url {}", redact_url(u))),
            )
            .chain(
                parsed
                    .find_links
                    .iter()
                    .map(|l| format!("--find-links {}", redact_url(l))),
            )
            .chain(parsed.no_index.then(|| "--no-index".to_string()));
        for option in options {
            out.ignored_options.push(format!(
                    "{}: `{option}` is not followed: the plan uses {index_name}; pass the index with --index-url / --extra-index-url / --find-links",
                    path.display()
                ));
        }
        for line in parsed.rejected {
            let input = format!("{}:{}: {}", line.file.display(), line.line, line.text);
            let reason = format!(
                "{}; the plan takes packages from {index_name} and --input only",
                line.reason
            );
            if let Some(name) = named_requirement(&line.text) {
                out.rejected_names
                    .push((name, format!("`{}` was rejected: {reason}", line.text)));
            }
            out.rejected.push(RejectedInput { input, reason });
        }
        Ok(())
    };
    if let Some(path) = requirements {
        add(&path, false, &mut out)?;
    }
    if let Some(path) = &options.constraints_path {
        add(path, true, &mut out)?;
    }
    Ok(out)
}

/// `foo @ https://...` names `foo`; `-e ./x` and bare paths name nothing.
pub(super) fn named_requirement(text: &str) -> Option<String> {
    let (name, _) = text.split_once('@')?;
    PackageName::new(name.split('[').next()?.trim().to_string())
        .ok()
        .map(|n| n.to_string())
}

pub(super) fn reset_dir(dir: &Path) -> Result<(), PlanError> {
    let io = |source| PlanError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)
}

pub(super) fn link_into(src: &Path, dest: &Path) -> Result<(), PlanError> {
    let src = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
    std::os::unix::fs::symlink(&src, dest).map_err(|source| PlanError::Io {
        path: dest.to_path_buf(),
        source,
    })
}

/// Input files by `name==version`, the best (reuse) first.
pub(super) fn index_inputs(scanned: &[ScannedFile]) -> BTreeMap<String, Vec<&ScannedFile>> {
    let mut map: BTreeMap<String, Vec<&ScannedFile>> = BTreeMap::new();
    for file in scanned.iter().filter(|f| f.decision != Decision::Invalid) {
        if let (Some(name), Some(version)) = (&file.name, &file.version) {
            map.entry(format!("{name}=={version}"))
                .or_default()
                .push(file);
        }
    }
    for files in map.values_mut() {
        files.sort_by_key(|f| {
            (
                f.decision != Decision::Reuse,
                f.kind != FileKind::Sdist,
                f.file.clone(),
            )
        });
    }
    map
}
