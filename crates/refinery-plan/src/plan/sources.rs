//! Choosing where each pinned package comes from: a local file, an index wheel, or a build from
//! an sdist.

use std::collections::{BTreeMap, BTreeSet};

use refinery_index::{redact_url, DistFile, IndexClient};
use refinery_pep::{
    Compatibility, FormatControl, PackageName, ProjectName, ProjectVersion, SdistFilename, Target,
    Version, WheelFilename,
};

use crate::listings::Listings;
use crate::resolve::ResolvedPin;
use crate::scan::{Decision, FileKind, ScannedFile};

use super::graph::bounded_closure;
use super::resolver::missing_node;
use super::{Action, PlanNode, PlanOptions, Source, SourceKind};

/// Decide how one pinned package-version is obtained.
pub(super) fn select_source(
    pin: &ResolvedPin,
    inputs: &BTreeMap<String, Vec<&ScannedFile>>,
    target: &Target,
    listings: &Listings,
    index_name: &str,
    format_control: &FormatControl,
) -> PlanNode {
    let allowed = format_control.allowed(&pin.name);
    let mut node = missing_node(
        &ProjectName::from(&pin.name),
        Some(ProjectVersion::from(&pin.version)),
        String::new(),
        pin.via.contains("-r"),
    );
    let local = inputs
        .get(&format!("{}=={}", pin.name, pin.version))
        .map(Vec::as_slice)
        .unwrap_or_default();
    // A wheel the target could use but `--no-binary` forbids, for the reasons.
    let mut refused_wheel: Option<String> = None;
    if let Some(wheel) = local.iter().find(|f| f.decision == Decision::Reuse) {
        if !allowed.binary {
            refused_wheel = Some(wheel.file.clone());
        }
    }
    if let Some(wheel) = local
        .iter()
        .find(|f| f.decision == Decision::Reuse && allowed.binary)
    {
        node.action = Action::Reuse;
        node.reason = format!("input wheel {} installs on the target as is", wheel.file);
        node.source = Some(local_source(wheel, SourceKind::InputWheel));
        return node;
    }
    let files = match listings.get(pin.name.as_ref()) {
        Some(Ok(files)) => files.as_slice(),
        Some(Err(err)) => {
            if let Some(sdist) = local
                .iter()
                .find(|f| f.kind == FileKind::Sdist && allowed.source)
            {
                return build_node(node, local_source(sdist, SourceKind::InputSdist));
            }
            node.reason = format!("the index {index_name} cannot list {}: {err}", pin.name);
            return node;
        }
        None => &[],
    };
    let mut best_wheel: Option<(usize, &DistFile)> = None;
    let mut sdists = Vec::new();
    let mut other_wheels = Vec::new();
    for file in files {
        if let Ok(wheel) = file.filename.parse::<WheelFilename>() {
            if wheel.version != pin.version || wheel.name != pin.name {
                continue;
            }
            match target.compatibility(&wheel) {
                Compatibility::Compatible { priority } => {
                    if best_wheel.is_none_or(|(p, _)| priority < p) {
                        best_wheel = Some((priority, file));
                    }
                }
                Compatibility::Incompatible { .. } => other_wheels.push(file.filename.clone()),
            }
        } else if let Ok(parsed) = SdistFilename::parse_for(&file.filename, &pin.name) {
            if parsed.version == pin.version {
                sdists.push(file);
            }
        }
    }
    match best_wheel {
        Some((_, wheel)) if allowed.binary => {
            node.action = Action::Reuse;
            node.reason = format!("the index has {} for the target", wheel.filename);
            node.source = Some(index_source(wheel, SourceKind::IndexWheel));
            return node;
        }
        Some((_, wheel)) => {
            refused_wheel.get_or_insert_with(|| wheel.filename.clone());
        }
        None => {}
    }
    let no_binary_note = |mut node: PlanNode| {
        if let (Some(wheel), Action::Build) = (&refused_wheel, node.action) {
            node.reason = format!("{} (--no-binary: {wheel} is not used)", node.reason);
        }
        node
    };
    if !allowed.source {
        node.reason = format!(
            "--only-binary: {} {} may not be built from source, and neither the input nor {index_name} has a wheel for {target}",
            pin.name, pin.version
        );
        return node;
    }
    if let Some(local_sdist) = local.iter().find(|f| f.kind == FileKind::Sdist) {
        return no_binary_note(build_node(
            node,
            local_source(local_sdist, SourceKind::InputSdist),
        ));
    }
    // The formats whose build requirements can be read, .tar.gz first (PEP 625).
    sdists.sort_by_key(|f| {
        let name = f.filename.to_ascii_lowercase();
        (
            !name.ends_with(".tar.gz"),
            !name.ends_with(".zip"),
            f.filename.clone(),
        )
    });
    if let Some(sdist) = sdists.first() {
        return no_binary_note(build_node(
            node,
            index_source(sdist, SourceKind::IndexSdist),
        ));
    }
    if let Some(wheel) = &refused_wheel {
        node.reason = format!(
            "--no-binary: {} {} must be built from source, but there is no sdist on {index_name} (only {wheel})",
            pin.name, pin.version
        );
        return node;
    }
    let wheels_elsewhere: Vec<String> = local
        .iter()
        .map(|f| f.file.clone())
        .chain(other_wheels)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    node.reason = if wheels_elsewhere.is_empty() {
        format!(
            "{} {} has no sdist and no wheel on {index_name}",
            pin.name, pin.version
        )
    } else {
        format!(
            "{} {} has no sdist and no wheel for {target}, only {}; try --fallback-latest",
            pin.name,
            pin.version,
            wheels_elsewhere.join(", ")
        )
    };
    node
}

fn build_node(mut node: PlanNode, source: Source) -> PlanNode {
    node.action = Action::Build;
    node.reason = match source.kind {
        SourceKind::InputSdist => format!("build from the input sdist {}", source.filename),
        _ => format!("no wheel for the target: build from {}", source.filename),
    };
    node.source = Some(source);
    node.steps = vec!["build".into(), "repair".into(), "verify".into()];
    node
}

fn local_source(file: &ScannedFile, kind: SourceKind) -> Source {
    Source {
        kind,
        filename: file.file.clone(),
        url: None,
        path: Some(file.path.to_string_lossy().into_owned()),
        sha256: None,
        checked_hash: None,
    }
}

fn index_source(file: &DistFile, kind: SourceKind) -> Source {
    Source {
        kind,
        filename: file.filename.clone(),
        url: Some(redact_url(&file.url)),
        path: None,
        sha256: file.sha256.clone(),
        checked_hash: None,
    }
}

/// Whether `file` may be installed for the target: not yanked, and its `Requires-Python`
/// (PEP 345; unparsable ones count as admitting) admits the target's Python.
fn installable(file: &DistFile, target: &Target) -> bool {
    !file.yanked
        && file
            .requires_python
            .as_deref()
            .is_none_or(|spec| target.admits_requires_python(spec))
}

/// The versions of `name` newer than `after` that have a wheel for the target among
/// `files` (an index listing), oldest first, at most `limit`: for each, the wheel the
/// target prefers (PEP 425 priority). Yanked files and those whose `Requires-Python`
/// leaves out the target's Python are skipped; pre-releases count only when `after` is
/// one. `--fallback-latest` tries these in turn for a reused wheel that is broken on the
/// target.
pub fn newer_target_wheels(
    name: &str,
    files: &[DistFile],
    target: &Target,
    after: &Version,
    limit: usize,
) -> Vec<(Version, DistFile)> {
    let Ok(package) = PackageName::new(name.to_string()) else {
        return Vec::new();
    };
    let pre = after.any_prerelease();
    let mut best: BTreeMap<Version, (usize, &DistFile)> = BTreeMap::new();
    for file in files.iter().filter(|f| installable(f, target)) {
        let Ok(wheel) = file.filename.parse::<WheelFilename>() else {
            continue;
        };
        if wheel.name != package
            || wheel.version <= *after
            || (!pre && wheel.version.any_prerelease())
        {
            continue;
        }
        if let Compatibility::Compatible { priority } = target.compatibility(&wheel) {
            let slot = best
                .entry(wheel.version.clone())
                .or_insert((priority, file));
            if priority < slot.0 {
                *slot = (priority, file);
            }
        }
    }
    best.into_iter()
        .take(limit)
        .map(|(version, (_, file))| (version, file.clone()))
        .collect()
}

/// The newest version among `files` of `name` that has an sdist or a wheel for the target
/// (not yanked, and whose `Requires-Python` admits the target's Python).
pub(super) fn newest_usable(
    package: &PackageName,
    files: &[DistFile],
    target: &Target,
    pre: bool,
) -> Option<Version> {
    files
        .iter()
        .filter(|f| installable(f, target))
        .filter_map(|f| {
            if let Ok(wheel) = f.filename.parse::<WheelFilename>() {
                (&wheel.name == package
                    && matches!(
                        target.compatibility(&wheel),
                        Compatibility::Compatible { .. }
                    ))
                .then_some(wheel.version)
            } else {
                SdistFilename::parse_for(&f.filename, package)
                    .ok()
                    .map(|s| s.version)
            }
        })
        .filter(|v| pre || !v.any_prerelease())
        .max()
}

/// What choosing the nodes of a resolution needs.
pub(super) struct Selector<'a> {
    pub(super) options: &'a PlanOptions,
    pub(super) client: &'a IndexClient,
    pub(super) inputs_by_id: BTreeMap<String, Vec<&'a ScannedFile>>,
    pub(super) index_name: &'a str,
    pub(super) format_control: &'a FormatControl,
}

impl Selector<'_> {
    /// The nodes of `pins` (fetching the listings they need) and how many were kept under
    /// `--max-deps`; the rest are missing with the reason.
    pub(super) fn select(
        &self,
        pins: &[ResolvedPin],
        listings: &mut Listings,
    ) -> (Vec<PlanNode>, usize) {
        let max_deps = self.options.max_deps;
        let kept = bounded_closure(pins, max_deps);
        let names: Vec<String> = pins
            .iter()
            .filter(|p| kept.contains(p.name.as_ref()))
            .map(|p| p.name.to_string())
            .collect();
        listings.fetch(self.client, &names);
        let nodes: Vec<PlanNode> = pins
            .iter()
            .map(|pin| {
                if kept.contains(pin.name.as_ref()) {
                    select_source(
                        pin,
                        &self.inputs_by_id,
                        &self.options.target,
                        listings,
                        self.index_name,
                        self.format_control,
                    )
                } else {
                    let mut node = missing_node(
                        &ProjectName::from(&pin.name),
                        Some(ProjectVersion::from(&pin.version)),
                        format!(
                            "left out: the dependency bound MAX_DEPS={max_deps} was reached; raise MAX_DEPS"
                        ),
                        pin.via.contains("-r"),
                    );
                    node.id = format!("{}=={}", pin.name, pin.version);
                    node
                }
            })
            .collect();
        (nodes, kept.len())
    }
}

/// `--fallback-latest`: the override `name==newer` for each missing node whose package
/// has a newer version with an sdist or a wheel for the target; `notes` says so.
pub(super) fn fallback_moves(
    nodes: &[PlanNode],
    listings: &Listings,
    target: &Target,
    allow_prereleases: bool,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut moved = Vec::new();
    for node in nodes.iter().filter(|n| n.action == Action::Missing) {
        let package = node.name.normalized();
        let Some(Ok(files)) = listings.get(package.as_ref()) else {
            continue;
        };
        if let Some(newer) = newest_usable(package, files, target, allow_prereleases) {
            if node.version.as_ref().is_none_or(|v| *v != newer) {
                notes.push(format!(
                    "{} {} has no sdist and no wheel for {target}: --fallback-latest moves it to {newer}",
                    node.name,
                    node.version_str()
                ));
                moved.push((node.name.to_string(), format!("{}=={newer}", node.name)));
            }
        }
    }
    moved
}
