//! The plan: a DAG of package-version nodes, each reused, built from an sdist, or
//! missing (with the reason), with runtime and build-system edges.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use refinery_index::{redact_url, DistFile, IndexClient, IndexConfig};
use refinery_pep::{
    Compatibility, PackageName, RequirementsTxt, SdistFilename, Target, Version, WheelFilename,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::build_requires::read_build_requires;
use crate::overrides::{Overrides, PackageOverride};
use crate::resolve::{resolve, ResolveError, ResolveRequest, ResolvedPin};
use crate::scan::{scan_dir, Decision, FileKind, ScanError, ScannedFile};

pub const PLAN_SCHEMA: u32 = 1;
pub const DEFAULT_MAX_DEPS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Input wheels and requirement pins keep their versions.
    #[default]
    Pinned,
    /// Input wheel versions are only lower bounds: everything moves to the newest allowed.
    Eager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Reuse,
    Build,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    InputWheel,
    IndexWheel,
    InputSdist,
    IndexSdist,
}

/// Where a node's file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    pub filename: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNode {
    /// `name==version`.
    pub id: String,
    pub name: String,
    pub version: String,
    pub action: Action,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// For builds: `build`, `repair`, `verify`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// PEP 518 `build-system.requires` of the sdist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_requires: Vec<String>,
    /// Asked for directly (requirements file or input folder).
    pub direct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<PackageOverride>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Runtime,
    Build,
}

/// `from` needs `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct PlanEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

/// An input that could not become a node: a URL requirement, an invalid wheel...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedInput {
    pub input: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPackage {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema: u32,
    /// sha256 of the plan's content: same inputs and index, same id.
    pub id: String,
    pub python: String,
    pub platform_tag: String,
    pub strategy: Strategy,
    pub nodes: Vec<PlanNode>,
    pub edges: Vec<PlanEdge>,
    pub rejected: Vec<RejectedInput>,
    pub skipped: Vec<SkippedPackage>,
    pub notes: Vec<String>,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.nodes.iter().filter(|n| n.action == action).count()
    }

    pub fn node(&self, id: &str) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Node ids that `id` needs (runtime and build edges).
    pub fn dependencies_of(&self, id: &str) -> Vec<&PlanEdge> {
        self.edges.iter().filter(|e| e.from == id).collect()
    }

    /// Builds in an order where build-system dependencies come first.
    pub fn build_order(&self) -> Vec<&PlanNode> {
        let builds: Vec<&PlanNode> = self
            .nodes
            .iter()
            .filter(|n| n.action == Action::Build)
            .collect();
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::new();
        while order.len() < builds.len() {
            let before = order.len();
            for node in &builds {
                if done.contains(node.id.as_str()) {
                    continue;
                }
                let ready = self
                    .edges
                    .iter()
                    .filter(|e| e.from == node.id && e.kind == EdgeKind::Build)
                    .all(|e| done.contains(e.to.as_str()) || !builds.iter().any(|b| b.id == e.to));
                if ready {
                    done.insert(&node.id);
                    order.push(*node);
                }
            }
            if order.len() == before {
                // A build cycle: append the rest in name order, the builder reports failures.
                order.extend(builds.iter().filter(|n| !done.contains(n.id.as_str())));
                break;
            }
        }
        order
    }
}

/// Everything that decides a plan besides the index.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub target: Target,
    pub strategy: Strategy,
    pub fallback_latest: bool,
    pub max_deps: usize,
    /// `requirements.txt` to use instead of `<input>/requirements.txt`.
    pub requirements_path: Option<PathBuf>,
    pub constraints_path: Option<PathBuf>,
    pub overrides: Overrides,
    /// (package, version) pairs that failed before and are to be left out.
    pub known_failures: Vec<(String, String)>,
    pub allow_prereleases: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("cannot read requirements file {path}: {message}\nhint: fix the line it names; pip's requirements format is accepted, URL and editable requirements are not")]
    Requirements { path: PathBuf, message: String },
    #[error("nothing to plan: {input} holds no wheels, sdists or requirements.txt\nhint: put a requirements.txt or wheels into --input, or set REQUIREMENTS_PATH")]
    Empty { input: PathBuf },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("cannot prepare the planning folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the requirements files contribute.
#[derive(Debug, Default)]
struct RequirementInputs {
    requirements: Vec<String>,
    constraints: Vec<String>,
    rejected: Vec<RejectedInput>,
    /// Names of rejected requirements that still name a package (`foo @ URL`).
    rejected_names: Vec<(String, String)>,
}

/// Make the plan for `input` (a folder of wheels and/or a requirements.txt).
pub fn make_plan(
    input: &Path,
    cache: &Path,
    options: &PlanOptions,
    index: &IndexConfig,
    client: &IndexClient,
) -> Result<Plan, PlanError> {
    let target = &options.target;
    let scanned = if input.is_dir() {
        scan_dir(input, target)?
    } else {
        Vec::new()
    };
    let mut reqs = read_requirement_inputs(input, options)?;
    let mut rejected = std::mem::take(&mut reqs.rejected);
    let mut skipped = Vec::new();
    let mut notes = Vec::new();

    // Input distributions become requirements and find-links.
    let work_dir = cache.join("plans").join("work");
    let links_dir = work_dir.join("find-links");
    reset_dir(&links_dir)?;
    for file in &scanned {
        match (file.decision, &file.name, &file.version) {
            (Decision::Invalid, _, _) | (_, None, _) | (_, _, None) => {
                rejected.push(RejectedInput {
                    input: file.file.clone(),
                    reason: file.reason.clone(),
                })
            }
            (_, Some(name), Some(version)) => {
                let op = match options.strategy {
                    Strategy::Pinned => "==",
                    Strategy::Eager => ">=",
                };
                reqs.requirements.push(format!("{name}{op}{version}"));
                link_into(&file.path, &links_dir.join(&file.file))?;
            }
        }
    }
    if reqs.requirements.is_empty() && reqs.rejected_names.is_empty() && rejected.is_empty() {
        return Err(PlanError::Empty {
            input: input.to_path_buf(),
        });
    }

    // Overrides: skip and pin.
    let mut overrides_pins = Vec::new();
    for (name, o) in &options.overrides {
        if o.skip {
            skipped.push(SkippedPackage {
                name: name.clone(),
                version: None,
                reason: "skipped by the plan overrides".into(),
            });
        }
        if let Some(pin) = &o.pin {
            overrides_pins.push(format!("{name}=={pin}"));
        }
    }
    reqs.requirements
        .retain(|r| !is_skipped(r, &options.overrides));
    // Known failures: forbid those versions, so the resolver picks another.
    for (name, version) in &options.known_failures {
        reqs.constraints.push(format!("{name}!={version}"));
        skipped.push(SkippedPackage {
            name: name.clone(),
            version: Some(version.clone()),
            reason: "failed before (--skip-known-failures)".into(),
        });
    }

    let mut request = ResolveRequest {
        requirements: dedup(reqs.requirements),
        constraints: reqs.constraints,
        overrides: overrides_pins,
        find_links: vec![links_dir.clone()],
        allow_prereleases: options.allow_prereleases,
    };
    let uv_cache = cache.join("uv");
    let mut missing: BTreeMap<String, PlanNode> = BTreeMap::new();
    for (name, reason) in &reqs.rejected_names {
        missing.insert(name.clone(), missing_node(name, "", reason.clone(), true));
    }
    let mut pins = resolve_isolating_failures(
        &mut request,
        target,
        index,
        &work_dir,
        &uv_cache,
        &mut missing,
    )?;

    // Fallback to the newest version that has an sdist or a wheel for the target.
    let inputs_by_id = index_inputs(&scanned);
    let mut nodes = select_all(&pins, &inputs_by_id, target, client);
    if options.fallback_latest {
        let mut moved = Vec::new();
        for node in nodes.iter().filter(|n| n.action == Action::Missing) {
            if let Some(newer) =
                newest_usable(&node.name, target, client, options.allow_prereleases)
            {
                if newer.to_string() != node.version {
                    notes.push(format!(
                        "{} {} has no sdist and no s390x wheel: --fallback-latest moves it to {newer}",
                        node.name, node.version
                    ));
                    moved.push(format!("{}=={newer}", node.name));
                }
            }
        }
        if !moved.is_empty() {
            request.overrides.extend(moved);
            pins = resolve_isolating_failures(
                &mut request,
                target,
                index,
                &work_dir,
                &uv_cache,
                &mut missing,
            )?;
            nodes = select_all(&pins, &inputs_by_id, target, client);
        }
    }

    // Bound the dependency expansion.
    let kept = bounded_closure(&pins, options.max_deps);
    if kept.len() < pins.len() {
        notes.push(format!(
            "dependency expansion stopped at MAX_DEPS={}: {} more packages were left out",
            options.max_deps,
            pins.len() - kept.len()
        ));
        for node in nodes.iter_mut().filter(|n| !kept.contains(&n.name)) {
            node.action = Action::Missing;
            node.reason = format!(
                "left out: the dependency bound MAX_DEPS={} was reached; raise MAX_DEPS",
                options.max_deps
            );
            node.source = None;
            node.steps.clear();
        }
    }

    // Build requirements from the sdists.
    let sdist_dir = cache.join("sdists").join("v1");
    for node in nodes.iter_mut().filter(|n| n.action == Action::Build) {
        match sdist_path(node, client, &sdist_dir) {
            Ok(path) => match read_build_requires(&path) {
                Ok(requires) => node.build_requires = requires,
                Err(reason) => {
                    node.action = Action::Missing;
                    node.reason = format!("the sdist cannot be read: {reason}");
                    node.steps.clear();
                }
            },
            Err(reason) => {
                node.action = Action::Missing;
                node.reason = reason;
                node.steps.clear();
            }
        }
    }
    for node in &mut nodes {
        node.overrides = options.overrides.get(&node.name).cloned();
    }
    nodes.extend(missing.into_values().filter(|m| !nodes_has(&pins, &m.name)));
    nodes.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let edges = edges_of(&pins, &nodes);
    Ok(finish(Plan {
        schema: PLAN_SCHEMA,
        id: String::new(),
        python: target.python_str(),
        platform_tag: target.platform_tag().to_string(),
        strategy: options.strategy,
        nodes,
        edges,
        rejected,
        skipped,
        notes,
    }))
}

fn nodes_has(pins: &[ResolvedPin], name: &str) -> bool {
    pins.iter().any(|p| p.name.as_ref() == name)
}

fn is_skipped(requirement: &str, overrides: &Overrides) -> bool {
    requirement
        .parse::<refinery_pep::Requirement>()
        .is_ok_and(|r| overrides.get(r.name.as_ref()).is_some_and(|o| o.skip))
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.retain(|i| seen.insert(i.clone()));
    items
}

/// Resolve everything together; when that fails, resolve each requirement alone to find
/// the ones that cannot be satisfied, mark them missing with the resolver's message, and
/// resolve the rest together.
fn resolve_isolating_failures(
    request: &mut ResolveRequest,
    target: &Target,
    index: &IndexConfig,
    work_dir: &Path,
    uv_cache: &Path,
    missing: &mut BTreeMap<String, PlanNode>,
) -> Result<Vec<ResolvedPin>, PlanError> {
    if request.requirements.is_empty() {
        return Ok(Vec::new());
    }
    let joint = match resolve(request, target, index, work_dir, uv_cache) {
        Ok(pins) => return Ok(pins),
        Err(ResolveError::NoSolution { message, .. }) => message,
        Err(other) => return Err(other.into()),
    };
    let mut good = Vec::new();
    for requirement in &request.requirements {
        let alone = ResolveRequest {
            requirements: vec![requirement.clone()],
            ..request.clone()
        };
        match resolve(&alone, target, index, work_dir, uv_cache) {
            Ok(_) => good.push(requirement.clone()),
            Err(ResolveError::NoSolution { message, index, .. }) => {
                let name = requirement_name(requirement);
                missing.insert(
                    name.clone(),
                    missing_node(
                        &name,
                        "",
                        format!("cannot be resolved on {index}: {message}"),
                        true,
                    ),
                );
            }
            Err(other) => return Err(other.into()),
        }
    }
    if good.len() == request.requirements.len() {
        // Each alone works but not together: a conflict between them.
        for requirement in &request.requirements {
            let name = requirement_name(requirement);
            missing.insert(
                name.clone(),
                missing_node(
                    &name,
                    "",
                    format!("conflicts with the other requirements: {joint}"),
                    true,
                ),
            );
        }
        return Ok(Vec::new());
    }
    request.requirements = good;
    resolve_isolating_failures(request, target, index, work_dir, uv_cache, missing)
}

fn requirement_name(requirement: &str) -> String {
    requirement
        .parse::<refinery_pep::Requirement>()
        .map_or_else(|_| requirement.to_string(), |r| r.name.to_string())
}

fn missing_node(name: &str, version: &str, reason: String, direct: bool) -> PlanNode {
    PlanNode {
        id: format!("{name}=={version}"),
        name: name.to_string(),
        version: version.to_string(),
        action: Action::Missing,
        reason,
        source: None,
        steps: Vec::new(),
        build_requires: Vec::new(),
        direct,
        overrides: None,
    }
}

fn read_requirement_inputs(
    input: &Path,
    options: &PlanOptions,
) -> Result<RequirementInputs, PlanError> {
    let mut out = RequirementInputs::default();
    let requirements = options
        .requirements_path
        .clone()
        .or_else(|| Some(input.join("requirements.txt")).filter(|p| p.is_file()));
    let mut loader = |path: &Path| std::fs::read_to_string(path);
    let mut add =
        |path: &Path, as_constraints: bool, out: &mut RequirementInputs| -> Result<(), PlanError> {
            let parsed =
                RequirementsTxt::parse(path, &mut loader).map_err(|e| PlanError::Requirements {
                    path: path.to_path_buf(),
                    message: e.to_string(),
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
            for line in parsed.rejected {
                if let Some(name) = named_requirement(&line.text) {
                    out.rejected_names.push((name, line.reason.clone()));
                }
                out.rejected.push(RejectedInput {
                    input: format!("{}:{}: {}", line.file.display(), line.line, line.text),
                    reason: line.reason,
                });
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
fn named_requirement(text: &str) -> Option<String> {
    let (name, _) = text.split_once('@')?;
    PackageName::new(name.split('[').next()?.trim().to_string())
        .ok()
        .map(|n| n.to_string())
}

fn reset_dir(dir: &Path) -> Result<(), PlanError> {
    let io = |source| PlanError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)
}

fn link_into(src: &Path, dest: &Path) -> Result<(), PlanError> {
    let src = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
    std::os::unix::fs::symlink(&src, dest).map_err(|source| PlanError::Io {
        path: dest.to_path_buf(),
        source,
    })
}

/// Input files by `name==version`, the best (reuse) first.
fn index_inputs(scanned: &[ScannedFile]) -> BTreeMap<String, Vec<&ScannedFile>> {
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

fn select_all(
    pins: &[ResolvedPin],
    inputs: &BTreeMap<String, Vec<&ScannedFile>>,
    target: &Target,
    client: &IndexClient,
) -> Vec<PlanNode> {
    pins.iter()
        .map(|pin| select_source(pin, inputs, target, client))
        .collect()
}

/// Decide how one pinned package-version is obtained.
fn select_source(
    pin: &ResolvedPin,
    inputs: &BTreeMap<String, Vec<&ScannedFile>>,
    target: &Target,
    client: &IndexClient,
) -> PlanNode {
    let id = format!("{}=={}", pin.name, pin.version);
    let mut node = missing_node(
        pin.name.as_ref(),
        &pin.version.to_string(),
        String::new(),
        pin.via.contains("-r"),
    );
    node.id = id.clone();
    let local = inputs.get(&id).map(Vec::as_slice).unwrap_or_default();
    if let Some(wheel) = local.iter().find(|f| f.decision == Decision::Reuse) {
        node.action = Action::Reuse;
        node.reason = format!("input wheel {} installs on the target as is", wheel.file);
        node.source = Some(local_source(wheel, SourceKind::InputWheel));
        return node;
    }
    let files = match client.project_files(pin.name.as_ref()) {
        Ok(files) => files,
        Err(err) => {
            if let Some(sdist) = local.iter().find(|f| f.kind == FileKind::Sdist) {
                return build_node(node, local_source(sdist, SourceKind::InputSdist));
            }
            node.reason = format!("the index cannot list {}: {err}", pin.name);
            return node;
        }
    };
    let mut best_wheel: Option<(usize, &DistFile)> = None;
    let mut sdist = None;
    let mut other_wheels = Vec::new();
    for file in &files {
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
            if parsed.version == pin.version && sdist.is_none() {
                sdist = Some(file);
            }
        }
    }
    if let Some((_, wheel)) = best_wheel {
        node.action = Action::Reuse;
        node.reason = format!("the index has {} for the target", wheel.filename);
        node.source = Some(index_source(wheel, SourceKind::IndexWheel));
        return node;
    }
    if let Some(local_sdist) = local.iter().find(|f| f.kind == FileKind::Sdist) {
        return build_node(node, local_source(local_sdist, SourceKind::InputSdist));
    }
    if let Some(sdist) = sdist {
        return build_node(node, index_source(sdist, SourceKind::IndexSdist));
    }
    let wheels_elsewhere: Vec<String> = local
        .iter()
        .map(|f| f.file.clone())
        .chain(other_wheels)
        .collect();
    node.reason = if wheels_elsewhere.is_empty() {
        format!(
            "{} {} has no sdist and no wheel on the index",
            pin.name, pin.version
        )
    } else {
        format!(
            "{} {} has no sdist and no wheel for the target, only {}; try --fallback-latest",
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
    }
}

fn index_source(file: &DistFile, kind: SourceKind) -> Source {
    Source {
        kind,
        filename: file.filename.clone(),
        url: Some(redact_url(&file.url)),
        path: None,
        sha256: file.sha256.clone(),
    }
}

/// The newest version of `name` that has an sdist or a wheel for the target.
fn newest_usable(name: &str, target: &Target, client: &IndexClient, pre: bool) -> Option<Version> {
    let files = client.project_files(name).ok()?;
    let package = PackageName::new(name.to_string()).ok()?;
    files
        .iter()
        .filter(|f| !f.yanked)
        .filter_map(|f| {
            if let Ok(wheel) = f.filename.parse::<WheelFilename>() {
                matches!(
                    target.compatibility(&wheel),
                    Compatibility::Compatible { .. }
                )
                .then_some(wheel.version)
            } else {
                SdistFilename::parse_for(&f.filename, &package)
                    .ok()
                    .map(|s| s.version)
            }
        })
        .filter(|v| pre || !v.any_prerelease())
        .max()
}

/// The local path of a build node's sdist, downloading (hash-checked) when needed.
fn sdist_path(node: &PlanNode, client: &IndexClient, dir: &Path) -> Result<PathBuf, String> {
    let source = node.source.as_ref().ok_or("no source")?;
    if let Some(path) = &source.path {
        return Ok(PathBuf::from(path));
    }
    let files = client
        .project_files(&node.name)
        .map_err(|e| e.to_string())?;
    let file = files
        .iter()
        .find(|f| f.filename == source.filename)
        .ok_or_else(|| format!("{} disappeared from the index", source.filename))?;
    client
        .download(file, dir)
        .map_err(|e| format!("cannot download {}: {e}", source.filename))
}

/// Keep the direct requirements and their dependencies breadth-first, up to `max` packages.
fn bounded_closure(pins: &[ResolvedPin], max: usize) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut queue: VecDeque<&ResolvedPin> = pins
        .iter()
        .filter(|p| p.via.contains("-r") || p.via.is_empty())
        .collect();
    let mut seen: BTreeSet<String> = queue.iter().map(|p| p.name.to_string()).collect();
    while let Some(pin) = queue.pop_front() {
        if kept.len() >= max {
            break;
        }
        kept.insert(pin.name.to_string());
        for dep in pins.iter().filter(|d| d.via.contains(pin.name.as_ref())) {
            if seen.insert(dep.name.to_string()) {
                queue.push_back(dep);
            }
        }
    }
    kept
}

fn edges_of(pins: &[ResolvedPin], nodes: &[PlanNode]) -> Vec<PlanEdge> {
    let id_of: BTreeMap<&str, &str> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.id.as_str()))
        .collect();
    let mut edges = BTreeSet::new();
    for pin in pins {
        let Some(to) = id_of.get(pin.name.as_ref()) else {
            continue;
        };
        for parent in &pin.via {
            if let Some(from) = id_of.get(parent.as_str()) {
                edges.insert(PlanEdge {
                    from: from.to_string(),
                    to: to.to_string(),
                    kind: EdgeKind::Runtime,
                });
            }
        }
    }
    for node in nodes.iter().filter(|n| n.action == Action::Build) {
        for requirement in &node.build_requires {
            let name = requirement_name(requirement);
            if let Some(dep) = nodes
                .iter()
                .find(|d| d.name == name && d.action == Action::Build && d.id != node.id)
            {
                edges.insert(PlanEdge {
                    from: node.id.clone(),
                    to: dep.id.clone(),
                    kind: EdgeKind::Build,
                });
            }
        }
    }
    edges.into_iter().collect()
}

/// Give the plan its content id.
fn finish(mut plan: Plan) -> Plan {
    plan.id.clear();
    let bytes = serde_json::to_vec(&plan).expect("plans serialize");
    plan.id = hex::encode(&Sha256::digest(&bytes)[..8]);
    plan
}

/// A readable summary: counts per action and the packages to build.
pub fn summary(plan: &Plan) -> String {
    let mut out = format!(
        "plan {} for CPython {} {}: {} reuse, {} build, {} missing\n",
        plan.id,
        plan.python,
        plan.platform_tag,
        plan.count(Action::Reuse),
        plan.count(Action::Build),
        plan.count(Action::Missing)
    );
    for node in plan.build_order() {
        out.push_str(&format!(
            "  build   {} {}  ({})\n",
            node.name, node.version, node.reason
        ));
    }
    for node in plan.nodes.iter().filter(|n| n.action == Action::Missing) {
        out.push_str(&format!(
            "  missing {} {}  ({})\n",
            node.name, node.version, node.reason
        ));
    }
    for r in &plan.rejected {
        out.push_str(&format!("  rejected {}  ({})\n", r.input, r.reason));
    }
    for s in &plan.skipped {
        out.push_str(&format!(
            "  skipped {} {}  ({})\n",
            s.name,
            s.version.as_deref().unwrap_or(""),
            s.reason
        ));
    }
    for note in &plan.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, via: &[&str]) -> ResolvedPin {
        ResolvedPin {
            name: PackageName::new(name.into()).unwrap(),
            version: "1.0".parse().unwrap(),
            via: via.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn bounded_closure_keeps_direct_first_then_breadth_first() {
        let pins = vec![
            pin("a", &["-r"]),
            pin("b", &["a"]),
            pin("c", &["b"]),
            pin("d", &["-r"]),
        ];
        assert_eq!(bounded_closure(&pins, 10).len(), 4);
        let two = bounded_closure(&pins, 2);
        assert!(two.contains("a") && two.contains("d"), "{two:?}");
        let three = bounded_closure(&pins, 3);
        assert!(three.contains("b") && !three.contains("c"));
    }

    #[test]
    fn named_requirement_reads_url_requirements() {
        assert_eq!(
            named_requirement("Foo[x] @ https://e/x.whl").as_deref(),
            Some("foo")
        );
        assert_eq!(named_requirement("-e ./src"), None);
    }
}
