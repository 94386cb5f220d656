//! The plan: a DAG of package-version nodes, each reused, built from an sdist, or
//! missing (with the reason), with runtime and build-system edges.

mod graph;
mod inputs;
mod resolver;
mod sdists;
mod sources;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use refinery_index::{IndexClient, IndexConfig};
use refinery_pep::{
    BinaryOption, FormatControl, PackageName, ProjectName, ProjectVersion, Target, Version,
    VersionSpecifiers,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::listings::Listings;
use crate::overrides::{Overrides, PackageOverride};
use crate::resolve::{index_display, ResolveError, ResolveRequest, ResolvedPin};
use crate::scan::{scan_dir, Decision, ScanError, ScannedFile};

use graph::edges_of;
use inputs::{index_inputs, link_into, read_requirement_inputs, reset_dir, RequirementInputs};
use resolver::{explained_failure, missing_node, requirement_name, resolve_first, Resolver};
use sdists::{check_hashes, fetch_source, read_all_build_requires};
use sources::{fallback_moves, Selector};

pub use sources::newer_target_wheels;

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
    /// In hash-checking mode: the `--hash` the file matched and where it was written,
    /// e.g. `sha256:… (requirements.txt:3)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNode {
    /// `name==version`, or the bare name when no version was resolved.
    pub id: String,
    /// The project, as the resolver names it (normalized).
    pub name: ProjectName,
    /// The resolved version, as the resolver spells it; `None` (written `""`) for a missing
    /// node nothing was resolved for.
    #[serde(with = "refinery_pep::project_version::or_empty")]
    pub version: Option<ProjectVersion>,
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

impl PlanNode {
    /// The version as spelled, or `""` when nothing was resolved (as the plan's JSON has it).
    #[must_use]
    pub fn version_str(&self) -> &str {
        refinery_pep::project_version::spelling_or_empty(self.version.as_ref())
    }
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
    pub name: ProjectName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProjectVersion>,
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
    /// How many nodes have `action`.
    #[must_use]
    pub fn count(&self, action: Action) -> usize {
        self.nodes.iter().filter(|n| n.action == action).count()
    }

    /// The node with this id (`name==version`, or the bare name).
    #[must_use]
    pub fn node(&self, id: &str) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Node ids that `id` needs (runtime and build edges).
    #[must_use]
    pub fn dependencies_of(&self, id: &str) -> Vec<&PlanEdge> {
        self.edges.iter().filter(|e| e.from == id).collect()
    }

    /// Builds in an order where build-system dependencies come first.
    #[must_use]
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
    /// pip's options that decide which files may be used.
    pub pip: PipOptions,
}

/// pip's options from the command line; the requirements file's own `--require-hashes`,
/// `--no-binary` and `--only-binary` apply on top (after these, as in pip).
#[derive(Debug, Clone, Default)]
pub struct PipOptions {
    /// `--require-hashes`: every package needs a `--hash` (pip's hash-checking mode).
    pub require_hashes: bool,
    /// `--no-binary` / `--only-binary` as given on the command line, in order.
    pub binary_options: Vec<(BinaryOption, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// `message` names the file (and line) itself.
    #[error("{message}\nhint: fix the line it names; pip's requirements format is accepted, URL and editable requirements are not")]
    Requirements { path: PathBuf, message: String },
    #[error("nothing to plan: {input} holds no wheels, sdists or requirements.txt\nhint: put a requirements.txt or wheels into --input, or set REQUIREMENTS_PATH")]
    Empty { input: PathBuf },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("hash check failed, nothing was built (pip's hash-checking mode: --require-hashes, or a --hash in the requirements):\n{}\nhint: a file without a hash needs its `--hash=sha256:…` added (each line above gives it); a mismatch means the file is not the one that was pinned: check the index, or update the hashes (e.g. `uv pip compile --generate-hashes`) if the change is expected", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Hashes { problems: Vec<String> },
    #[error("{0}\nhint: fix the --no-binary / --only-binary value")]
    FormatControl(#[from] refinery_pep::FormatControlError),
    #[error("cannot prepare the planning folder {path}: {source}\nhint: it is under --cache: pass a writable --cache folder (or make that one writable)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Make the plan for `input` (a folder of wheels and/or a requirements.txt).
///
/// # Errors
///
/// [`PlanError::Scan`] when the input folder cannot be read, [`PlanError::Requirements`]
/// for a requirements file that does not parse, [`PlanError::Empty`] when there is
/// nothing to plan, [`PlanError::Resolve`] when the resolver fails as a whole (a single
/// unresolvable requirement becomes a missing node instead), [`PlanError::Hashes`] when
/// a file does not match its `--hash`, [`PlanError::FormatControl`] for a bad
/// `--no-binary`/`--only-binary` value and [`PlanError::Io`] when the planning folder
/// cannot be prepared.
#[tracing::instrument(skip_all, fields(input = %input.display()))]
pub fn make_plan(
    input: &Path,
    cache: &Path,
    options: &PlanOptions,
    index: &IndexConfig,
    client: &IndexClient,
) -> Result<Plan, PlanError> {
    let target = &options.target;
    let index_name = index_display(index);
    let scanned = if input.is_dir() {
        scan_dir(input, target)?
    } else {
        Vec::new()
    };
    let mut reqs = read_requirement_inputs(input, options, &index_name)?;
    let format_control = format_control(options, &reqs)?;
    let mut expected_hashes = std::mem::take(&mut reqs.hashes);
    expected_hashes.required |= options.pip.require_hashes;
    let mut rejected = std::mem::take(&mut reqs.rejected);
    let mut skipped = Vec::new();
    let mut notes = std::mem::take(&mut reqs.ignored_options);
    let allow_prereleases = options.allow_prereleases || reqs.pre;

    let folders = PlanFolders::create(cache)?;
    let cache = &folders.cache;
    // Input distributions become requirements and find-links.
    add_input_files(
        &scanned,
        options.strategy,
        &folders.links_dir,
        &mut reqs.requirements,
        &mut rejected,
    )?;
    if reqs.requirements.is_empty() && reqs.rejected_names.is_empty() && rejected.is_empty() {
        return Err(PlanError::Empty {
            input: input.to_path_buf(),
        });
    }
    let mut overrides = apply_overrides(&options.overrides, &mut skipped, &mut rejected);
    reqs.requirements
        .retain(|r| !is_skipped(r, &options.overrides));
    let failed_before = forbid_known_failures(&options.known_failures, &mut reqs.constraints);

    // While the resolver runs, list the direct requirements and, when planning again
    // against the same indexes, the packages that plan resolved: usually every listing
    // this plan needs. (Names are never sent to an index that did not see them before.)
    let mut prefetch_names: Vec<String> = reqs
        .requirements
        .iter()
        .map(|r| requirement_name(r))
        .collect();
    prefetch_names.extend(previous_plan_names(cache, &index_name));
    let mut request = ResolveRequest {
        requirements: dedup(reqs.requirements),
        constraints: reqs.constraints,
        overrides: overrides.values().cloned().collect(),
        find_links: vec![folders.links_dir.clone()],
        allow_prereleases,
        only_binary: uv_only_binary(&format_control),
    };
    let uv_only_binary = request.only_binary.clone();
    let resolver = Resolver {
        only_binary: &uv_only_binary,
        target,
        index,
        index_name: &index_name,
        work_dir: &folders.work_dir,
        uv_cache: &cache.join("uv"),
        budget: std::cell::Cell::new(4 * request.requirements.len() + 16),
    };
    let mut missing: BTreeMap<String, PlanNode> = BTreeMap::new();
    for (name, reason) in &reqs.rejected_names {
        if let Ok(project) = ProjectName::new(name.as_str()) {
            missing.insert(
                name.clone(),
                missing_node(&project, None, reason.clone(), true),
            );
        }
    }

    let mut listings = Listings::default();
    let mut pins = resolve_first(
        &resolver,
        &mut request,
        &mut missing,
        &mut listings,
        client,
        &prefetch_names,
    )?;
    let selector = Selector {
        options,
        client,
        inputs_by_id: index_inputs(&scanned),
        index_name: &index_name,
        format_control: &format_control,
    };
    let (mut nodes, mut kept) = selector.select(&pins, &mut listings);
    if options.fallback_latest {
        let moved = fallback_moves(&nodes, &listings, target, allow_prereleases, &mut notes);
        if !moved.is_empty() {
            overrides.extend(moved);
            request.overrides = overrides.values().cloned().collect();
            pins = match resolver.resolve(&request) {
                Ok(pins) => pins,
                Err(err) => {
                    let failure = explained_failure(err)?;
                    resolver.isolate(&mut request, &mut missing, Some(failure))?
                }
            };
            (nodes, kept) = selector.select(&pins, &mut listings);
        }
    }
    if kept < pins.len() {
        notes.push(format!(
            "dependency expansion stopped at MAX_DEPS={}: {} more packages were left out",
            options.max_deps,
            pins.len() - kept
        ));
    }

    // Build requirements from the sdists, downloaded (hash-checked) concurrently.
    let sdist_dir = cache.join("sdists").join("v1");
    read_all_build_requires(&mut nodes, &listings, client, &sdist_dir);
    if expected_hashes.active() {
        let fetch_dirs = (sdist_dir.as_path(), folders.work_dir.join("hash-check"));
        check_hashes(&mut nodes, &scanned, &expected_hashes, |node| {
            fetch_source(node, &listings, client, fetch_dirs.0, &fetch_dirs.1)
        })?;
    }
    for node in &mut nodes {
        node.overrides = options
            .overrides
            .get(node.name.normalized().as_ref())
            .cloned();
    }
    remember_plan_names(cache, &index_name, &nodes);
    nodes.extend(
        missing
            .into_values()
            .filter(|m| !nodes_has(&pins, m.name.normalized())),
    );
    nodes.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let edges = edges_of(&pins, &nodes);
    // Known failures that concern this plan: the versions it avoided.
    for (name, version) in failed_before {
        if nodes.iter().any(|n| n.name == name) {
            skipped.push(SkippedPackage {
                name: ProjectName::from(name),
                version: Some(version),
                reason: "failed before (--skip-known-failures)".into(),
            });
        }
    }
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

/// pip's `--only-binary`/`--no-binary`, from the options and then the requirements files.
fn format_control(
    options: &PlanOptions,
    reqs: &RequirementInputs,
) -> Result<FormatControl, PlanError> {
    let mut format_control = FormatControl::default();
    for (option, value) in options
        .pip
        .binary_options
        .iter()
        .chain(&reqs.binary_options)
    {
        format_control.apply(*option, value)?;
    }
    Ok(format_control)
}

/// The folders of one planning run. uv runs inside the work folder: every path it is
/// given must be absolute.
struct PlanFolders {
    /// The cache folder, absolute.
    cache: PathBuf,
    /// Removed when the plan is made.
    _work: tempfile::TempDir,
    work_dir: PathBuf,
    /// The input distributions, as uv's `--find-links`.
    links_dir: PathBuf,
}

impl PlanFolders {
    fn create(cache: &Path) -> Result<PlanFolders, PlanError> {
        let cache = std::path::absolute(cache).map_err(|source| PlanError::Io {
            path: cache.to_path_buf(),
            source,
        })?;
        // A folder of its own: plans may run side by side on one cache (the server's
        // workers).
        let plans_dir = cache.join("plans");
        std::fs::create_dir_all(&plans_dir).map_err(|source| PlanError::Io {
            path: plans_dir.clone(),
            source,
        })?;
        let work = tempfile::Builder::new()
            .prefix(".work-")
            .tempdir_in(&plans_dir)
            .map_err(|source| PlanError::Io {
                path: plans_dir.clone(),
                source,
            })?;
        let work_dir = work.path().to_path_buf();
        let links_dir = work_dir.join("find-links");
        reset_dir(&links_dir)?;
        Ok(PlanFolders {
            cache,
            _work: work,
            work_dir,
            links_dir,
        })
    }
}

/// Each usable input file becomes a requirement (`==` or `>=` its version, by
/// `strategy`) and a link in `links_dir`; the others are rejected with the scan's reason.
fn add_input_files(
    scanned: &[ScannedFile],
    strategy: Strategy,
    links_dir: &Path,
    requirements: &mut Vec<String>,
    rejected: &mut Vec<RejectedInput>,
) -> Result<(), PlanError> {
    for file in scanned {
        match (file.decision, &file.name, &file.version) {
            (Decision::Invalid, _, _) | (_, None, _) | (_, _, None) => {
                rejected.push(RejectedInput {
                    input: file.file.clone(),
                    reason: file.reason.clone(),
                });
            }
            (_, Some(name), Some(version)) => {
                let op = match strategy {
                    Strategy::Pinned => "==",
                    Strategy::Eager => ">=",
                };
                requirements.push(format!("{name}{op}{version}"));
                link_into(&file.path, &links_dir.join(&file.file))?;
            }
        }
    }
    Ok(())
}

/// The resolver overrides of the plan overrides, by package: skip and pin. A skipped
/// package gets a marker that no environment has, so it leaves the resolution also where
/// it is only a dependency (with what only it needs).
fn apply_overrides(
    plan_overrides: &Overrides,
    skipped: &mut Vec<SkippedPackage>,
    rejected: &mut Vec<RejectedInput>,
) -> BTreeMap<String, String> {
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for (name, o) in plan_overrides {
        if o.skip {
            match ProjectName::new(name.as_str()) {
                Ok(project) => skipped.push(SkippedPackage {
                    name: project,
                    version: None,
                    reason: "skipped by the plan overrides".into(),
                }),
                Err(err) => rejected.push(RejectedInput {
                    input: format!("plan override {name}: skip"),
                    reason: err.to_string(),
                }),
            }
            overrides.insert(name.clone(), format!("{name} ; sys_platform == 'never'"));
        } else if let Some(pin) = &o.pin {
            match override_pin(name, pin) {
                Ok(line) => {
                    overrides.insert(name.clone(), line);
                }
                Err(reason) => rejected.push(RejectedInput {
                    input: format!("plan override {name}: pin {pin:?}"),
                    reason,
                }),
            }
        }
    }
    overrides
}

/// Known failures: forbid those versions (as constraints), so the resolver picks another.
/// Returns the `(name, version)` pairs forbidden.
fn forbid_known_failures(
    known_failures: &[(String, String)],
    constraints: &mut Vec<String>,
) -> Vec<(PackageName, ProjectVersion)> {
    let mut failed_before = Vec::new();
    for (name, version) in known_failures {
        let (Ok(name), Ok(version)) = (PackageName::new(name.clone()), version.parse::<Version>())
        else {
            tracing::warn!(%name, %version, "ignoring a known failure that is no package version");
            continue;
        };
        // Normalized (`1.0.0-beta1` becomes `1.0.0b1`), for the constraint and the plan.
        let version = ProjectVersion::from(version);
        constraints.push(format!("{name}!={version}"));
        failed_before.push((name, version));
    }
    failed_before
}

/// The `--only-binary` values that uv gets, so that resolution avoids versions without a
/// wheel for the target as pip does. With `--only-binary :all:` and `--no-binary` names
/// together, uv gets nothing (it cannot say "these from source, the rest binary" without
/// building sdists for metadata); the plan still applies both.
fn uv_only_binary(control: &FormatControl) -> Vec<String> {
    if control.only_binary.contains(":all:") {
        if control.no_binary.is_empty() {
            vec![":all:".to_string()]
        } else {
            Vec::new()
        }
    } else {
        control.only_binary.iter().cloned().collect()
    }
}

/// Where the names a plan resolved against `index_name` (the redacted index list) are
/// kept for the next plan against the same indexes:
/// `<cache>/plans/v1/prefetch/<sha256 of the index list, 16 hex>.json`.
fn prefetch_memory(cache: &Path, index_name: &str) -> PathBuf {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(index_name.as_bytes()));
    cache
        .join("plans")
        .join("v1")
        .join("prefetch")
        .join(format!("{}.json", &digest[..16]))
}

/// The package names the last plan against the same indexes resolved, if any.
fn previous_plan_names(cache: &Path, index_name: &str) -> Vec<String> {
    std::fs::read(prefetch_memory(cache, index_name))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        .map(|names| {
            names
                .into_iter()
                .filter(|n| PackageName::new(n.clone()).is_ok_and(|p| p.as_ref() == n))
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps the resolved names for [`previous_plan_names`]; a failure only costs speed.
fn remember_plan_names(cache: &Path, index_name: &str, nodes: &[PlanNode]) {
    let names: Vec<&str> = nodes.iter().map(|n| n.name.normalized().as_ref()).collect();
    if let Ok(bytes) = serde_json::to_vec(&names) {
        let _ = refinery_store::write_atomic(&prefetch_memory(cache, index_name), &bytes);
    }
}

/// The override line for a `pin` of `PLAN_OVERRIDES_JSON`: a version (`1.2`) or a
/// specifier (`<2`).
fn override_pin(name: &str, pin: &str) -> Result<String, String> {
    if let Ok(version) = pin.trim().parse::<Version>() {
        return Ok(format!("{name}=={version}"));
    }
    if pin.trim().parse::<VersionSpecifiers>().is_ok() {
        return Ok(format!("{name}{}", pin.trim()));
    }
    Err(format!(
        "{pin:?} is neither a version nor a version specifier; write e.g. \"1.2.3\" or \"<2\""
    ))
}

fn nodes_has(pins: &[ResolvedPin], name: &PackageName) -> bool {
    pins.iter().any(|p| &p.name == name)
}

fn is_skipped(requirement: &str, overrides: &Overrides) -> bool {
    refinery_pep::parse_requirement(requirement)
        .is_ok_and(|r| overrides.get(r.name.as_ref()).is_some_and(|o| o.skip))
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.retain(|i| seen.insert(i.clone()));
    items
}

/// Give the plan its content id.
fn finish(mut plan: Plan) -> Plan {
    plan.id.clear();
    let bytes = serde_json::to_vec(&plan).expect("plans serialize");
    plan.id = hex::encode(&Sha256::digest(&bytes)[..8]);
    plan
}

/// A readable summary: counts per action and the packages to build.
#[must_use]
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
            node.name,
            node.version_str(),
            node.reason
        ));
    }
    for node in plan.nodes.iter().filter(|n| n.action == Action::Missing) {
        out.push_str(&format!(
            "  missing {} {}  ({})\n",
            node.name,
            node.version_str(),
            node.reason
        ));
    }
    for r in &plan.rejected {
        out.push_str(&format!("  rejected {}  ({})\n", r.input, r.reason));
    }
    for s in &plan.skipped {
        out.push_str(&format!(
            "  skipped {} {}  ({})\n",
            s.name,
            refinery_pep::project_version::spelling_or_empty(s.version.as_ref()),
            s.reason
        ));
    }
    for note in &plan.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}
