//! Reused wheels are verified too: once every build of the run is done (so their runtime
//! dependencies are in the output), each reused wheel that carries ELF files is checked
//! like a built one (install, imports, smoke tests) in the s390x environment. One that
//! carries binaries for another machine, or fails a check, ends `broken` with the
//! evidence, and its file leaves the output.

use std::path::{Path, PathBuf};

use refinery_store::{Event, Manifest, ManifestEntry, Recorder, Status};

use super::run::{verify_wheel, Sandbox, WheelUnderTest};
use crate::accelerate::AccelerateMode;
use crate::builder::{GUEST_BUILD, GUEST_WHEELS};
use crate::context::RunSettings;
use crate::environment::{open_environment, EnvironmentChoice, OpenedEnvironment};
use crate::exec::{Log, DEFAULT_LOG_CAP};
use crate::runner::Mount;
use crate::Reporter;

/// Folders under the cache that reused-wheel verification uses.
pub struct ReusedDirs<'a> {
    /// Parent of the per-wheel work folders (`<cache>/builds/v1`).
    pub builds: &'a Path,
    /// Where the verification logs go (`<cache>/logs`).
    pub logs: &'a Path,
}

/// Verify every `reused` entry of `manifest` whose wheel has ELF files; its event goes to
/// `recorder`, then `finished` and `write` are called with each changed entry (the
/// manifest is written atomically by the caller). The environment is opened once, only
/// when a wheel needs it.
pub fn verify_reused(
    manifest: &mut Manifest,
    settings: &RunSettings,
    dirs: &ReusedDirs<'_>,
    reporter: &dyn Reporter,
    recorder: &dyn Recorder,
    finished: &dyn Fn(&ManifestEntry),
    write: &dyn Fn(&Manifest) -> Result<(), crate::RunError>,
) -> Result<(), crate::RunError> {
    let candidates: Vec<ManifestEntry> = manifest
        .entries
        .iter()
        .filter(|e| e.status == Status::Reused && e.metadata.verification.is_none())
        .cloned()
        .collect();
    let mut environment: Option<Result<OpenedEnvironment, String>> = None;
    for mut entry in candidates {
        let Some(file) = entry.path.clone() else {
            continue;
        };
        let wheel = settings.output.join(&file);
        let machines = crate::wheel_inspect::elf_machines(&wheel).unwrap_or_default();
        if machines.is_empty() {
            continue;
        }
        let foreign: Vec<(String, u16)> = machines
            .iter()
            .filter(|(_, m)| *m != refinery_plan::foreign_elf::EM_S390)
            .take(3)
            .cloned()
            .collect();
        if !foreign.is_empty() {
            mark_broken(
                &mut entry,
                &wheel,
                format!(
                    "reused wheel {file} carries binaries for another machine: {}; it cannot run on s390x",
                    refinery_plan::foreign_elf::describe(&foreign)
                ),
            );
        } else if settings.verify.reused {
            let opened = environment.get_or_insert_with(|| {
                let quiet = QuietAcceleration(reporter);
                open_environment(&emulated(&settings.environment), &settings.target, &quiet)
            });
            let env = match opened {
                Ok(env) => env,
                Err(message) => {
                    reporter.message(&format!(
                        "warning: cannot verify the reused wheels: no environment: {message}"
                    ));
                    return Ok(());
                }
            };
            reporter.started(&entry.name, &entry.version, "verify");
            verify_one(&mut entry, &wheel, env, settings, dirs);
        } else {
            continue;
        }
        record(recorder, settings, &entry, reporter);
        finished(&entry);
        manifest.upsert(entry);
        write(manifest)?;
    }
    Ok(())
}

/// Verify one reused wheel in the environment; `entry` gets the verification and, when
/// it failed, status `broken`.
fn verify_one(
    entry: &mut ManifestEntry,
    wheel: &Path,
    env: &OpenedEnvironment,
    settings: &RunSettings,
    dirs: &ReusedDirs<'_>,
) {
    let work = WorkDir(dirs.builds.join(format!(
        "verify-{}-{}-{}",
        entry.name,
        entry.version,
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&work.0);
    let log_path = dirs
        .logs
        .join(format!("{}-{}-verify.log", entry.name, entry.version));
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
            return;
        }
    };
    let runner = env.runner.as_ref();
    let work_mount = Mount::rw(&work.0, GUEST_BUILD);
    let output_mount = Mount::ro(&settings.output, GUEST_WHEELS);
    let work_guest = runner.guest_path(&work_mount);
    let output_guest = runner.guest_path(&output_mount);
    let file = entry.path.clone().unwrap_or_default();
    log.line(&format!(
        "[refinery] verify the reused wheel {file} ({}) with {}",
        settings.verify.level, env.label
    ));
    let sandbox = Sandbox {
        runner,
        mounts: vec![work_mount, output_mount],
        env: vec![
            ("HOME".into(), format!("{work_guest}/home")),
            ("TMPDIR".into(), format!("{work_guest}/tmp")),
            ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
            ("PIP_NO_INPUT".into(), "1".into()),
            ("PIP_NO_CACHE_DIR".into(), "1".into()),
        ],
        work_host: work.0.clone(),
        work_guest,
        stop: settings.stop.as_deref(),
        native: settings
            .verify
            .native_install
            .then(|| super::NativeInstall::for_target(&settings.target))
            .flatten(),
    };
    let under_test = WheelUnderTest {
        name: &entry.name,
        version: &entry.version,
        host_path: wheel,
        guest_path: format!("{output_guest}/{file}"),
        find_links: vec![output_guest],
        host_find_links: vec![settings.output.clone()],
        tolerate_missing_dependencies: true,
    };
    let verification = verify_wheel(&sandbox, &under_test, &settings.verify, &log);
    let failure = verification
        .first_failure()
        .map(|f| format!("{} {}: {}", f.name, f.outcome, f.detail));
    let summary = verification.summary();
    entry.metadata.verification = Some(verification);
    match failure {
        Some(why) => mark_broken(
            entry,
            wheel,
            format!("reused wheel {file} does not work on s390x: {why}"),
        ),
        None => entry.detail = format!("{}; verified on s390x: {summary}", entry.detail),
    }
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
        "broken"
    } else {
        "verified"
    };
    let event = Event::new(kind, entry.detail.clone())
        .with_package(&entry.name, &entry.version)
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
