//! Carry out a plan: copy what is reused, build what must be built (or take it from the
//! content-addressed store), and record everything in the manifest and the history.

use std::path::{Path, PathBuf};
use std::time::Duration;

use refinery_index::{DistFile, IndexClient};
use refinery_pep::Target;
use refinery_plan::{Action, Plan, PlanNode, Source, SourceKind};
use refinery_store::{sha256_file, Cas, Event, History, Manifest, ManifestEntry, Status};

use crate::builder::AttemptSettings;
use crate::environment::OpenedEnvironment;
use crate::environment::{open_environment, EnvironmentChoice};
use crate::hints::Catalog;
use crate::package_build::build_node;
use crate::schedule::{BuildQueue, Schedule};
use crate::{RecipePolicy, Reporter};
use std::sync::{Condvar, Mutex};

/// Everything a run needs besides the plan.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub output: PathBuf,
    pub cache: PathBuf,
    pub manifest_path: PathBuf,
    pub history_db: PathBuf,
    pub target: Target,
    pub environment: EnvironmentChoice,
    pub attempt_timeout: Option<Duration>,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// pip settings for builds (index URLs, may hold credentials).
    pub pip_env: Vec<(String, String)>,
    pub auditwheel: String,
    pub run_id: String,
    /// Also write a PEP 503 `simple/` index into the output.
    pub simple_index: bool,
    /// Builds run at once.
    pub jobs: usize,
    /// Whether hints may install system packages.
    pub recipes: RecipePolicy,
    pub catalog: Catalog,
    /// Plans a build dependency on demand (dependency expansion while building).
    pub expander: Option<Expander>,
    pub schedule: Schedule,
    /// Set from another thread to stop the run: the running step's processes are
    /// killed and nothing more starts (a cancelled job, a lost lease).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// What verification does, for built and reused wheels (see [`crate::verify`]).
    pub verify: crate::verify::VerifySettings,
    /// `--fallback-latest`: a reused wheel that verifies broken gives way to the nearest
    /// newer version whose wheel for the target passes (see [`crate::verify::reused`]).
    pub fallback_latest: bool,
}

/// A function that plans one requirement for the run's target.
pub type PlanRequirement = dyn Fn(&str) -> Result<Plan, String> + Send + Sync;

/// Makes a plan for one requirement, for the target of the run.
#[derive(Clone)]
pub struct Expander(pub std::sync::Arc<PlanRequirement>);

impl std::fmt::Debug for Expander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expander")
    }
}

/// State the build workers share.
struct Shared<'a> {
    queue: Mutex<BuildQueue<'a>>,
    wake: Condvar,
    manifest: Mutex<Manifest>,
}

/// What every build needs, borrowed for the run.
pub(crate) struct BuildContext<'a> {
    pub environment: Result<&'a OpenedEnvironment, &'a String>,
    pub attempt_settings: &'a AttemptSettings,
    pub settings: &'a RunSettings,
    pub sdist_dir: &'a Path,
    pub logs_dir: &'a Path,
    pub client: &'a IndexClient,
    pub cas: &'a Cas,
    pub reporter: &'a dyn Reporter,
    pub catalog: &'a Catalog,
    /// Entries of packages built or reused on demand, for the manifest.
    pub extra_entries: Mutex<Vec<ManifestEntry>>,
}

/// Take ready builds until none are left; each worker has its own history connection.
fn build_worker(shared: &Shared<'_>, context: &BuildContext<'_>) -> Result<(), RunError> {
    let settings = context.settings;
    let history = History::open(&settings.history_db).map_err(|e| RunError::History {
        location: refinery_store::history::display_location(&settings.history_db),
        message: e.to_string(),
    })?;
    loop {
        let node = {
            let mut queue = shared.queue.lock().expect("queue lock");
            loop {
                if let Some(node) = queue.next_ready() {
                    break node;
                }
                if queue.is_empty() {
                    return Ok(());
                }
                queue = shared.wake.wait(queue).expect("queue lock");
            }
        };
        context.reporter.started(&node.name, &node.version, "build");
        let key = artifact_key(node, &settings.target);
        let entry = match context.environment {
            Err(message) => {
                let mut entry = ManifestEntry::new(&node.name, &node.version, Status::Failed);
                entry.detail = format!("no build environment: {message}");
                entry
            }
            Ok(env) => build_node(
                node,
                &key,
                env.runner.as_ref(),
                &env.label,
                context,
                &history,
                0,
            ),
        };
        let kind = if entry.status == Status::Built {
            "built"
        } else {
            "failure"
        };
        if let Err(e) = history.record_event(&event_for(&entry, kind).with_run(&settings.run_id)) {
            context.reporter.message(&format!(
                "warning: cannot record an event in the history: {e}"
            ));
        }
        context.reporter.finished(&entry);
        let written = {
            let mut manifest = shared.manifest.lock().expect("manifest lock");
            let extra: Vec<ManifestEntry> =
                std::mem::take(&mut *context.extra_entries.lock().expect("entries lock"));
            for dependency in extra {
                context.reporter.finished(&dependency);
                manifest.upsert(dependency);
            }
            manifest.upsert(entry);
            manifest.write(&settings.manifest_path)
        };
        shared.queue.lock().expect("queue lock").finish(&node.id);
        shared.wake.notify_all();
        written.map_err(|e| RunError::Write {
            path: settings.manifest_path.clone(),
            message: e.to_string(),
        })?;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("history database {location}: {message}")]
    History { location: String, message: String },
    #[error("cannot write {path}: {message}\nhint: check free space and permissions of the output and cache folders")]
    Write { path: PathBuf, message: String },
    #[error("the output folder {path} is not writable ({message}): the wheels, manifest.json, pylock.toml and requirements.lock.txt go there\nhint: pass another --output, or make {path} writable")]
    OutputNotWritable { path: PathBuf, message: String },
}

/// Create `output` if needed and check that a file can be written into it, so that a
/// read-only folder fails the run before anything is planned or built.
pub fn check_output_writable(output: &Path) -> Result<(), RunError> {
    let fail = |e: std::io::Error| RunError::OutputNotWritable {
        path: output.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(output).map_err(fail)?;
    let probe = output.join(format!(".refinery-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Versions of folder layouts under `--cache`.
fn cache_dirs(cache: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        cache.join("cas").join("v1"),
        cache.join("sdists").join("v1"),
        cache.join("builds").join("v1"),
        cache.join("logs"),
        cache.join("pip"),
    )
}

/// Run the plan. Returns the manifest (also written to `manifest_path`, after every
/// package, atomically).
pub fn execute_plan(
    plan: &Plan,
    settings: &RunSettings,
    client: &IndexClient,
    reporter: &dyn Reporter,
) -> Result<Manifest, RunError> {
    let history = History::open(&settings.history_db).map_err(|e| RunError::History {
        location: refinery_store::history::display_location(&settings.history_db),
        message: e.to_string(),
    })?;
    let record = |event: Event| {
        if let Err(e) = history.record_event(&event.with_run(&settings.run_id)) {
            reporter.message(&format!(
                "warning: cannot record an event in the history: {e}"
            ));
        }
    };
    record(
        Event::new(
            "plan",
            format!("plan {}: {} nodes", plan.id, plan.nodes.len()),
        )
        .with_data(serde_json::json!({
            "plan_id": plan.id,
            "reuse": plan.count(Action::Reuse),
            "build": plan.count(Action::Build),
            "missing": plan.count(Action::Missing),
        })),
    );
    check_output_writable(&settings.output)?;
    let (cas_dir, sdist_dir, builds_dir, logs_dir, pip_cache) = cache_dirs(&settings.cache);
    let cas = Cas::new(cas_dir);
    let mut manifest = Manifest::new(
        &settings.target.python_str(),
        settings.target.platform_tag(),
    );
    let write_manifest = |manifest: &Manifest| {
        manifest
            .write(&settings.manifest_path)
            .map_err(|e| RunError::Write {
                path: settings.manifest_path.clone(),
                message: e.to_string(),
            })
    };

    for node in plan.nodes.iter().filter(|n| n.action == Action::Reuse) {
        let entry = reuse(node, settings, client);
        record(event_for(&entry, "reuse"));
        reporter.finished(&entry);
        manifest.upsert(entry);
        write_manifest(&manifest)?;
    }
    for node in plan.nodes.iter().filter(|n| n.action == Action::Missing) {
        let mut entry = ManifestEntry::new(&node.name, &node.version, Status::Missing);
        entry.detail = node.reason.clone();
        record(event_for(&entry, "missing"));
        reporter.finished(&entry);
        manifest.upsert(entry);
    }
    // Known failures: listed; in the manifest when no other version took their place.
    for skipped in &plan.skipped {
        let Some(version) = &skipped.version else {
            record(
                Event::new("skipped", format!("{}: {}", skipped.name, skipped.reason))
                    .with_package(&skipped.name, ""),
            );
            continue;
        };
        let replaced = plan
            .nodes
            .iter()
            .any(|n| n.name == skipped.name && n.action != Action::Missing);
        let mut entry = ManifestEntry::new(&skipped.name, version, Status::SkippedKnownFailure);
        entry.detail = format!(
            "{} {version} failed before; skipped (--skip-known-failures)",
            skipped.name
        );
        record(event_for(&entry, "skipped_known_failure"));
        if !replaced {
            reporter.finished(&entry);
            manifest.upsert(entry);
        }
    }
    for r in &plan.rejected {
        record(Event::new("rejected", format!("{}: {}", r.input, r.reason)));
    }
    write_manifest(&manifest)?;

    let attempt_settings = AttemptSettings {
        target: settings.target.clone(),
        builds_dir,
        pip_cache,
        wheels_dir: settings.output.clone(),
        pip_env: settings.pip_env.clone(),
        timeout: settings.attempt_timeout,
        stop: settings.stop.clone(),
        auditwheel: settings.auditwheel.clone(),
        verify: settings.verify.clone(),
        catalog: settings.catalog.clone(),
    };
    // Wheels built before from the same sdist for the same target come from the CAS.
    let mut to_build = Vec::new();
    for node in plan.build_order() {
        let key = artifact_key(node, &settings.target);
        match cached(node, &key, &history, &cas, settings) {
            Some(entry) => {
                record(event_for(&entry, "cached"));
                reporter.finished(&entry);
                manifest.upsert(entry);
                write_manifest(&manifest)?;
            }
            None => to_build.push(node),
        }
    }
    if !to_build.is_empty() {
        let durations = history.average_durations().unwrap_or_default();
        let queue = BuildQueue::new(plan, to_build, settings.schedule, &durations);
        let opened = open_environment(&settings.environment, &settings.target, reporter);
        let shared = Shared {
            queue: Mutex::new(queue),
            wake: Condvar::new(),
            manifest: Mutex::new(manifest),
        };
        let context = BuildContext {
            environment: opened.as_ref(),
            attempt_settings: &attempt_settings,
            settings,
            sdist_dir: &sdist_dir,
            logs_dir: &logs_dir,
            client,
            cas: &cas,
            reporter,
            catalog: &settings.catalog,
            extra_entries: Mutex::new(Vec::new()),
        };
        let results: Vec<Result<(), RunError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..settings.jobs.max(1))
                .map(|_| scope.spawn(|| build_worker(&shared, &context)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("build worker panicked"))
                .collect()
        });
        manifest = shared.manifest.into_inner().expect("manifest lock");
        results.into_iter().collect::<Result<Vec<()>, RunError>>()?;
    }
    // Reused wheels with ELF files, and cached ones whose record does not cover the level
    // asked for: checked like built ones, now that the output holds their dependencies.
    let dirs = crate::verify::reused::ReusedDirs {
        builds: &attempt_settings.builds_dir,
        logs: &logs_dir,
        sdists: &sdist_dir,
        plan,
        client,
    };
    crate::verify::reused::verify_reused(
        &mut manifest,
        settings,
        &dirs,
        &history,
        reporter,
        &write_manifest,
    )?;
    index_reused_wheels(&manifest, settings, &cas, &history, reporter);
    if note_hash_checks(&mut manifest, plan) {
        write_manifest(&manifest)?;
    }
    if settings.simple_index {
        crate::publish::write_simple_index(&settings.output, &manifest).map_err(|e| {
            RunError::Write {
                path: settings.output.join("simple"),
                message: e,
            }
        })?;
    }
    crate::lock::write_locks(&settings.output, &manifest, &settings.target).map_err(|message| {
        RunError::Write {
            path: settings.output.join(crate::lock::PYLOCK),
            message,
        }
    })?;
    let summary: Vec<String> = manifest
        .summary()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    record(Event::new("run_end", summary.join(", ")));
    Ok(manifest)
}

/// Prefix of the history's artifact keys of reused wheels; the index of `refinery serve` and
/// `refinery index` lists every artifact, so the reused wheels join the built ones there.
pub const REUSED_ARTIFACT_PREFIX: &str = "reused|";

/// Put the reused wheels that passed verification into the content-addressed store and
/// the history's artifact index, under their own names and bytes, so that `/simple` serves
/// the whole output set.
fn index_reused_wheels(
    manifest: &Manifest,
    settings: &RunSettings,
    cas: &Cas,
    history: &History,
    reporter: &dyn Reporter,
) {
    for entry in manifest
        .entries
        .iter()
        .filter(|e| e.status == Status::Reused)
    {
        let (Some(file), Some(sha)) = (&entry.path, &entry.sha256) else {
            continue;
        };
        let stored = cas
            .put_file(&settings.output.join(file))
            .map_err(|e| e.to_string())
            .and_then(|stored| {
                if stored.eq_ignore_ascii_case(sha) {
                    Ok(())
                } else {
                    Err(format!(
                        "its bytes changed in the output (sha256 {stored}, manifest {sha})"
                    ))
                }
            })
            .and_then(|()| {
                history
                    .record_artifact(&format!("{REUSED_ARTIFACT_PREFIX}{file}"), file, sha)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = stored {
            reporter.message(&format!(
                "warning: the reused wheel {file} is not in the index of `refinery serve`: {e}"
            ));
        }
    }
}

/// Say in the manifest which `--hash` each source file matched; a wheel built from a
/// hash-checked sdist is new bytes whose sha256 no requirements file can know. Returns
/// whether any entry changed.
fn note_hash_checks(manifest: &mut Manifest, plan: &Plan) -> bool {
    let mut changed = false;
    for entry in &mut manifest.entries {
        let Some((source, checked)) = plan
            .nodes
            .iter()
            .filter(|n| n.name == entry.name && n.version == entry.version)
            .find_map(|n| n.source.as_ref())
            .and_then(|s| s.checked_hash.as_ref().map(|c| (s, c)))
        else {
            continue;
        };
        let mut note = format!("{} matched {checked}", source.filename);
        if matches!(entry.status, Status::Built | Status::Cached) {
            note.push_str(&format!(
                "; the wheel {} was built from it, so its sha256 {} is new and in no requirements file: pin it with requirements.lock.txt / pylock.toml",
                entry.path.as_deref().unwrap_or("?"),
                entry.sha256.as_deref().unwrap_or("?")
            ));
        }
        entry.metadata.hash_check = Some(note);
        changed = true;
    }
    changed
}

fn event_for(entry: &ManifestEntry, kind: &str) -> Event {
    Event::new(kind, entry.detail.clone())
        .with_package(&entry.name, &entry.version)
        .with_data(serde_json::json!({
            "status": entry.status,
            "path": entry.path,
            "sha256": entry.sha256,
            "metadata": entry.metadata,
        }))
}

/// What identifies a built wheel: package, version, interpreter, platform tag and the
/// exact sdist it came from.
pub(crate) fn artifact_key(node: &PlanNode, target: &Target) -> String {
    let source = node
        .source
        .as_ref()
        .map(|s| s.sha256.clone().unwrap_or_else(|| s.filename.clone()))
        .unwrap_or_default();
    format!(
        "{}=={}|{}|{}|{}",
        node.name,
        node.version,
        target.cpython_tag(),
        target.platform_tag(),
        source
    )
}

/// Copy a reused wheel into the output unchanged (never renamed).
pub(crate) fn reuse(
    node: &PlanNode,
    settings: &RunSettings,
    client: &IndexClient,
) -> ManifestEntry {
    let mut entry = ManifestEntry::new(&node.name, &node.version, Status::Reused);
    entry.metadata.python = Some(settings.target.python_str());
    entry.metadata.platform_tag = Some(settings.target.platform_tag().to_string());
    let Some(source) = &node.source else {
        entry.status = Status::Missing;
        entry.detail = "the plan gives no source for this wheel".into();
        return entry;
    };
    entry.metadata.source = Some(
        source
            .url
            .clone()
            .or(source.path.clone())
            .unwrap_or_default(),
    );
    let result = match source.kind {
        SourceKind::InputWheel => copy_into(
            Path::new(source.path.as_deref().unwrap_or_default()),
            &settings.output,
        ),
        _ => client
            .download(&dist_file(source), &settings.output)
            .map_err(|e| e.to_string()),
    };
    match result.and_then(|path| {
        sha256_file(&path)
            .map(|sha| (path, sha))
            .map_err(|e| e.to_string())
    }) {
        Ok((path, sha)) => {
            entry.path = Some(file_name(&path));
            entry.sha256 = Some(sha);
            entry.detail = node.reason.clone();
        }
        Err(message) => {
            entry.status = Status::Missing;
            entry.detail = format!("cannot fetch {}: {message}", source.filename);
        }
    }
    entry
}

pub(crate) fn dist_file(source: &Source) -> DistFile {
    DistFile {
        filename: source.filename.clone(),
        url: source.url.clone().unwrap_or_default(),
        sha256: source.sha256.clone(),
        requires_python: None,
        yanked: false,
        has_metadata: false,
        index: String::new(),
    }
}

/// A wheel built before from the same sdist for the same target: take it from the CAS.
fn cached(
    node: &PlanNode,
    key: &str,
    history: &History,
    cas: &Cas,
    settings: &RunSettings,
) -> Option<ManifestEntry> {
    let (filename, sha) = history.lookup_artifact(key).ok()??;
    let stored = cas.get(&sha)?;
    let dest = settings.output.join(&filename);
    copy_file_atomic(&stored, &dest).ok()?;
    let mut entry = ManifestEntry::new(&node.name, &node.version, Status::Cached);
    entry.path = Some(filename);
    entry.sha256 = Some(sha.clone());
    entry.detail =
        "built before from the same sdist for the same target; taken from the cache".into();
    entry.metadata.sbom = crate::sbom::sbom_member(&dest);
    // The provenance record of the build that made it, if it was kept.
    let record = format!("{}/{sha}.intoto.json", crate::provenance::PROVENANCE_DIR);
    if let Ok(digest) = sha256_file(&settings.cache.join(&record)) {
        entry.metadata.provenance = Some(format!("{record} sha256:{digest}"));
    }
    entry.metadata.python = Some(settings.target.python_str());
    entry.metadata.platform_tag = Some(settings.target.platform_tag().to_string());
    // What it passed when built; without a record that covers the level asked for, the
    // entry has no verification and is verified again after the builds.
    let level = settings.verify.level;
    match crate::verify::record::read(&settings.cache, &sha) {
        Some(record) if crate::verify::record::covers(&record, level) => {
            entry.metadata.verification = Some(record);
        }
        Some(record) => {
            entry.detail = format!(
                "{}; it passed verification at level {} before, {level} is asked for: verified again",
                entry.detail, record.level
            );
        }
        None => {
            entry.detail = format!(
                "{}; no record of its verification: verified again",
                entry.detail
            );
        }
    }
    Some(entry)
}

/// Exponential backoff: base * 2^(n-1), capped.
pub fn backoff(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    base.saturating_mul(factor).min(max)
}

fn copy_into(src: &Path, dir: &Path) -> Result<PathBuf, String> {
    let dest = dir.join(src.file_name().ok_or("no file name")?);
    copy_file_atomic(src, &dest)
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dest.display()))?;
    Ok(dest)
}

/// Copy through a temp file in the destination folder and rename into place.
pub fn copy_file_atomic(src: &Path, dest: &Path) -> std::io::Result<()> {
    if src == dest {
        return Ok(());
    }
    let tmp = dest.with_file_name(format!(".{}.{}.tmp", file_name(dest), std::process::id()));
    std::fs::copy(src, &tmp)?;
    // CAS objects are read-only; the published copy is an ordinary file.
    let mut perms = std::fs::metadata(&tmp)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&tmp, perms)?;
    std::fs::rename(&tmp, dest).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(10);
        assert_eq!(backoff(base, max, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, max, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, max, 3), Duration::from_secs(8));
        assert_eq!(backoff(base, max, 4), Duration::from_secs(10));
        assert_eq!(backoff(base, max, 40), Duration::from_secs(10));
    }
}
