//! The run's step after its builds: reused wheels are verified too: once every build of the run is done (so their runtime
//! dependencies are in the output), each reused wheel that carries ELF files is checked
//! like a built one (install, imports, smoke tests) in the s390x environment. One that
//! carries binaries for another machine, or fails a check, ends `broken` with the
//! evidence, and its file leaves the output.
//!
//! Wheels taken from the cache whose verification record ([`crate::verify::record`]) does not
//! cover the level asked for are checked here the same way (with their sdist's tests for
//! `--verify tests`); one that passes gets a new record, one that fails ends `broken`.

use std::path::{Path, PathBuf};

use refinery_index::{redact_url, IndexClient};
use refinery_pep::ProjectVersion;
use refinery_plan::{Plan, SourceKind};
use refinery_store::{
    sha256_file, BrokenVersion, Event, EventKind, Manifest, ManifestEntry, Recorder, Status,
};

use crate::accelerate::AccelerateMode;
use crate::context::RunSettings;
use crate::environment::{open_environment, EnvironmentChoice, OpenedEnvironment};
use crate::exec::{Log, DEFAULT_LOG_CAP};
use crate::runner::Mount;
use crate::runner::{GUEST_BUILD, GUEST_WHEELS};
use crate::verify::{verify_wheel, Sandbox, VerifyStopped, WheelUnderTest};
use crate::Reporter;

/// What reused- and cached-wheel verification reads: folders under the cache, the plan,
/// the index.
pub struct ReusedDirs<'a> {
    /// Parent of the per-wheel work folders (`<cache>/builds/v1`).
    pub builds: &'a Path,
    /// Where the verification logs go (`<cache>/logs`).
    pub logs: &'a Path,
    /// Where the plan's sdists are (`<cache>/sdists/v1`), for cached wheels' tests.
    pub sdists: &'a Path,
    /// The run's plan (the sources of cached wheels).
    pub plan: &'a Plan,
    /// The index (`--fallback-latest` lists and fetches newer wheels).
    pub client: &'a IndexClient,
}

/// How many newer versions `--fallback-latest` tries for a broken reused wheel.
pub const FALLBACK_TRIES: usize = 5;

/// Verify every `reused` entry of `manifest` whose wheel has ELF files; its event goes to
/// `recorder`, then `finished` and `write` are called with each changed entry (the
/// manifest is written atomically by the caller, whose error `write` returns and this
/// passes on).
/// The environment is opened once, only when a wheel needs it. With `--fallback-latest`
/// a wheel that ends `broken` gives way to the nearest newer version (at most
/// [`FALLBACK_TRIES`], listed by `client`) whose wheel for the target passes the same
/// checks; the entry then names the broken versions with their evidence
/// (`metadata.broken_versions`).
pub fn verify_reused<E>(
    manifest: &mut Manifest,
    settings: &RunSettings,
    dirs: &ReusedDirs<'_>,
    reporter: &dyn Reporter,
    recorder: &dyn Recorder,
    finished: &dyn Fn(&ManifestEntry),
    write: &dyn Fn(&Manifest) -> Result<(), E>,
) -> Result<(), E> {
    let candidates: Vec<ManifestEntry> = manifest
        .entries
        .iter()
        .filter(|e| {
            matches!(e.status, Status::Reused | Status::Cached) && e.metadata.verification.is_none()
        })
        .cloned()
        .collect();
    let mut checker = Checker {
        settings,
        dirs,
        reporter,
        environment: None,
    };
    let mut pending = candidates.into_iter();
    while let Some(mut entry) = pending.next() {
        let reused = entry.status == Status::Reused;
        let checked = if crate::package_build::is_stopped(settings.stop.as_deref()) {
            Checked::Stopped
        } else if reused {
            checker.check(&mut entry)
        } else {
            let sdist = sdist_of(dirs.plan, &entry, dirs.sdists);
            checker.recheck_cached(&mut entry, sdist.as_deref())
        };
        match checked {
            Checked::NotNeeded => continue,
            Checked::NoEnvironment => return Ok(()),
            Checked::Stopped => {
                checker.after_stop(
                    manifest,
                    std::iter::once(entry).chain(pending),
                    recorder,
                    finished,
                );
                return write(manifest);
            }
            Checked::Done => {}
        }
        record(recorder, settings, &entry, reporter);
        if reused && entry.status == Status::Broken && settings.fallback_latest {
            if let Some(newer) = fall_back(&mut entry, &mut checker, dirs.client, recorder) {
                finished(&entry);
                entry = newer;
                record(recorder, settings, &entry, reporter);
            }
        }
        finished(&entry);
        manifest.upsert(entry);
        write(manifest)?;
    }
    Ok(())
}

/// What [`Checker::check`] did with a wheel.
enum Checked {
    /// Nothing to check: no ELF files, or `--verify-reused` is off.
    NotNeeded,
    /// The environment cannot be opened (a warning was given).
    NoEnvironment,
    /// Checked: the entry is `broken` or carries its verification.
    Done,
    /// The run was stopped during the check: the entry stays as it was, unverified.
    Stopped,
}

/// Checks reused wheels, opening the environment at the first that needs it.
struct Checker<'a> {
    settings: &'a RunSettings,
    dirs: &'a ReusedDirs<'a>,
    reporter: &'a dyn Reporter,
    environment: Option<Result<OpenedEnvironment, String>>,
}

impl Checker<'_> {
    /// What the run's stop left: `entries` still to check. A reused wheel with another
    /// machine's binaries is still refused (that needs no environment); the others that
    /// needed a check under emulation keep their status, with `interrupted` and a detail
    /// saying they were not verified.
    fn after_stop(
        &self,
        manifest: &mut Manifest,
        entries: impl Iterator<Item = ManifestEntry>,
        recorder: &dyn Recorder,
        finished: &dyn Fn(&ManifestEntry),
    ) {
        for mut entry in entries {
            let needs_check = match entry.status {
                Status::Reused => match self.triage(&mut entry) {
                    Some(Checked::Done) => {
                        record(recorder, self.settings, &entry, self.reporter);
                        finished(&entry);
                        manifest.upsert(entry);
                        continue;
                    }
                    Some(_) => false,
                    None => self.settings.verify.reused,
                },
                _ => true,
            };
            if needs_check {
                entry.detail = format!("{}; not verified: the run was stopped", entry.detail);
                entry.metadata.interrupted = true;
                finished(&entry);
                manifest.upsert(entry);
            }
        }
    }

    /// What a reused wheel's binaries decide without an environment: `NotNeeded` (none),
    /// `Done` (another machine's: now `broken`), `None` (s390x ones: check them).
    fn triage(&self, entry: &mut ManifestEntry) -> Option<Checked> {
        let Some(file) = entry.path.clone() else {
            return Some(Checked::NotNeeded);
        };
        let wheel = self.settings.output.join(&file);
        let machines = crate::wheel_inspect::elf_machines(&wheel).unwrap_or_default();
        if machines.is_empty() {
            return Some(Checked::NotNeeded);
        }
        let foreign: Vec<(String, u16)> = machines
            .iter()
            .filter(|(_, m)| *m != refinery_plan::foreign_elf::EM_S390)
            .take(3)
            .cloned()
            .collect();
        if !foreign.is_empty() {
            mark_broken(
                entry,
                &wheel,
                format!(
                    "reused wheel {file} carries binaries for another machine: {}; it cannot run on s390x",
                    refinery_plan::foreign_elf::describe(&foreign)
                ),
            );
            return Some(Checked::Done);
        }
        None
    }

    fn check(&mut self, entry: &mut ManifestEntry) -> Checked {
        let settings = self.settings;
        if let Some(decided) = self.triage(entry) {
            return decided;
        }
        let Some(file) = entry.path.clone().filter(|_| settings.verify.reused) else {
            return Checked::NotNeeded;
        };
        let wheel = settings.output.join(&file);
        let (reporter, dirs) = (self.reporter, self.dirs);
        let Some(env) = self.environment() else {
            return Checked::NoEnvironment;
        };
        reporter.started(entry.name.as_str(), entry.version_str(), "verify");
        match verify_one(entry, &wheel, env, settings, dirs, None) {
            Ok(()) => Checked::Done,
            Err(VerifyStopped) => Checked::Stopped,
        }
    }

    /// Verify a wheel taken from the cache at the level asked for; `sdist` is the one it
    /// was built from, for `--verify tests`. One that passes gets a new record.
    fn recheck_cached(&mut self, entry: &mut ManifestEntry, sdist: Option<&Path>) -> Checked {
        let settings = self.settings;
        let (Some(file), Some(sha)) = (entry.path.clone(), entry.sha256.clone()) else {
            return Checked::NotNeeded;
        };
        let wheel = settings.output.join(&file);
        let (reporter, dirs) = (self.reporter, self.dirs);
        let Some(env) = self.environment() else {
            return Checked::NoEnvironment;
        };
        reporter.started(entry.name.as_str(), entry.version_str(), "verify");
        if verify_one(entry, &wheel, env, settings, dirs, sdist).is_err() {
            return Checked::Stopped;
        }
        if entry.status == Status::Cached {
            if let Some(verification) = &entry.metadata.verification {
                if let Err(e) = crate::verify::record::write(&settings.cache, &sha, verification) {
                    reporter.message(&format!("warning: {e}"));
                }
            }
        }
        Checked::Done
    }

    /// The environment, opened at the first call; `None` (after a warning) when it
    /// cannot be opened.
    fn environment(&mut self) -> Option<&OpenedEnvironment> {
        let (settings, reporter) = (self.settings, self.reporter);
        let opened = self.environment.get_or_insert_with(|| {
            let quiet = QuietAcceleration(reporter);
            open_environment(&emulated(&settings.environment), &settings.target, &quiet)
                .map_err(|e| e.to_string())
        });
        match opened {
            Ok(env) => Some(env),
            Err(message) => {
                reporter.message(&format!(
                    "warning: cannot verify the reused and cached wheels: no environment: {message}"
                ));
                None
            }
        }
    }
}

/// The sdist a cached wheel was built from, when it is at hand: the input's, or the
/// index's as the plan downloaded it into `sdists`.
fn sdist_of(plan: &Plan, entry: &ManifestEntry, sdists: &Path) -> Option<PathBuf> {
    let node = plan
        .nodes
        .iter()
        .find(|n| n.name == entry.name && n.version == entry.version)?;
    let source = node.source.as_ref()?;
    let path = match source.kind {
        SourceKind::InputSdist => PathBuf::from(source.path.as_deref()?),
        _ => sdists.join(&source.filename),
    };
    path.is_file().then_some(path)
}

/// `--fallback-latest` for `broken`, a reused wheel that verified broken: fetch the wheels
/// for the target of the next newer versions, oldest first, and check each like the
/// first; the first that passes (or needs no check) is returned, naming the versions
/// passed over in `metadata.broken_versions`. When none passes, `broken` says what was
/// tried and carries their evidence.
fn fall_back(
    broken: &mut ManifestEntry,
    checker: &mut Checker<'_>,
    client: &IndexClient,
    recorder: &dyn Recorder,
) -> Option<ManifestEntry> {
    let settings = checker.settings;
    let Some(after) = broken.version.as_ref().map(|v| v.version().clone()) else {
        broken.detail = format!(
            "{}; --fallback-latest: the entry has no version to move past",
            broken.detail
        );
        return None;
    };
    let files = match client.project_files(broken.name.as_str()) {
        Ok(files) => files,
        Err(e) => {
            broken.detail = format!(
                "{}; --fallback-latest: cannot list {}: {e}",
                broken.detail, broken.name
            );
            return None;
        }
    };
    let newer = refinery_plan::newer_target_wheels(
        broken.name.as_str(),
        &files,
        &settings.target,
        &after,
        FALLBACK_TRIES,
    );
    let mut passed_over = vec![passed_over_record(broken)];
    let mut tried = Vec::new();
    for (version, file) in newer {
        let mut candidate = ManifestEntry::new(
            broken.name.clone(),
            Some(ProjectVersion::from(&version)),
            Status::Reused,
        );
        candidate.metadata.python = Some(settings.target.python_str());
        candidate.metadata.platform_tag = Some(settings.target.platform_tag().to_string());
        candidate.metadata.source = Some(redact_url(&file.url));
        let fetched = client
            .download(&file, &settings.output)
            .map_err(|e| e.to_string())
            .and_then(|path| {
                sha256_file(&path)
                    .map(|sha| (path, sha))
                    .map_err(|e| e.to_string())
            });
        match fetched {
            Ok((path, sha)) => {
                candidate.path = Some(
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                candidate.sha256 = Some(sha);
            }
            Err(message) => {
                tried.push(format!(
                    "{version} (cannot fetch {}: {message})",
                    file.filename
                ));
                continue;
            }
        }
        candidate.detail = format!(
            "--fallback-latest: {} {} is broken on s390x; the index has {} for the target",
            broken.name,
            broken.version_str(),
            file.filename
        );
        if let Checked::NoEnvironment | Checked::Stopped = checker.check(&mut candidate) {
            // Unchecked, so not published: its download leaves the output.
            if let Some(file) = &candidate.path {
                let _ = std::fs::remove_file(settings.output.join(file));
            }
            return None;
        }
        if candidate.status == Status::Broken {
            record(recorder, settings, &candidate, checker.reporter);
            tried.push(format!("{version} (broken too)"));
            passed_over.push(passed_over_record(&candidate));
            continue;
        }
        let skipped: Vec<&str> = passed_over.iter().map(|b| b.version.as_str()).collect();
        checker.reporter.message(&format!(
            "{}: --fallback-latest uses {version} instead of {}, which is broken on s390x",
            broken.name,
            skipped.join(", ")
        ));
        candidate.metadata.broken_versions = passed_over;
        return Some(candidate);
    }
    broken.detail = if tried.is_empty() {
        format!(
            "{}; --fallback-latest: no newer version has a wheel for {}",
            broken.detail, settings.target
        )
    } else {
        format!(
            "{}; --fallback-latest tried {}",
            broken.detail,
            tried.join(", ")
        )
    };
    broken.metadata.broken_versions = passed_over.split_off(1);
    None
}

/// The evidence of a broken entry, for the entry that takes its place.
fn passed_over_record(entry: &ManifestEntry) -> BrokenVersion {
    let file = entry
        .metadata
        .source
        .as_deref()
        .and_then(|s| s.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    BrokenVersion {
        version: entry.version_str().to_string(),
        file,
        detail: entry.detail.clone(),
        verification: entry.metadata.verification.clone(),
    }
}

/// Verify one reused wheel in the environment; `entry` gets the verification and, when
/// it failed, status `broken`.
fn verify_one(
    entry: &mut ManifestEntry,
    wheel: &Path,
    env: &OpenedEnvironment,
    settings: &RunSettings,
    dirs: &ReusedDirs<'_>,
    sdist: Option<&Path>,
) -> Result<(), VerifyStopped> {
    let kind = if entry.status == Status::Cached {
        "cached"
    } else {
        "reused"
    };
    let work = WorkDir(dirs.builds.join(format!(
        "verify-{}-{}-{}",
        entry.name,
        entry.version_str(),
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&work.0);
    let log_path = dirs
        .logs
        .join(format!("{}-{}-verify.log", entry.name, entry.version_str()));
    let prepared = ["home", "tmp"]
        .iter()
        .try_for_each(|sub| std::fs::create_dir_all(work.0.join(sub)))
        .map_err(|e| format!("cannot create {}: {e}", work.0.display()))
        .and_then(|()| {
            Log::create(&log_path, DEFAULT_LOG_CAP)
                .map_err(|e| format!("cannot create the log {}: {e}", log_path.display()))
        });
    let log = match prepared {
        Ok(log) => log,
        Err(message) => {
            entry.detail = format!("{}; not verified: {message}", entry.detail);
            return Ok(());
        }
    };
    let runner = env.runner.as_ref();
    let work_mount = Mount::rw(&work.0, GUEST_BUILD);
    let output_mount = Mount::ro(&settings.output, GUEST_WHEELS);
    let work_guest = runner.guest_path(&work_mount);
    let output_guest = runner.guest_path(&output_mount);
    let file = entry.path.clone().unwrap_or_default();
    log.line(&format!(
        "[refinery] verify the {kind} wheel {file} ({}) with {}",
        settings.verify.level, env.label
    ));
    let mut sandbox_env: Vec<(String, String)> = vec![
        ("HOME".into(), format!("{work_guest}/home")),
        ("TMPDIR".into(), format!("{work_guest}/tmp")),
        ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
        ("PIP_NO_INPUT".into(), "1".into()),
        ("PIP_NO_CACHE_DIR".into(), "1".into()),
    ];
    if sdist.is_some() {
        // pytest for the sdist's tests comes from the configured index.
        sandbox_env.extend(settings.pip_env.iter().cloned());
    }
    let sandbox = Sandbox {
        runner,
        mounts: vec![work_mount, output_mount],
        env: sandbox_env,
        work_host: work.0.clone(),
        work_guest,
        stop: settings.stop.as_deref(),
        native: settings
            .verify
            .native_install
            .then(|| crate::verify::NativeInstall::for_target(&settings.target))
            .flatten(),
    };
    let under_test = WheelUnderTest {
        name: entry.name.as_str(),
        version: entry.version.as_ref(),
        host_path: wheel,
        guest_path: format!("{output_guest}/{file}"),
        find_links: vec![output_guest],
        host_find_links: vec![settings.output.clone()],
        tolerate_missing_dependencies: true,
        sdist,
    };
    let verification = verify_wheel(&sandbox, &under_test, &settings.verify, &log)?;
    let failure = verification
        .first_failure()
        .map(|f| format!("{} {}: {}", f.name, f.outcome, f.detail));
    let summary = verification.summary();
    entry.metadata.verification = Some(verification);
    match failure {
        Some(why) => mark_broken(
            entry,
            wheel,
            format!("{kind} wheel {file} does not work on s390x: {why}"),
        ),
        None => entry.detail = format!("{}; verified on s390x: {summary}", entry.detail),
    }
    Ok(())
}

/// The same environment without the host's compilers: verification runs only the
/// target's code, so nothing needs preparing for acceleration.
fn emulated(choice: &EnvironmentChoice) -> EnvironmentChoice {
    let mut choice = choice.clone();
    match &mut choice {
        EnvironmentChoice::Rootfs { accelerate, .. }
        | EnvironmentChoice::Container { accelerate, .. } => *accelerate = AccelerateMode::Off,
        EnvironmentChoice::Host => {}
    }
    choice
}

/// Forwards every message but the note that acceleration is off, which the environment
/// opened for verification would print and which says nothing about the builds.
struct QuietAcceleration<'a>(&'a dyn Reporter);

impl Reporter for QuietAcceleration<'_> {
    fn message(&self, message: &str) {
        if !message.starts_with("acceleration off") {
            self.0.message(message);
        }
    }
}

/// Status `broken` with `detail`; the wheel leaves the output (it is not published).
fn mark_broken(entry: &mut ManifestEntry, wheel: &Path, detail: String) {
    entry.status = Status::Broken;
    entry.detail = detail;
    entry.path = None;
    let _ = std::fs::remove_file(wheel);
}

fn record(
    recorder: &dyn Recorder,
    settings: &RunSettings,
    entry: &ManifestEntry,
    reporter: &dyn Reporter,
) {
    let kind = if entry.status == Status::Broken {
        EventKind::Broken
    } else {
        EventKind::Verified
    };
    let event = Event::new(kind, entry.detail.clone())
        .with_package(entry.name.as_str(), entry.version_str())
        .with_data(serde_json::json!({
            "status": entry.status,
            "sha256": entry.sha256,
            "metadata": entry.metadata,
        }))
        .with_run(&settings.run_id);
    if let Err(e) = recorder.event(&event) {
        reporter.message(&format!(
            "warning: cannot record an event in the history: {e}"
        ));
    }
}

/// A work folder, removed when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
