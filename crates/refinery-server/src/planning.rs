//! Inputs → plans → build jobs: the seeds' user-guide flow
//! (`pending → planning → planned → build_queued | failed`).

use std::path::Path;

use refinery_index::IndexClient;
use refinery_pep::RequirementsTxt;
use refinery_plan::{
    make_plan, Action, PipOptions, Plan, PlanOptions, SourceKind, Strategy, DEFAULT_MAX_DEPS,
};
use refinery_store::queue::{
    InputStatus, Job, JobSpec, JobStatus, PendingInput, Recipe, StoredPlan,
};
use refinery_store::{Event, EventKind, RecordError, Recorder};

use crate::error::ApiError;
use crate::{AppState, ServerConfig};

/// Checks an uploaded requirements file `name` (errors name it and the line): UTF-8,
/// parseable, no includes, at most
/// `max_requirements` requirements (413 beyond), and (unless the server allows it) no
/// options that point at other indexes.
pub fn check_requirements(
    name: &str,
    text: &str,
    allow_index_options: bool,
    max_requirements: usize,
) -> Result<(), ApiError> {
    let mut loader = |path: &Path| -> std::io::Result<String> {
        Err(std::io::Error::other(format!(
            "`-r`/`-c` includes ({}) are not allowed in an upload; upload one file with every requirement",
            path.display()
        )))
    };
    let parsed = RequirementsTxt::parse_str(text, Path::new(name), &mut loader).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        ApiError::bad_request(format!("the requirements file is not valid: {e}{cause}"))
    })?;
    let index_options = parsed.index_url.is_some()
        || !parsed.extra_index_urls.is_empty()
        || !parsed.find_links.is_empty()
        || !parsed.trusted_hosts.is_empty();
    if index_options && !allow_index_options {
        return Err(ApiError::bad_request(
            "the requirements file names other indexes (-i/--index-url, --extra-index-url, \
             -f/--find-links or --trusted-host); this server only resolves against its \
             configured index (start it with --allow-index-options to permit them)",
        ));
    }
    let count = parsed.requirements.len() + parsed.rejected.len();
    if count > max_requirements {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_requirements",
            format!(
                "the requirements file holds {count} requirements; one input may hold at \
                 most {max_requirements} (the server's --max-requirements): split it into \
                 several uploads"
            ),
        ));
    }
    if parsed.requirements.is_empty() && parsed.rejected.is_empty() {
        return Err(ApiError::bad_request(
            "the requirements file holds no requirements",
        ));
    }
    Ok(())
}

/// Moves input `id` from `pending` or `failed` to `planning` (409 otherwise): the first
/// step of planning it.
pub fn start_planning(state: &AppState, id: i64) -> Result<PendingInput, ApiError> {
    Ok(state.store.transition_input(
        id,
        &[InputStatus::Pending, InputStatus::Failed],
        InputStatus::Planning,
        None,
        "",
    )?)
}

/// Computes the plan of an input (blocking; network and `uv`). Touches nothing but its
/// own work folder under `<cache>/plans`, so a plan that runs past its time can be
/// abandoned without undoing anything.
pub fn compute_plan(config: &ServerConfig, input: &PendingInput) -> Result<Plan, ApiError> {
    let dir = config
        .cache
        .join(&input.path)
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| ApiError::internal("the input has no folder"))?;
    run_planner(config, &dir)
}

/// Ends planning input `id` with what [`compute_plan`] gave: saves the plan, publishes the
/// input's reusable wheels, records the event and moves the input to `planned` (and, with
/// `AUTO_BUILD`, enqueues its builds: `build_queued`), or to `failed` with the error.
pub fn finish_planning(
    state: &AppState,
    id: i64,
    computed: Result<Plan, ApiError>,
) -> Result<(StoredPlan, Vec<Job>), ApiError> {
    let store = &*state.store;
    match computed.and_then(|plan| save_plan(state, id, plan)) {
        Ok((plan, stored)) => {
            store.transition_input(
                id,
                &[InputStatus::Planning],
                InputStatus::Planned,
                Some(&plan.id),
                "",
            )?;
            let mut jobs = Vec::new();
            if store.settings()?.auto_build {
                jobs = enqueue_plan(state, &plan, None, Some(id))?;
            }
            Ok((stored, jobs))
        }
        Err(e) => {
            let _ = store.transition_input(
                id,
                &[InputStatus::Planning],
                InputStatus::Failed,
                None,
                &e.message,
            );
            Err(e)
        }
    }
}

fn save_plan(state: &AppState, id: i64, plan: Plan) -> Result<(Plan, StoredPlan), ApiError> {
    let store = &*state.store;
    let record = refinery_build::plan_record::plan_record(&plan, Some(id))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    state.plan(&record).map_err(|e| match e {
        RecordError::Queue(e) => ApiError::from(e),
        e => crate::error::storage_error("the plan cannot be saved", &e),
    })?;
    // Read back what the store holds: its `created_ms` (the record carries 0; a plan saved
    // before under the same id keeps its first time), as `GET /api/plans` lists it.
    let stored = store.plan(&record.stored.id)?;
    // Reusable uploaded wheels go straight into the index.
    for node in &plan.nodes {
        if let (Action::Reuse, Some(source)) = (node.action, &node.source) {
            if source.kind == SourceKind::InputWheel {
                if let Some(path) = &source.path {
                    refinery_worker::publish::publish_wheel(
                        store,
                        &state.cas,
                        Path::new(path),
                        "uploaded",
                        None,
                    )?;
                    state.index.invalidate();
                }
            }
        }
    }
    let _ = state.event(
        &Event::new(
            EventKind::Plan,
            format!("plan {} for input {id}: {}", plan.id, summary_line(&plan)),
        )
        .with_data(stored.summary.clone()),
    );
    Ok((plan, stored))
}

fn summary_line(plan: &Plan) -> String {
    format!(
        "{} reuse, {} build, {} missing",
        plan.count(Action::Reuse),
        plan.count(Action::Build),
        plan.count(Action::Missing)
    )
}

fn run_planner(config: &ServerConfig, input_dir: &Path) -> Result<Plan, ApiError> {
    let options = PlanOptions {
        target: config.target()?,
        strategy: Strategy::Pinned,
        fallback_latest: false,
        max_deps: DEFAULT_MAX_DEPS,
        requirements_path: None,
        constraints_path: None,
        overrides: config.overrides.clone(),
        known_failures: Vec::new(),
        allow_prereleases: false,
        pip: PipOptions::default(),
    };
    let client = IndexClient::new(config.index.clone())
        .map_err(|e| ApiError::internal(format!("cannot set up the index client: {e}")))?;
    make_plan(input_dir, &config.cache, &options, &config.index, &client).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "plan_failed",
            in_cache_terms(config, &refinery_index::redact_url(&e.to_string())),
        )
    })
}

/// `message` with the cache folder written `<cache>`: a plan's errors name the input files
/// under it, and clients read them back (the answer, the input's `error`), but where the
/// server keeps its files is not theirs to know.
fn in_cache_terms(config: &ServerConfig, message: &str) -> String {
    let cache = std::path::absolute(&config.cache).unwrap_or_else(|_| config.cache.clone());
    let mut out = message.replace(&*cache.to_string_lossy(), "<cache>");
    if cache != config.cache {
        out = out.replace(&*config.cache.to_string_lossy(), "<cache>");
    }
    out
}

/// A published wheel of `name` `version` that installs on `target`: its tags and its
/// `Requires-Python`.
fn already_published<'a>(
    published: &'a [refinery_store::queue::PublishedFile],
    name: &str,
    version: &refinery_pep::ProjectVersion,
    target: &refinery_pep::Target,
) -> Option<&'a refinery_store::queue::PublishedFile> {
    let project = refinery_index::normalize_name(name);
    published
        .iter()
        .filter(|f| refinery_index::normalize_name(&f.project) == project)
        .filter(|f| {
            refinery_pep::ProjectVersion::new(f.version.as_str()).is_ok_and(|v| &v == version)
        })
        .filter(|f| {
            f.requires_python
                .as_deref()
                .is_none_or(|spec| target.admits_requires_python(spec))
        })
        .find(|f| {
            f.filename
                .parse::<refinery_pep::WheelFilename>()
                .is_ok_and(|w| target.compatibility(&w).is_compatible())
        })
}

/// Enqueues the jobs of a plan (all nodes, or the node `only`): builds and index wheels
/// as `pending` jobs, uploaded reusable wheels as `reused`, missing packages as `missing`,
/// skipped ones as `skipped_known_failure`, and (when the whole plan is enqueued) index
/// sdists and wheels the index already holds a wheel of for the target as `cached`. Moves
/// the input to `build_queued`.
pub fn enqueue_plan(
    state: &AppState,
    plan: &Plan,
    only: Option<&str>,
    input_id: Option<i64>,
) -> Result<Vec<Job>, ApiError> {
    let store = &*state.store;
    let mut jobs = Vec::new();
    let target = refinery_pep::Target::new(&plan.python, &plan.platform_tag).ok();
    let published = store.published()?;
    let wanted = |id: &str, name: &str| {
        only.is_none_or(|o| {
            o == id || refinery_index::normalize_name(o) == refinery_index::normalize_name(name)
        })
    };
    for node in &plan.nodes {
        if !wanted(&node.id, node.name.as_str()) {
            continue;
        }
        let (status, detail) = match (node.action, node.source.as_ref().map(|s| s.kind)) {
            (Action::Build, _) => (None, String::new()),
            (Action::Reuse, Some(SourceKind::InputWheel)) => {
                (Some(JobStatus::Reused), node.reason.clone())
            }
            (Action::Reuse, _) => (None, String::new()),
            (Action::Missing, _) => (Some(JobStatus::Missing), node.reason.clone()),
        };
        let Some(version) = &node.version else {
            // A requirement that never resolved: nothing to build; a `missing` job without
            // a version says why, so it counts where failures are counted.
            if node.action == Action::Missing {
                let (job, _) = store.enqueue(&JobSpec {
                    package: node.name.to_string(),
                    version: String::new(),
                    python: plan.python.clone(),
                    platform_tag: plan.platform_tag.clone(),
                    plan_id: Some(plan.id.clone()),
                    input_id,
                    status: Some(JobStatus::Missing),
                    detail: node.reason.clone(),
                    ..JobSpec::default()
                })?;
                jobs.push(job);
            }
            continue;
        };
        // A wheel of this version for the target is in the index already (a CLI run over
        // this cache, another worker): nothing to build or download again. Not for a node
        // asked for by name (a rebuild), an uploaded sdist or one with overrides (its wheel
        // is not the index's).
        let from_index = matches!(
            node.source.as_ref().map(|s| s.kind),
            Some(SourceKind::IndexSdist | SourceKind::IndexWheel)
        );
        let shortcut = only.is_none() && from_index && node.overrides.is_none();
        let (status, detail) = match (status, target.as_ref().filter(|_| shortcut)) {
            (None, Some(target)) => {
                match already_published(&published, node.name.as_str(), version, target) {
                    // The glossary's words: `cached` is a wheel built here before, `reused`
                    // one taken as it is (from the index or an upload).
                    Some(file) => (
                        Some(if matches!(file.origin.as_str(), "reused" | "uploaded") {
                            JobStatus::Reused
                        } else {
                            JobStatus::Cached
                        }),
                        format!(
                            "already in this index as {}; nothing to build",
                            file.filename
                        ),
                    ),
                    None => (None, detail),
                }
            }
            other => (other.0, detail),
        };
        let recipe = node
            .overrides
            .as_ref()
            .map(|o| Recipe {
                steps: Vec::new(),
                variant: o.variant.clone(),
                system_packages: o.system_packages.clone(),
                env: o.env.clone(),
            })
            .unwrap_or_default();
        let (job, _) = store.enqueue(&JobSpec {
            package: node.name.to_string(),
            version: version.to_string(),
            python: plan.python.clone(),
            platform_tag: plan.platform_tag.clone(),
            recipe,
            plan_id: Some(plan.id.clone()),
            input_id,
            priority: 0,
            status,
            detail,
        })?;
        jobs.push(job);
    }
    for skipped in &plan.skipped {
        if let Some(version) = &skipped.version {
            if !wanted(
                &format!("{}=={version}", skipped.name),
                skipped.name.as_str(),
            ) {
                continue;
            }
            let (job, _) = store.enqueue(&JobSpec {
                package: skipped.name.to_string(),
                version: version.to_string(),
                python: plan.python.clone(),
                platform_tag: plan.platform_tag.clone(),
                plan_id: Some(plan.id.clone()),
                input_id,
                status: Some(JobStatus::SkippedKnownFailure),
                detail: skipped.reason.clone(),
                ..JobSpec::default()
            })?;
            jobs.push(job);
        }
    }
    if only.is_some() && jobs.is_empty() {
        return Err(ApiError::not_found(format!(
            "plan {} has no node {}",
            plan.id,
            only.unwrap_or_default()
        )));
    }
    if let Some(id) = input_id {
        let _ = store.transition_input(
            id,
            &[InputStatus::Planned, InputStatus::BuildQueued],
            InputStatus::BuildQueued,
            None,
            "",
        );
    }
    let _ = state.history.with(|h| {
        h.record_event(
            &Event::new(
                EventKind::Enqueue,
                format!(
                    "{} job{} from plan {}",
                    jobs.len(),
                    if jobs.len() == 1 { "" } else { "s" },
                    plan.id
                ),
            )
            .with_data(serde_json::json!({"plan_id": plan.id, "jobs": jobs.iter().map(|j| j.id).collect::<Vec<_>>()})),
        )
    });
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_errors_name_the_cache_without_its_place() {
        let config = ServerConfig::new("/srv/refinery/cache".into());
        assert_eq!(
            in_cache_terms(
                &config,
                "cannot read /srv/refinery/cache/inputs/v1/ab-1/requirements.txt:1: bad hash"
            ),
            "cannot read <cache>/inputs/v1/ab-1/requirements.txt:1: bad hash"
        );
    }

    #[test]
    fn requirements_checks() {
        check_requirements("requirements.txt", "six==1.16.0\nrequests>=2\n", false, 10).unwrap();
        let err = check_requirements(
            "requirements.txt",
            "-i https://evil.example/simple\nsix\n",
            false,
            10,
        )
        .unwrap_err();
        assert!(err.message.contains("other indexes"), "{}", err.message);
        check_requirements(
            "requirements.txt",
            "--extra-index-url https://x.example/simple\nsix\n",
            true,
            10,
        )
        .unwrap();
        let err =
            check_requirements("requirements.txt", "-r ../../etc/passwd\n", false, 10).unwrap_err();
        assert!(
            err.message.contains("not allowed in an upload"),
            "{}",
            err.message
        );
        assert!(check_requirements("requirements.txt", "# nothing\n", false, 10).is_err());
        assert!(
            check_requirements("requirements.txt", "--bogus-option\nsix\n", false, 10).is_err()
        );
        let err = check_requirements("requirements.txt", "a\nb\nc\n", false, 2).unwrap_err();
        assert_eq!(err.code, "too_many_requirements");
        assert!(
            err.message.contains("holds 3 requirements"),
            "{}",
            err.message
        );
        check_requirements("requirements.txt", "a\nb\n", false, 2).unwrap();
    }
}
