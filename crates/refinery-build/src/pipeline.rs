//! Carry out a plan: copy what is reused, build what must be built (or take it from the
//! content-addressed store), and record everything in the manifest and the history.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use refinery_index::IndexClient;
use refinery_plan::{Action, Plan, PlanNode};
use refinery_store::queue::now_ms;
use refinery_store::{
    sha256_file, Cas, Event, EventKind, History, Manifest, ManifestEntry, Recorder, Status,
};

use crate::builder::AttemptSettings;
use crate::context::{artifact_key, record_package, reuse, BuildContext};
use crate::environment::open_environment;
use crate::package_build::{build_node, is_stopped, NOT_STARTED};
use crate::schedule::BuildQueue;
use crate::Reporter;

pub use crate::context::{backoff, Expander, PlanRequirement, PlanRequirementError, RunSettings};

/// State the build workers share.
struct Shared<'a> {
    queue: Mutex<BuildQueue<'a>>,
    wake: Condvar,
    manifest: Mutex<Manifest>,
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
        let started_ms = now_ms();
        let key = artifact_key(node, &settings.target, settings.strip);
        // After a stop nothing more is fetched or prepared: the rest end unstarted.
        let stopped_before = is_stopped(settings.stop.as_deref());
        if !stopped_before {
            context
                .reporter
                .started(node.name.as_str(), node.version_str(), "build");
        }
        let entry = match context.environment {
            _ if stopped_before => {
                let mut entry =
                    ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Failed);
                entry.detail = NOT_STARTED.into();
                entry.metadata.interrupted = true;
                entry
            }
            Err(message) => {
                let mut entry =
                    ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Failed);
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
        // A build the run's stop cut short is not a failure of the package: the build
        // says so where it saw the stop; any other failed build that ends after the stop
        // counts as cut short too (a killed step ends with a plain failure on some
        // paths). Verdicts that need a finished check (broken, missing) stay.
        let mut entry = entry;
        mark_interrupted(&mut entry, settings);
        let kind = match entry.status {
            Status::Built => EventKind::Built,
            _ if entry.metadata.interrupted => EventKind::Cancelled,
            _ => EventKind::Failure,
        };
        context.record_event(event_for(&entry, kind));
        context.finished(&entry, started_ms);
        let written = {
            let mut manifest = shared.manifest.lock().expect("manifest lock");
            let extra: Vec<ManifestEntry> =
                std::mem::take(&mut *context.extra_entries.lock().expect("entries lock"));
            for mut dependency in extra {
                // Built on demand while this node's build ran.
                mark_interrupted(&mut dependency, settings);
                context.finished(&dependency, started_ms);
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

/// Marks `entry` interrupted when it failed and the run is being stopped (see the
/// caller in [`build_worker`]).
fn mark_interrupted(entry: &mut ManifestEntry, settings: &RunSettings) {
    if is_stopped(settings.stop.as_deref())
        && matches!(entry.status, Status::Failed | Status::SystemRecipeFailed)
    {
        entry.metadata.interrupted = true;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("history database {location}: {message}")]
    History { location: String, message: String },
    #[error("cannot write {path}: {message}\nhint: check free space and permissions of the output and cache folders")]
    Write { path: PathBuf, message: String },
    #[error("the output folder {path} is not writable ({message}): the wheels, manifest.json, pylock.toml and requirements.lock.txt go there\nhint: pass another --output, or make {} writable", fix.display())]
    OutputNotWritable {
        path: PathBuf,
        message: String,
        /// The folder to make writable: the output, or its nearest existing parent when
        /// the output does not exist yet.
        fix: PathBuf,
    },
    #[error("the output {path} is a file, not a folder: the wheels, manifest.json, pylock.toml and requirements.lock.txt go into a folder\nhint: pass a folder as --output (it is created if missing)")]
    OutputIsAFile { path: PathBuf },
}

/// Create `output` if needed and check that a file can be written into it, so that a
/// read-only folder fails the run before anything is planned or built. Folders this
/// check made are removed again (also when it fails half-way): a run that stops before
/// it writes anything leaves no empty output folder behind, and a folder that existed
/// (`out/new/..`) is never touched.
pub fn check_output_writable(output: &Path) -> Result<(), RunError> {
    let fail = |e: std::io::Error| RunError::OutputNotWritable {
        path: output.to_path_buf(),
        message: e.to_string(),
        fix: nearest_existing(output),
    };
    if output.exists() && !output.is_dir() {
        return Err(RunError::OutputIsAFile {
            path: output.to_path_buf(),
        });
    }
    let mut made = Vec::new();
    let created = make_folders(output, &mut made);
    let written = created.and_then(|()| {
        let probe = output.join(format!(".refinery-write-check-{}", std::process::id()));
        let written = std::fs::write(&probe, b"");
        let _ = std::fs::remove_file(&probe);
        written
    });
    for folder in made.iter().rev() {
        let _ = std::fs::remove_dir(folder);
    }
    written.map_err(fail)
}

/// Create `path` and its missing parents, shallowest first, pushing onto `made` each
/// folder this call created (not one that turned out to exist, like `a/b/..`).
fn make_folders(path: &Path, made: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let missing: Vec<&Path> = path
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .collect();
    for folder in missing.into_iter().rev() {
        match std::fs::create_dir(folder) {
            Ok(()) => made.push(folder.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && folder.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The nearest folder of `path` (itself or a parent) that exists; `.` for a relative
/// path none of whose parents exist yet.
fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
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
/// package, atomically). Events, attempts, build log files and every package's final
/// status go to `recorder` (the caller records the plan itself), and the run ends with
/// [`Recorder::finish_run`], also when it fails.
pub fn execute_plan(
    plan: &Plan,
    settings: &RunSettings,
    client: &IndexClient,
    reporter: &dyn Reporter,
    recorder: &dyn Recorder,
) -> Result<Manifest, RunError> {
    let result = run_plan(plan, settings, client, reporter, recorder);
    if let Err(e) = recorder.finish_run() {
        reporter.message(&format!(
            "warning: cannot record the run's packages for the dashboard: {e}"
        ));
    }
    result
}

fn run_plan(
    plan: &Plan,
    settings: &RunSettings,
    client: &IndexClient,
    reporter: &dyn Reporter,
    recorder: &dyn Recorder,
) -> Result<Manifest, RunError> {
    let history = History::open(&settings.history_db).map_err(|e| RunError::History {
        location: refinery_store::history::display_location(&settings.history_db),
        message: e.to_string(),
    })?;
    let run_started = now_ms();
    let record = |event: Event| {
        if let Err(e) = recorder.event(&event.with_run(&settings.run_id)) {
            reporter.message(&format!(
                "warning: cannot record an event in the history: {e}"
            ));
        }
    };
    let finished = |entry: &ManifestEntry, started_ms: i64| {
        reporter.finished(entry);
        record_package(recorder, reporter, settings, &plan.id, entry, started_ms);
    };
    record(
        Event::new(
            EventKind::Plan,
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
    std::fs::create_dir_all(&settings.output).map_err(|e| RunError::Write {
        path: settings.output.clone(),
        message: e.to_string(),
    })?;
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
        let started_ms = now_ms();
        let entry = reuse(node, settings, client);
        record(event_for(&entry, EventKind::Reuse));
        finished(&entry, started_ms);
        manifest.upsert(entry);
        write_manifest(&manifest)?;
    }
    for node in plan.nodes.iter().filter(|n| n.action == Action::Missing) {
        let mut entry =
            ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Missing);
        entry.detail = node.reason.clone();
        record(event_for(&entry, EventKind::Missing));
        finished(&entry, run_started);
        manifest.upsert(entry);
    }
    // Known failures: listed; in the manifest when no other version took their place.
    for skipped in &plan.skipped {
        let Some(version) = &skipped.version else {
            record(
                Event::new(
                    EventKind::Skipped,
                    format!("{}: {}", skipped.name, skipped.reason),
                )
                .with_package(skipped.name.as_str(), ""),
            );
            continue;
        };
        let replaced = plan
            .nodes
            .iter()
            .any(|n| n.name == skipped.name && n.action != Action::Missing);
        let mut entry = ManifestEntry::new(
            skipped.name.clone(),
            Some(version.clone()),
            Status::SkippedKnownFailure,
        );
        entry.detail = format!(
            "{} {version} failed before; skipped (--skip-known-failures)",
            skipped.name
        );
        record(event_for(&entry, EventKind::SkippedKnownFailure));
        if !replaced {
            finished(&entry, run_started);
            manifest.upsert(entry);
        }
    }
    for r in &plan.rejected {
        record(Event::new(
            EventKind::Rejected,
            format!("{}: {}", r.input, r.reason),
        ));
    }
    manifest.rejected = plan
        .rejected
        .iter()
        .map(|r| refinery_store::RejectedFile {
            input: r.input.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    write_manifest(&manifest)?;

    let mut attempt_settings = AttemptSettings {
        target: settings.target.clone(),
        builds_dir,
        pip_cache,
        wheels_dir: settings.output.clone(),
        pip_env: settings.pip_env.clone(),
        timeout: settings.attempt_timeout,
        stop: settings.stop.clone(),
        auditwheel: settings.auditwheel.clone(),
        strip: settings.strip,
        verify: settings.verify.clone(),
        catalog: settings.catalog.clone(),
        compile_budget: crate::compile_jobs::CompileBudget::default(),
    };
    // Wheels built before from the same sdist for the same target come from the CAS.
    let mut to_build = Vec::new();
    for node in plan.build_order() {
        let key = artifact_key(node, &settings.target, settings.strip);
        let started_ms = now_ms();
        match cached(node, &key, &history, &cas, settings) {
            Some(entry) => {
                record(event_for(&entry, EventKind::Cached));
                finished(&entry, started_ms);
                manifest.upsert(entry);
                write_manifest(&manifest)?;
            }
            None => to_build.push(node),
        }
    }
    if !to_build.is_empty() {
        let durations = history.average_durations().unwrap_or_default();
        let queue = BuildQueue::new(plan, to_build, settings.schedule, &durations);
        // Once per run: the cores and the memory free now, shared by the builds that can
        // run at once (`--jobs`, or fewer when the builds wait for each other: numpy then
        // pandas take every core each).
        attempt_settings.compile_budget = crate::compile_jobs::CompileBudget::for_this_host(
            settings.jobs.min(queue.width()),
            settings.compiler_memory,
        );
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
            recorder,
            plan_id: &plan.id,
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
    let dirs = crate::verify_reused::ReusedDirs {
        builds: &attempt_settings.builds_dir,
        logs: &logs_dir,
        sdists: &sdist_dir,
        plan,
        client,
    };
    crate::verify_reused::verify_reused(
        &mut manifest,
        settings,
        &dirs,
        reporter,
        recorder,
        &|entry: &ManifestEntry| finished(entry, run_started),
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
                message: e.to_string(),
            }
        })?;
    }
    crate::lock::write_locks(&settings.output, &manifest, &settings.target).map_err(|e| {
        RunError::Write {
            path: settings.output.join(crate::lock::PYLOCK),
            message: e.to_string(),
        }
    })?;
    let summary: Vec<String> = manifest
        .summary()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    record(Event::new(EventKind::RunEnd, summary.join(", ")));
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

fn event_for(entry: &ManifestEntry, kind: EventKind) -> Event {
    Event::new(kind, entry.detail.clone())
        .with_package(entry.name.as_str(), entry.version_str())
        .with_data(serde_json::json!({
            "status": entry.status,
            "path": entry.path,
            "sha256": entry.sha256,
            "metadata": entry.metadata,
        }))
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
    refinery_store::copy_atomic(&stored, &dest).ok()?;
    let mut entry = ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Cached);
    entry.path = Some(filename);
    entry.sha256 = Some(sha.clone());
    entry.detail =
        "built before from the same sdist for the same target; taken from the cache".into();
    // How it was built (and its log), as the build reported it; what it passed is decided
    // below by the verification record, and the hash check by this run's requirements.
    if let Some(built) = crate::build_record::read(&settings.cache, &sha) {
        entry.metadata = refinery_store::ManifestMetadata {
            verification: None,
            hash_check: None,
            broken_versions: Vec::new(),
            ..built
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_check_removes_only_the_folders_it_made() {
        let dir = tempfile::tempdir().unwrap();
        // `out` exists and is empty; `out/new/..` is `out` again and must stay.
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        check_output_writable(&out.join("new").join("..")).unwrap();
        assert!(out.is_dir());
        assert!(!out.join("new").exists());
        // A deep output that did not exist leaves nothing.
        check_output_writable(&dir.path().join("a/b/c")).unwrap();
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn an_output_that_cannot_be_made_leaves_no_half_made_parents() {
        let dir = tempfile::tempdir().unwrap();
        let too_long = "x".repeat(300);
        let output = dir.path().join("a/b").join(too_long);
        let err = check_output_writable(&output).unwrap_err();
        assert!(
            matches!(&err, RunError::OutputNotWritable { fix, .. } if fix == dir.path()),
            "{err}"
        );
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn the_folder_to_fix_is_the_nearest_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(nearest_existing(&dir.path().join("x/y")), dir.path());
        assert_eq!(
            nearest_existing(Path::new("no-such-folder-here/out")),
            Path::new(".")
        );
    }
}
