//! The plan: a DAG of package-version nodes, each reused, built from an sdist, or
//! missing (with the reason), with runtime and build-system edges.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use refinery_index::{redact_url, DistFile, IndexClient, IndexConfig};
use refinery_pep::{
    BinaryOption, Compatibility, FormatControl, PackageName, RequirementsTxt, SdistFilename,
    Target, Version, VersionSpecifiers, WheelFilename,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::build_requires::read_build_requires;
use crate::hashes::{check_file, ExpectedHashes, FileCheck};
use crate::listings::{fetch_listings, Listings, MAX_CONCURRENT_LISTINGS};
use crate::overrides::{Overrides, PackageOverride};
use crate::resolve::{index_display, resolve, ResolveError, ResolveRequest, ResolvedPin};
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

/// What the requirements files contribute.
#[derive(Debug, Default)]
struct RequirementInputs {
    requirements: Vec<String>,
    constraints: Vec<String>,
    rejected: Vec<RejectedInput>,
    /// Names of rejected requirements that still name a package (`foo @ URL`).
    rejected_names: Vec<(String, String)>,
    /// `--pre` in a requirements file.
    pre: bool,
    /// Index options of the requirements files, which the plan does not follow.
    ignored_options: Vec<String>,
    /// `--hash` values and `--require-hashes` of the files.
    hashes: ExpectedHashes,
    /// `--no-binary` / `--only-binary` of the files, in order.
    binary_options: Vec<(BinaryOption, String)>,
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

/// What every resolution of one plan shares.
struct Resolver<'a> {
    /// `--only-binary` as uv gets it, for the reasons.
    only_binary: &'a [String],
    target: &'a Target,
    index: &'a IndexConfig,
    index_name: &'a str,
    work_dir: &'a Path,
    uv_cache: &'a Path,
    /// Resolver runs left for isolating failures (each may take seconds against a bad index).
    budget: std::cell::Cell<usize>,
}

/// Requirements that resolve together, and the others with why not.
type Partition = (Vec<String>, Vec<(String, String)>);

/// Why a set of requirements does not resolve.
#[derive(Debug, Clone)]
struct Failure {
    message: String,
    /// The requirements have no solution (rather than: something could not be fetched).
    unsatisfiable: bool,
}

/// After this many requirements failed alone the same way (the same message but for their
/// names and numbers) with something other than "no solution", the cause is taken to be
/// shared (the index, the network, the resolver's setup) and the rest is not tried.
const SAME_FAILURE_LIMIT: usize = 3;

impl Resolver<'_> {
    fn resolve(&self, request: &ResolveRequest) -> Result<Vec<ResolvedPin>, ResolveError> {
        resolve(
            request,
            self.target,
            self.index,
            self.work_dir,
            self.uv_cache,
        )
    }

    /// Whether `requirements` resolve together.
    fn check(
        &self,
        base: &ResolveRequest,
        requirements: &[String],
    ) -> Result<Result<(), Failure>, PlanError> {
        if requirements.is_empty() {
            return Ok(Ok(()));
        }
        let left = self.budget.get();
        if left == 0 {
            return Ok(Err(Failure {
                message: "the resolver ran too often while isolating failures; resolve the reported problems first".into(),
                unsatisfiable: false,
            }));
        }
        self.budget.set(left - 1);
        let request = ResolveRequest {
            requirements: requirements.to_vec(),
            ..base.clone()
        };
        match self.resolve(&request) {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.explanation() {
                Some((message, unsatisfiable)) => Ok(Err(Failure {
                    message: message.to_string(),
                    unsatisfiable,
                })),
                None => Err(err.into()),
            },
        }
    }

    /// The requirements of `request` do not resolve together (`joint` says why, when
    /// known): mark the ones that cannot be resolved, alone or with the others, missing
    /// with the resolver's message, and resolve the rest.
    fn isolate(
        &self,
        request: &mut ResolveRequest,
        missing: &mut BTreeMap<String, PlanNode>,
        joint: Option<Failure>,
    ) -> Result<Vec<ResolvedPin>, PlanError> {
        let all = request.requirements.clone();
        let (good, bad) = self.partition(request, &all, joint)?;
        for (requirement, reason) in bad {
            let name = requirement_name(&requirement);
            missing.insert(name.clone(), missing_node(&name, "", reason, true));
        }
        request.requirements = good;
        if request.requirements.is_empty() {
            return Ok(Vec::new());
        }
        match self.resolve(request) {
            Ok(pins) => Ok(pins),
            Err(err) => {
                let Some((message, _)) = err.explanation() else {
                    return Err(err.into());
                };
                for requirement in std::mem::take(&mut request.requirements) {
                    let name = requirement_name(&requirement);
                    let reason = self.conflict_reason(&requirement, message);
                    missing.insert(name.clone(), missing_node(&name, "", reason, true));
                }
                Ok(Vec::new())
            }
        }
    }

    fn unresolvable_reason(&self, requirement: &str, message: &str) -> String {
        let only_binary = if self.only_binary.is_empty() {
            String::new()
        } else {
            format!(
                " (--only-binary {}: versions without a wheel for the target are not used)",
                self.only_binary.join(",")
            )
        };
        format!(
            "`{requirement}` cannot be resolved for {} on {}{only_binary}: {message}",
            self.target, self.index_name
        )
    }

    fn conflict_reason(&self, requirement: &str, message: &str) -> String {
        format!(
            "`{requirement}` conflicts with other requirements for {} on {}: {message}",
            self.target, self.index_name
        )
    }

    /// Split `requirements` into a set that resolves together and the rest, each with why.
    /// The resolver's message names the suspects; the others are checked first (they
    /// usually resolve at once), then each suspect alone, with them, and together.
    fn partition(
        &self,
        base: &ResolveRequest,
        requirements: &[String],
        joint: Option<Failure>,
    ) -> Result<Partition, PlanError> {
        let joint = match joint {
            Some(failure) => failure,
            None => match self.check(base, requirements)? {
                Ok(()) => return Ok((requirements.to_vec(), Vec::new())),
                Err(failure) => failure,
            },
        };
        if let [only] = requirements {
            return Ok((
                Vec::new(),
                vec![(only.clone(), self.unresolvable_reason(only, &joint.message))],
            ));
        }
        let named: Vec<String> = requirements
            .iter()
            .filter(|r| mentions(&joint.message, &requirement_name(r)))
            .cloned()
            .collect();
        let suspects = if named.is_empty() || named.len() == requirements.len() {
            requirements.to_vec()
        } else {
            named
        };
        let rest: Vec<String> = requirements
            .iter()
            .filter(|r| !suspects.contains(r))
            .cloned()
            .collect();
        let (mut good, mut bad) = if rest.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.partition(base, &rest, None)?
        };
        let mut fits = Vec::new();
        let mut same: Option<(String, usize, String)> = None;
        for suspect in &suspects {
            if let Some((_, count, message)) = &same {
                if *count >= SAME_FAILURE_LIMIT {
                    bad.push((suspect.clone(), self.unresolvable_reason(suspect, message)));
                    continue;
                }
            }
            match self.check(base, std::slice::from_ref(suspect))? {
                Err(failure) => {
                    if !failure.unsatisfiable {
                        let shape = failure_shape(&failure.message, &requirement_name(suspect));
                        same = match same.take() {
                            Some((s, count, m)) if s == shape => Some((s, count + 1, m)),
                            _ => Some((shape, 1, failure.message.clone())),
                        };
                    }
                    bad.push((
                        suspect.clone(),
                        self.unresolvable_reason(suspect, &failure.message),
                    ));
                }
                Ok(()) if good.is_empty() => fits.push(suspect.clone()),
                Ok(()) => {
                    let with: Vec<String> = good.iter().chain([suspect]).cloned().collect();
                    match self.check(base, &with)? {
                        Ok(()) => fits.push(suspect.clone()),
                        Err(failure) => bad.push((
                            suspect.clone(),
                            self.conflict_reason(suspect, &failure.message),
                        )),
                    }
                }
            }
        }
        if fits.len() > 1 {
            let together: Vec<String> = good.iter().chain(&fits).cloned().collect();
            if let Err(failure) = self.check(base, &together)? {
                // The culprits: those without which the others resolve.
                let mut culprits = Vec::new();
                for fit in &fits {
                    let without: Vec<String> =
                        together.iter().filter(|r| *r != fit).cloned().collect();
                    if self.check(base, &without)?.is_ok() {
                        culprits.push(fit.clone());
                    }
                }
                if culprits.is_empty() {
                    culprits = fits.clone();
                }
                fits.retain(|f| !culprits.contains(f));
                for culprit in culprits {
                    let reason = self.conflict_reason(&culprit, &failure.message);
                    bad.push((culprit, reason));
                }
            }
        }
        good.extend(fits);
        // Keep the order of the input.
        good.sort_by_key(|r| requirements.iter().position(|x| x == r));
        bad.sort_by_key(|(r, _)| requirements.iter().position(|x| x == r));
        Ok((good, bad))
    }
}

/// `message` without the package `name` and without digits: failures of the same kind for
/// different packages (a refused connection, a missing file) have the same shape.
fn failure_shape(message: &str, name: &str) -> String {
    message
        .replace(name, "{}")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// Whether the resolver's `message` names the package `name` (normalized) as a word.
fn mentions(message: &str, name: &str) -> bool {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|word| word.trim_matches(['.', '-', '_']))
        .filter(|word| !word.is_empty())
        .any(|word| PackageName::new(word.to_string()).is_ok_and(|w| w.as_ref() == name))
}

fn requirement_name(requirement: &str) -> String {
    refinery_pep::parse_requirement(requirement)
        .map_or_else(|_| requirement.to_string(), |r| r.name.to_string())
}

/// A node without a usable file. `version` is empty when nothing was resolved; the id is
/// then the bare name.
fn missing_node(name: &str, version: &str, reason: String, direct: bool) -> PlanNode {
    PlanNode {
        id: if version.is_empty() {
            name.to_string()
        } else {
            format!("{name}=={version}")
        },
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

/// Decide how one pinned package-version is obtained.
fn select_source(
    pin: &ResolvedPin,
    inputs: &BTreeMap<String, Vec<&ScannedFile>>,
    target: &Target,
    listings: &Listings,
    index_name: &str,
    format_control: &FormatControl,
) -> PlanNode {
    let allowed = format_control.allowed(&pin.name);
    let mut node = missing_node(
        pin.name.as_ref(),
        &pin.version.to_string(),
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
fn installable(file: &DistFile, python: &Version) -> bool {
    !file.yanked
        && file.requires_python.as_deref().is_none_or(|spec| {
            spec.parse::<VersionSpecifiers>()
                .map_or(true, |s| s.contains(python))
        })
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
    let (Ok(package), Ok(python)) = (
        PackageName::new(name.to_string()),
        format!("{}.0", target.python_str()).parse::<Version>(),
    ) else {
        return Vec::new();
    };
    let pre = after.any_prerelease();
    let mut best: BTreeMap<Version, (usize, &DistFile)> = BTreeMap::new();
    for file in files.iter().filter(|f| installable(f, &python)) {
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
fn newest_usable(name: &str, files: &[DistFile], target: &Target, pre: bool) -> Option<Version> {
    let package = PackageName::new(name.to_string()).ok()?;
    let python: Version = format!("{}.0", target.python_str()).parse().ok()?;
    files
        .iter()
        .filter(|f| installable(f, &python))
        .filter_map(|f| {
            if let Ok(wheel) = f.filename.parse::<WheelFilename>() {
                (wheel.name == package
                    && matches!(
                        target.compatibility(&wheel),
                        Compatibility::Compatible { .. }
                    ))
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

/// Download the sdists of the build nodes (hash-checked, concurrently) and read their
/// `build-system.requires`; a node whose sdist cannot be had becomes `missing`.
fn read_all_build_requires(
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
                            node.reason = reason;
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
) -> Result<Vec<String>, String> {
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
    let requires = read_build_requires(&path)
        .map_err(|reason| format!("the sdist cannot be read: {reason}"))?;
    if let Some(cached) = known {
        if let Err(err) = refinery_store::write_atomic(
            &cached,
            &serde_json::to_vec(&requires).unwrap_or_default(),
        ) {
            tracing::warn!(path = %cached.display(), %err, "cannot cache build requirements");
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
) -> Result<PathBuf, String> {
    let source = node.source.as_ref().ok_or("no source")?;
    if let Some(path) = &source.path {
        return Ok(PathBuf::from(path));
    }
    let file = match listings.get(&node.name) {
        Some(Ok(files)) => files.iter().find(|f| f.filename == source.filename),
        _ => None,
    }
    .ok_or_else(|| format!("{} disappeared from the index", source.filename))?;
    client
        .download(file, dir)
        .map_err(|e| format!("cannot download {}: {e}", source.filename))
}

/// The local file of a node's source: the input file, the sdist in `sdist_dir`, or the
/// index wheel downloaded into `wheel_dir` (both hash-checked against the index's sha256).
fn fetch_source(
    node: &PlanNode,
    listings: &Listings,
    client: &IndexClient,
    sdist_dir: &Path,
    wheel_dir: &Path,
) -> Result<PathBuf, String> {
    let source = node.source.as_ref().ok_or("no source")?;
    match source.kind {
        SourceKind::IndexWheel => {
            let file = match listings.get(&node.name) {
                Some(Ok(files)) => files.iter().find(|f| f.filename == source.filename),
                _ => None,
            }
            .ok_or_else(|| format!("{} disappeared from the index", source.filename))?;
            client
                .download(file, wheel_dir)
                .map_err(|e| format!("cannot download {}: {e}", source.filename))
        }
        _ => sdist_path(node, listings, client, sdist_dir),
    }
}

/// pip's hash-checking mode over the plan: the source file of every reuse and build node,
/// and every input file of a package with hashes, must match one of its `--hash` values;
/// in `--require-hashes` mode every node needs some. A node whose file cannot be fetched
/// becomes missing. On success the index sources carry the sha256 of the checked bytes
/// (later downloads are held to it) and the hash they matched.
fn check_hashes(
    nodes: &mut [PlanNode],
    scanned: &[ScannedFile],
    expected: &ExpectedHashes,
    fetch: impl Fn(&PlanNode) -> Result<PathBuf, String>,
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
        let Ok(name) = PackageName::new(node.name.clone()) else {
            continue;
        };
        let path = match fetch(node) {
            Ok(path) => path,
            // Other bytes than the index announced: in hash-checking mode that is a hash
            // failure like any other (exit 2), not a missing package.
            Err(reason) if reason.contains("sha256 mismatch") => {
                problems.push(format!(
                    "{} {}: the download is not the file the index announced ({reason})",
                    node.name, node.version
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
                node.version,
                got.join(" / "),
                describe_origin(&node.name),
                expected.by_name[name.as_ref()].hashes.join(", ")
            )),
            Ok(FileCheck::NoHash { sha256 }) => problems.push(format!(
                "{} {} ({}) has no --hash, which --require-hashes needs for every package, dependencies included; add `{}=={} --hash=sha256:{sha256}` if {from} is the file you want",
                node.name, node.version, source.filename, node.name, node.version
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

    #[test]
    fn a_download_with_other_bytes_than_announced_is_a_hash_failure_in_hash_mode() {
        let mut node = missing_node("tinypkg", "1.0", String::new(), true);
        node.action = Action::Reuse;
        node.source = Some(Source {
            kind: SourceKind::IndexWheel,
            filename: "tinypkg-1.0-py3-none-any.whl".into(),
            url: Some("http://127.0.0.1:9/files/tinypkg-1.0-py3-none-any.whl".into()),
            path: None,
            sha256: None,
            checked_hash: None,
        });
        let mut expected = ExpectedHashes::default();
        expected.add_entries(&[refinery_pep::RequirementEntry {
            requirement: refinery_pep::parse_requirement("tinypkg==1.0").unwrap(),
            hashes: vec![format!("sha256:{}", "1c".repeat(32))],
            file: "requirements.txt".into(),
            line: 1,
        }]);
        let mut nodes = vec![node];
        let err = check_hashes(&mut nodes, &[], &expected, |_| {
            Err(
                "cannot download tinypkg-1.0-py3-none-any.whl: sha256 mismatch for \
                 tinypkg-1.0-py3-none-any.whl: expected 1c…, got 00…"
                    .to_string(),
            )
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("not the file the index announced"),
            "{err}"
        );
        // A file that cannot be fetched at all stays a missing package.
        let mut nodes = vec![{
            let mut n = missing_node("tinypkg", "1.0", String::new(), true);
            n.action = Action::Reuse;
            n.source = nodes[0].source.clone();
            n
        }];
        check_hashes(&mut nodes, &[], &expected, |_| {
            Err("connection refused".into())
        })
        .unwrap();
        assert_eq!(nodes[0].action, Action::Missing);
    }

    #[test]
    fn newer_target_wheels_are_the_next_versions_with_a_wheel_for_the_target_oldest_first() {
        let file = |name: &str, yanked: bool, requires_python: Option<&str>| DistFile {
            filename: name.into(),
            url: format!("https://files.example/{name}"),
            sha256: None,
            requires_python: requires_python.map(Into::into),
            yanked,
            has_metadata: false,
            index: String::new(),
        };
        let files = vec![
            file(
                "orjson-3.10.9-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                None,
            ),
            file(
                "orjson-3.10.10-cp311-cp311-manylinux_2_17_x86_64.whl",
                false,
                None,
            ),
            file("orjson-3.10.10.tar.gz", false, None),
            file(
                "orjson-3.10.11-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                true,
                None,
            ),
            file(
                "orjson-3.10.12-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                None,
            ),
            file(
                "orjson-3.10.12-cp311-abi3-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                None,
            ),
            file(
                "orjson-3.10.13-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                Some(">=3.12"),
            ),
            file(
                "orjson-3.10.14rc1-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                None,
            ),
            file(
                "orjson-3.10.15-cp311-cp311-manylinux_2_28_s390x.whl",
                false,
                None,
            ),
            file(
                "orjson-3.10.16-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                false,
                None,
            ),
        ];
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let after: Version = "3.10.9".parse().unwrap();
        let got: Vec<(String, String)> = newer_target_wheels("orjson", &files, &target, &after, 5)
            .into_iter()
            .map(|(v, f)| (v.to_string(), f.filename))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "3.10.12".to_string(),
                    "orjson-3.10.12-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                        .to_string()
                ),
                (
                    "3.10.16".to_string(),
                    "orjson-3.10.16-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                        .to_string()
                ),
            ]
        );
        assert_eq!(
            newer_target_wheels("orjson", &files, &target, &after, 1).len(),
            1
        );
    }

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
    fn resolver_messages_name_packages_as_whole_words() {
        let message = "Because all versions of right depend on shared>=2 and you require left-pad==1.0, ... http://127.0.0.1:1/simple/Foo_Bar/";
        for name in ["right", "shared", "left-pad", "foo-bar"] {
            assert!(mentions(message, name), "{name}");
        }
        for name in ["left", "pad", "shared2", "ight"] {
            assert!(!mentions(message, name), "{name}");
        }
    }

    #[test]
    fn failures_of_the_same_kind_have_the_same_shape() {
        let a = failure_shape(
            "Request failed after 3 retries in 4.8s: Failed to fetch: http://h:81/simple/aaa/",
            "aaa",
        );
        let b = failure_shape(
            "Request failed after 3 retries in 5.1s: Failed to fetch: http://h:81/simple/bbb/",
            "bbb",
        );
        assert_eq!(a, b);
        let c = failure_shape(
            "Hash mismatch for `aaa==1.0` Computed: sha256:9cab36ee",
            "aaa",
        );
        let d = failure_shape(
            "Hash mismatch for `bbb==1.0` Computed: sha256:c570ee65",
            "bbb",
        );
        assert_ne!(c, d);
    }

    #[test]
    fn override_pins_are_versions_or_specifiers() {
        assert_eq!(override_pin("a", "1.2").unwrap(), "a==1.2");
        assert_eq!(override_pin("a", " <2 ").unwrap(), "a<2");
        assert!(override_pin("a", "latest").unwrap_err().contains("latest"));
    }

    #[test]
    fn missing_nodes_without_a_version_are_named_by_the_package() {
        assert_eq!(missing_node("a", "", String::new(), true).id, "a");
        assert_eq!(missing_node("a", "1", String::new(), true).id, "a==1");
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
