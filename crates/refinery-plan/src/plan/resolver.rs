//! Resolution that isolates failures: which requirements cannot be resolved or conflict, and why.

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::{IndexClient, IndexConfig};
use refinery_pep::{PackageName, ProjectName, ProjectVersion, Target};

use crate::listings::{fetch_listings, Listings};
use crate::resolve::{resolve, ResolveError, ResolveRequest, ResolvedPin};

use super::{Action, PlanError, PlanNode};

/// What every resolution of one plan shares.
pub(super) struct Resolver<'a> {
    /// `--only-binary` as uv gets it, for the reasons.
    pub(super) only_binary: &'a [String],
    pub(super) target: &'a Target,
    pub(super) index: &'a IndexConfig,
    pub(super) index_name: &'a str,
    pub(super) work_dir: &'a Path,
    pub(super) uv_cache: &'a Path,
    /// Resolver runs left for isolating failures (each may take seconds against a bad index).
    pub(super) budget: std::cell::Cell<usize>,
}

/// Requirements that resolve together, and the others with why not.
type Partition = (Vec<String>, Vec<(String, String)>);

/// Why a set of requirements does not resolve.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) message: String,
    /// The requirements have no solution (rather than: something could not be fetched).
    pub(super) unsatisfiable: bool,
}

/// After this many requirements failed alone the same way (the same message but for their
/// names and numbers) with something other than "no solution", the cause is taken to be
/// shared (the index, the network, the resolver's setup) and the rest is not tried.
const SAME_FAILURE_LIMIT: usize = 3;

impl Resolver<'_> {
    pub(super) fn resolve(
        &self,
        request: &ResolveRequest,
    ) -> Result<Vec<ResolvedPin>, ResolveError> {
        resolve(
            request,
            self.target,
            self.index,
            self.work_dir,
            self.uv_cache,
        )
    }

    /// Whether `requirements` resolve together.
    pub(super) fn check(
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
    pub(super) fn isolate(
        &self,
        request: &mut ResolveRequest,
        missing: &mut BTreeMap<String, PlanNode>,
        joint: Option<Failure>,
    ) -> Result<Vec<ResolvedPin>, PlanError> {
        let all = request.requirements.clone();
        let (good, bad) = self.partition(request, &all, joint)?;
        for (requirement, reason) in bad {
            if let Some(name) = requirement_project(&requirement) {
                missing.insert(name.to_string(), missing_node(&name, None, reason, true));
            }
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
                    let Some(name) = requirement_project(&requirement) else {
                        continue;
                    };
                    let reason = self.conflict_reason(&requirement, message);
                    missing.insert(name.to_string(), missing_node(&name, None, reason, true));
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
pub(super) fn failure_shape(message: &str, name: &str) -> String {
    message
        .replace(name, "{}")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// Whether the resolver's `message` names the package `name` (normalized) as a word.
pub(super) fn mentions(message: &str, name: &str) -> bool {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|word| word.trim_matches(['.', '-', '_']))
        .filter(|word| !word.is_empty())
        .any(|word| PackageName::new(word.to_string()).is_ok_and(|w| w.as_ref() == name))
}

/// The project a requirement names. The resolver's requirements are the `Display` of
/// parsed PEP 508 requirements (see `inputs.rs`), so they always name one.
pub(super) fn requirement_project(requirement: &str) -> Option<ProjectName> {
    refinery_pep::parse_requirement(requirement)
        .ok()
        .map(|r| ProjectName::from(r.name))
}

pub(super) fn requirement_name(requirement: &str) -> String {
    refinery_pep::parse_requirement(requirement)
        .map_or_else(|_| requirement.to_string(), |r| r.name.to_string())
}

/// A node without a usable file. `version` is `None` when nothing was resolved; the id is
/// then the bare name.
pub(super) fn missing_node(
    name: &ProjectName,
    version: Option<ProjectVersion>,
    reason: String,
    direct: bool,
) -> PlanNode {
    PlanNode {
        id: match &version {
            None => name.to_string(),
            Some(version) => format!("{name}=={version}"),
        },
        name: name.clone(),
        version,
        action: Action::Missing,
        reason,
        source: None,
        steps: Vec::new(),
        build_requires: Vec::new(),
        direct,
        overrides: None,
    }
}

/// The message and kind of a resolution failure that can be isolated; other errors end
/// the plan.
pub(super) fn explained_failure(err: ResolveError) -> Result<Failure, PlanError> {
    let Some((message, unsatisfiable)) = err.explanation() else {
        return Err(err.into());
    };
    Ok(Failure {
        message: message.to_string(),
        unsatisfiable,
    })
}

/// The first resolution, while the listings of `prefetch_names` are fetched. When it
/// fails, the requirements whose project the index cannot even list are missing with the
/// index's own error (a down index, garbage, a login page...), and the rest is isolated.
pub(super) fn resolve_first(
    resolver: &Resolver<'_>,
    request: &mut ResolveRequest,
    missing: &mut BTreeMap<String, PlanNode>,
    listings: &mut Listings,
    client: &IndexClient,
    prefetch_names: &[String],
) -> Result<Vec<ResolvedPin>, PlanError> {
    let (first, prefetched) = std::thread::scope(|scope| {
        let prefetch = scope.spawn(|| fetch_listings(client, prefetch_names));
        let first = resolver.resolve(request);
        (first, prefetch.join().unwrap_or_default())
    });
    listings.insert_all(prefetched);
    let err = match first {
        Ok(pins) => return Ok(pins),
        Err(err) => err,
    };
    let failure = explained_failure(err)?;
    let index_name = resolver.index_name;
    let before = request.requirements.len();
    request.requirements.retain(|requirement| {
        let Some(name) = requirement_project(requirement) else {
            return true;
        };
        match listings.get(name.normalized().as_ref()) {
            Some(Err(err)) => {
                missing.insert(
                    name.to_string(),
                    missing_node(
                        &name,
                        None,
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
    resolver.isolate(request, missing, joint)
}
