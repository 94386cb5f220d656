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
use refinery_pep::{BinaryOption, FormatControl, PackageName, Target, Version, VersionSpecifiers};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::listings::{fetch_listings, Listings};
use crate::overrides::{Overrides, PackageOverride};
use crate::resolve::{index_display, ResolveError, ResolveRequest, ResolvedPin};
use crate::scan::{scan_dir, Decision, ScanError};

use graph::{bounded_closure, edges_of};
use inputs::{index_inputs, link_into, read_requirement_inputs, reset_dir};
use resolver::{missing_node, requirement_name, Failure, Resolver};
use sdists::{check_hashes, fetch_source, read_all_build_requires};
use sources::{newest_usable, select_source};

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
    #[error("hash check failed, nothing was built (pip's hash-checking mode: --require-hashes, or a --hash in the requirements):\n{}\nhint: a mismatch means the file is not the one that was pinned: check the index, or update the hashes (e.g. `uv pip compile --generate-hashes`) if the change is expected", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Hashes { problems: Vec<String> },
    #[error("{0}\nhint: fix the --no-binary / --only-binary value")]
    FormatControl(#[from] refinery_pep::FormatControlError),
    #[error("cannot prepare the planning folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Make the plan for `input` (a folder of wheels and/or a requirements.txt).
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
    let mut format_control = FormatControl::default();
    for (option, value) in options
        .pip
        .binary_options
        .iter()
        .chain(&reqs.binary_options)
    {
        format_control.apply(*option, value)?;
    }
    let mut expected_hashes = std::mem::take(&mut reqs.hashes);
    expected_hashes.required |= options.pip.require_hashes;
    let mut rejected = std::mem::take(&mut reqs.rejected);
    let mut skipped = Vec::new();
    let mut notes = std::mem::take(&mut reqs.ignored_options);
    let allow_prereleases = options.allow_prereleases || reqs.pre;

    // Input distributions become requirements and find-links. uv runs inside the work
    // folder: every path it is given must be absolute.
    let cache = &std::path::absolute(cache).map_err(|source| PlanError::Io {
        path: cache.to_path_buf(),
        source,
    })?;
    // A folder of its own: plans may run side by side on one cache (the server's workers).
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

    // Overrides: skip and pin. A skipped package gets a marker that no environment has, so
    // it leaves the resolution also where it is only a dependency (with what only it needs).
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for (name, o) in &options.overrides {
        if o.skip {
            skipped.push(SkippedPackage {
                name: name.clone(),
                version: None,
                reason: "skipped by the plan overrides".into(),
            });
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
    reqs.requirements
        .retain(|r| !is_skipped(r, &options.overrides));
    // Known failures: forbid those versions, so the resolver picks another.
    let mut failed_before = Vec::new();
    for (name, version) in &options.known_failures {
        let (Ok(name), Ok(version)) = (PackageName::new(name.clone()), version.parse::<Version>())
        else {
            tracing::warn!(%name, %version, "ignoring a known failure that is no package version");
            continue;
        };
        reqs.constraints.push(format!("{name}!={version}"));
        failed_before.push((name.to_string(), version.to_string()));
    }

    let direct_names: Vec<String> = reqs
        .requirements
        .iter()
        .map(|r| requirement_name(r))
        .collect();
    // While the resolver runs, list the direct requirements and, when planning again, the
    // packages of the previous plan: usually every listing this plan needs.
    let mut prefetch_names = direct_names.clone();
    prefetch_names.extend(previous_plan_names(cache));
    let mut request = ResolveRequest {
        requirements: dedup(reqs.requirements),
        constraints: reqs.constraints,
        overrides: overrides.values().cloned().collect(),
        find_links: vec![links_dir.clone()],
        allow_prereleases,
        only_binary: uv_only_binary(&format_control),
    };
    let uv_only_binary = request.only_binary.clone();
    let resolver = Resolver {
        only_binary: &uv_only_binary,
        target,
        index,
        index_name: &index_name,
        work_dir: &work_dir,
        uv_cache: &cache.join("uv"),
        budget: std::cell::Cell::new(4 * request.requirements.len() + 16),
    };
    let mut missing: BTreeMap<String, PlanNode> = BTreeMap::new();
    for (name, reason) in &reqs.rejected_names {
        missing.insert(name.clone(), missing_node(name, "", reason.clone(), true));
    }

    // Resolve, and meanwhile list the files of the packages on the index.
    let mut listings = Listings::default();
    let (first, prefetched) = std::thread::scope(|scope| {
        let prefetch = scope.spawn(|| fetch_listings(client, &prefetch_names));
        let first = resolver.resolve(&request);
        (first, prefetch.join().unwrap_or_default())
    });
    listings.insert_all(prefetched);
    let mut pins = match first {
        Ok(pins) => pins,
        Err(err) => {
            let Some((message, unsatisfiable)) = err.explanation() else {
                return Err(err.into());
            };
            let failure = Failure {
                message: message.to_string(),
                unsatisfiable,
            };
            // Requirements whose project the index cannot even list are missing with the
            // index's own error (a down index, garbage, a login page...).
            let before = request.requirements.len();
            request.requirements.retain(|requirement| {
                let name = requirement_name(requirement);
                match listings.get(&name) {
                    Some(Err(err)) => {
                        missing.insert(
                            name.clone(),
                            missing_node(
                                &name,
                                "",
                                format!(
                                    "`{requirement}`: the index {index_name} cannot list {name}: {err}"
                                ),
                                true,
                            ),
                        );
                        false
                    }
                    _ => true,
                }
            });
            let joint = (request.requirements.len() == before).then_some(failure);
            resolver.isolate(&mut request, &mut missing, joint)?
        }
    };

    let inputs_by_id = index_inputs(&scanned);
    let select = |pins: &[ResolvedPin], listings: &mut Listings| {
        let kept = bounded_closure(pins, options.max_deps);
        let names: Vec<String> = pins
            .iter()
            .filter(|p| kept.contains(p.name.as_ref()))
            .map(|p| p.name.to_string())
            .collect();
        listings.fetch(client, &names);
        let nodes: Vec<PlanNode> = pins
            .iter()
            .map(|pin| {
                if kept.contains(pin.name.as_ref()) {
                    select_source(
                        pin,
                        &inputs_by_id,
                        target,
                        listings,
                        &index_name,
                        &format_control,
                    )
                } else {
                    let mut node = missing_node(
                        pin.name.as_ref(),
                        &pin.version.to_string(),
                        format!(
                            "left out: the dependency bound MAX_DEPS={} was reached; raise MAX_DEPS",
                            options.max_deps
                        ),
                        pin.via.contains("-r"),
                    );
                    node.id = format!("{}=={}", pin.name, pin.version);
                    node
                }
            })
            .collect();
        (nodes, kept.len())
    };
    let (mut nodes, mut kept) = select(&pins, &mut listings);

    // Fallback to the newest version that has an sdist or a wheel for the target.
    if options.fallback_latest {
        let mut moved = Vec::new();
        for node in nodes.iter().filter(|n| n.action == Action::Missing) {
            let Some(Ok(files)) = listings.get(&node.name) else {
                continue;
            };
            if let Some(newer) = newest_usable(&node.name, files, target, allow_prereleases) {
                if newer.to_string() != node.version {
                    notes.push(format!(
                        "{} {} has no sdist and no wheel for {target}: --fallback-latest moves it to {newer}",
                        node.name, node.version
                    ));
                    moved.push((node.name.clone(), format!("{}=={newer}", node.name)));
                }
            }
        }
        if !moved.is_empty() {
            overrides.extend(moved);
            request.overrides = overrides.values().cloned().collect();
            pins = match resolver.resolve(&request) {
                Ok(pins) => pins,
                Err(err) => {
                    let Some((message, unsatisfiable)) = err.explanation() else {
                        return Err(err.into());
                    };
                    let failure = Failure {
                        message: message.to_string(),
                        unsatisfiable,
                    };
                    resolver.isolate(&mut request, &mut missing, Some(failure))?
                }
            };
            (nodes, kept) = select(&pins, &mut listings);
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
        let fetch_dirs = (sdist_dir.as_path(), work_dir.join("hash-check"));
        check_hashes(&mut nodes, &scanned, &expected_hashes, |node| {
            fetch_source(node, &listings, client, fetch_dirs.0, &fetch_dirs.1)
        })?;
    }
    for node in &mut nodes {
        node.overrides = options.overrides.get(&node.name).cloned();
    }
    nodes.extend(missing.into_values().filter(|m| !nodes_has(&pins, &m.name)));
    nodes.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let edges = edges_of(&pins, &nodes);
    // Known failures that concern this plan: the versions it avoided.
    for (name, version) in failed_before {
        if nodes.iter().any(|n| n.name == name) {
            skipped.push(SkippedPackage {
                name,
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

/// The package names of the last plan saved under `<cache>/plans/v1/latest.json` (where
/// the binary saves plans), if any.
fn previous_plan_names(cache: &Path) -> Vec<String> {
    #[derive(Deserialize)]
    struct Names {
        nodes: Vec<Name>,
    }
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    let path = cache.join("plans").join("v1").join("latest.json");
    std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Names>(&bytes).ok())
        .map(|plan| {
            plan.nodes
                .into_iter()
                .map(|n| n.name)
                .filter(|n| PackageName::new(n.clone()).is_ok_and(|p| p.as_ref() == n))
                .collect()
        })
        .unwrap_or_default()
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

fn nodes_has(pins: &[ResolvedPin], name: &str) -> bool {
    pins.iter().any(|p| p.name.as_ref() == name)
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
