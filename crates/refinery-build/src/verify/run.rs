//! Run verification in the environment: a clean venv, an offline install (by the host's
//! uv where there is one, see [`super::native`]; else by the environment's pip), then the
//! checks (imports, smoke snippets, the catalog's self-test) in one interpreter under
//! emulation ([`super::checks`]; the sdist's pytest suite in its own), with the network
//! cut and a time limit each. A check that hangs is killed at its limit (`timed_out`),
//! one whose interpreter dies of a signal is `crashed`, one that exits non-zero `failed`
//! (or `needs_network` when that is why); the last lines each printed are kept as
//! evidence.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use refinery_pep::ProjectVersion;
use refinery_store::{CheckOutcome, CheckResult, Verification};

use super::checks::{Part, PartCode};
use super::sandbox::{run_check, run_check_with, tenths, venv_python, write_script, Sandbox};
use super::{SmokeTest, VerifyLevel, VerifySettings};
use crate::exec::Log;

mod install;

/// The wheel to verify.
pub struct WheelUnderTest<'a> {
    pub name: &'a str,
    /// `None` for an entry without a version (it then only gets version-less smoke tests).
    pub version: Option<&'a ProjectVersion>,
    /// The wheel file on the host (its RECORD names the extension modules).
    pub host_path: &'a Path,
    /// The wheel as the environment sees it.
    pub guest_path: String,
    /// Folders (as the environment sees them) pip takes runtime dependencies from.
    pub find_links: Vec<String>,
    /// The same folders on the host, for the native install.
    pub host_find_links: Vec<PathBuf>,
    /// Install without dependencies when they are not all there (reused wheels, checked
    /// before every build finished); otherwise a missing dependency fails the install.
    pub tolerate_missing_dependencies: bool,
    /// The sdist it was built from (on the host), whose `tests/` folder `--verify tests`
    /// runs with pytest when the catalog knows no self-test; `None` for reused wheels.
    pub sdist: Option<&'a Path>,
}

/// Verification stopped from outside (a cancelled job, an interrupted run, a stopping
/// worker): checks cut short or never run say nothing about the wheel, so there is no
/// verdict to keep and nothing to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("verification stopped: the job was cancelled or the run interrupted")]
pub struct VerifyStopped;

/// Verify `wheel` at `settings.level`. What went wrong with the wheel is a check in the
/// result ([`Verification::first_failure`]); every line goes to `log`.
///
/// # Errors
///
/// [`VerifyStopped`] when the sandbox's stop flag was set before the verdict: the
/// checks it cut short or skipped are dropped, never reported as the wheel's.
pub fn verify_wheel(
    sandbox: &Sandbox<'_>,
    wheel: &WheelUnderTest<'_>,
    settings: &VerifySettings,
    log: &Log,
) -> Result<Verification, VerifyStopped> {
    let started = Instant::now();
    let mut verification = run_checks(sandbox, wheel, settings, log);
    verification.duration_secs = tenths(started.elapsed());
    // The flag is only ever set, so one look after the checks covers every check it cut.
    if sandbox
        .stop
        .is_some_and(|stop| stop.load(std::sync::atomic::Ordering::SeqCst))
    {
        log.line("[refinery-verify] stopped: no verdict");
        return Err(VerifyStopped);
    }
    // The log's last verification line says the verdict (`[refinery-verify] ok` when no
    // check failed), for people and scripts reading the attempt log.
    match verification.first_failure() {
        None => log.line(&format!("[refinery-verify] ok: {}", verification.summary())),
        Some(failed) => log.line(&format!(
            "[refinery-verify] failed: {} ({})",
            failed.name,
            failed.outcome.as_str()
        )),
    }
    Ok(verification)
}

/// The checks of [`verify_wheel`], in order, each stopping at the first that rules out
/// the rest (a failed install, a failed import).
fn run_checks(
    sandbox: &Sandbox<'_>,
    wheel: &WheelUnderTest<'_>,
    settings: &VerifySettings,
    log: &Log,
) -> Verification {
    let mut verification = Verification {
        level: settings.level.to_string(),
        log_path: Some(log.path().to_string_lossy().into_owned()),
        ..Verification::default()
    };
    let mut modules = crate::wheel_inspect::top_level_modules(wheel.host_path).unwrap_or_default();
    match super::extensions::extension_modules(wheel.host_path) {
        Ok(extensions) => modules.extend(extensions),
        Err(e) => log.line(&format!(
            "[refinery-verify] cannot list the extension modules: {e}"
        )),
    }
    modules.dedup();
    verification.imported.clone_from(&modules);

    // 2. Import the top-level modules and every extension module, 3. run the smoke
    // tests, 4. the catalog's self-tests: one interpreter for all (see super::checks),
    // started while 1. installs the wheel where the venv can be written ahead.
    let mut parts = vec![Part {
        name: "import".into(),
        limit: settings.timeout,
        code: PartCode::Import(modules.clone()),
    }];
    let entries = if settings.level >= VerifyLevel::Smoke {
        settings.catalog.select(wheel.name, wheel.version)
    } else {
        Vec::new()
    };
    for entry in &entries {
        let limit = entry
            .timeout_secs
            .map_or(settings.timeout, Duration::from_secs);
        parts.push(snippet_part(sandbox, "smoke", entry, &entry.snippet, limit));
    }
    let with_tests: Vec<&&SmokeTest> = if settings.level >= VerifyLevel::Tests {
        entries.iter().filter(|e| e.tests.is_some()).collect()
    } else {
        Vec::new()
    };
    for entry in &with_tests {
        let code = entry.tests.as_deref().unwrap_or_default();
        parts.push(snippet_part(
            sandbox,
            "tests",
            entry,
            code,
            settings.timeout,
        ));
    }
    let mut early = install::checks_ahead(sandbox, &parts, log);

    // 1. A clean venv and an offline install (dependencies from the output folder).
    let install = install::install(sandbox, wheel, settings.timeout, &mut early, log);
    let installed = install.outcome == CheckOutcome::Passed;
    verification.checks.push(install);
    if !installed {
        if let Some(waiting) = early {
            waiting.cancel();
        }
        return verification;
    }
    log.line(&format!("[refinery] verify: import {}", modules.join(", ")));
    let mut results = super::checks::run_parts(sandbox, &parts, early, log).into_iter();
    let Some(import) = results.next() else {
        return verification;
    };
    let imported = import.outcome == CheckOutcome::Passed;
    verification.checks.push(import);
    if !imported || settings.level < VerifyLevel::Smoke {
        return verification;
    }
    if entries.is_empty() {
        verification.checks.push(skipped(
            "smoke",
            format!(
                "the smoke-test catalog has nothing for {} {}",
                wheel.name,
                refinery_pep::project_version::spelling_or_empty(wheel.version)
            ),
        ));
    }
    verification
        .checks
        .extend(results.by_ref().take(entries.len()));
    if settings.level < VerifyLevel::Tests {
        return verification;
    }
    if with_tests.is_empty() {
        verification
            .checks
            .extend(sdist_suite(sandbox, wheel, settings.timeout, log));
    }
    verification.checks.extend(results);
    verification
}

/// Folder of the work folder the sdist's tests are copied into.
const SDIST_TESTS_DIR: &str = "sdist-tests";

/// `--verify tests` without a self-test in the catalog: the sdist's `tests/` folder with
/// pytest. Two checks, `tests:install-pytest` (with the network: pytest comes from the
/// configured index as a wheel) and `tests:pytest` (network cut, `limit`), whose detail
/// is pytest's summary (`12 passed in 3.40s`); `tests:pytest` is `skipped` (no verdict)
/// when pytest reports errors but no failed test. One `skipped` check when there is no
/// sdist or it ships no tests.
fn sdist_suite(
    sandbox: &Sandbox<'_>,
    wheel: &WheelUnderTest<'_>,
    limit: Duration,
    log: &Log,
) -> Vec<CheckResult> {
    let nothing = |why: String| {
        vec![skipped(
            "tests",
            format!(
                "the smoke-test catalog knows no self-test for {} {} and {why}",
                wheel.name,
                refinery_pep::project_version::spelling_or_empty(wheel.version)
            ),
        )]
    };
    let Some(sdist) = wheel.sdist else {
        return nothing("there is no sdist to take tests from (a reused wheel)".into());
    };
    let dest = sandbox.work_host.join(SDIST_TESTS_DIR);
    let _ = std::fs::remove_dir_all(&dest);
    let found = match super::sdist_tests::extract_tests(sdist, &dest) {
        Ok(Some(found)) => found,
        Ok(None) => return nothing("its sdist has no tests/ or test/ folder".into()),
        Err(e) => return nothing(format!("its tests cannot be read: {e}")),
    };
    // pytest's own configuration only: the sdist's (coverage options, plugins) is left
    // behind with its sources.
    let _ = std::fs::write(dest.join("pytest.ini"), "[pytest]\n");
    log.line(&format!(
        "[refinery] verify: the sdist's {}/ folder ({} files) with pytest",
        found.folder, found.files
    ));
    let venv = format!("{}/venv", sandbox.work_guest);
    let install = install_pytest(sandbox, limit, log);
    if install.outcome != CheckOutcome::Passed {
        return vec![install];
    }
    let root = format!("{}/{SDIST_TESTS_DIR}", sandbox.work_guest);
    let mut run = run_check(
        sandbox,
        "tests:pytest",
        vec![
            format!("{venv}/bin/python"),
            "-X".into(),
            "faulthandler".into(),
            "-m".into(),
            "pytest".into(),
            "-p".into(),
            "no:cacheprovider".into(),
            "-c".into(),
            format!("{root}/pytest.ini"),
            "--rootdir".into(),
            root.clone(),
            "-q".into(),
            "--continue-on-collection-errors".into(),
            format!("{root}/{}", found.folder),
        ],
        limit,
        log,
    );
    if let Some(summary) = pytest_summary(&run.evidence) {
        if run.outcome == CheckOutcome::Failed && only_errors(&summary) {
            run.outcome = CheckOutcome::Skipped;
            run.detail = format!(
                "{summary}: no test failed, only errors (a test dependency verification does not install, or a fixture): no verdict"
            );
        } else {
            run.detail = if run.detail.is_empty() {
                summary
            } else {
                format!("{summary}; {}", run.detail)
            };
        }
    }
    vec![install, run]
}

/// The `tests:install-pytest` check: pytest from the configured index as a wheel, by the
/// host's uv into the folder the wheel was installed in natively (no emulated code), else
/// (no native install, or it failed: the detail says why) by the environment's pip.
fn install_pytest(sandbox: &Sandbox<'_>, limit: Duration, log: &Log) -> CheckResult {
    const NAME: &str = "tests:install-pytest";
    let started = Instant::now();
    let site_in_use = sandbox.work_host.join(super::native::SITE_DIR).is_dir();
    let mut why_emulated = None;
    if let Some(native) = sandbox.native.as_ref().filter(|_| site_in_use) {
        log.line(&format!(
            "[refinery-verify] --- {NAME} (limit {} s) ---",
            limit.as_secs()
        ));
        match native.install_from_index(
            &sandbox.work_host,
            "pytest",
            &sandbox.env,
            &venv_python(sandbox),
            limit,
            sandbox.stop,
            log,
        ) {
            Ok(()) => {
                log.line(&format!("[refinery-verify] {NAME}: passed"));
                return CheckResult {
                    name: NAME.into(),
                    outcome: CheckOutcome::Passed,
                    detail: native.describe(),
                    evidence: Vec::new(),
                    duration_secs: tenths(started.elapsed()),
                };
            }
            Err(why) => {
                log.line(&format!(
                    "[refinery-verify] the native install of pytest failed, the environment's pip installs it instead: {why}"
                ));
                why_emulated = Some(why);
            }
        }
    }
    let venv = format!("{}/venv", sandbox.work_guest);
    let mut check = run_check_with(
        sandbox,
        NAME,
        vec![
            sandbox.runner.python(),
            "-m".into(),
            "pip".into(),
            "--python".into(),
            format!("{venv}/bin/python"),
            "install".into(),
            "--only-binary".into(),
            ":all:".into(),
            "pytest".into(),
        ],
        limit,
        true,
        log,
    );
    if let Some(why) = why_emulated {
        check.detail = format!("emulated: the host's uv could not install it: {why}");
    }
    check
}

/// Whether pytest's summary counts errors (collection or fixture errors) but no failed
/// test: the suite could not run, which says nothing about the wheel.
fn only_errors(summary: &str) -> bool {
    let counts = summary.split(" in ").next().unwrap_or_default();
    let has = |word: &str| {
        counts
            .split(", ")
            .any(|part| part.split_once(' ').is_some_and(|(_, w)| w == word))
    };
    (has("error") || has("errors")) && !has("failed")
}

/// pytest's last line, `12 passed, 1 skipped in 3.40s` (without its `=` framing).
fn pytest_summary(evidence: &[String]) -> Option<String> {
    static SUMMARY: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let summary = SUMMARY.get_or_init(|| {
        regex::Regex::new(r"^=*\s*(\d+ (passed|failed|error|errors|skipped|deselected|xfailed|xpassed|warnings?)\b.* in [\d.]+s\b[^=]*?)\s*=*$")
            .expect("valid pattern")
    });
    evidence
        .iter()
        .rev()
        .find_map(|l| summary.captures(l.trim()).map(|c| c[1].trim().to_string()))
}

/// The check `<kind>:<id>` running `code` as a script in the venv (its file is written
/// into the work folder).
fn snippet_part(
    sandbox: &Sandbox<'_>,
    kind: &str,
    entry: &SmokeTest,
    code: &str,
    limit: Duration,
) -> Part {
    let file = format!("refinery_{kind}_{}.py", entry.id.replace(['-', '.'], "_"));
    Part {
        name: format!("{kind}:{}", entry.id),
        limit,
        code: PartCode::Script(write_script(sandbox, &file, code)),
    }
}

fn skipped(name: &str, detail: String) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        outcome: CheckOutcome::Skipped,
        detail,
        evidence: Vec::new(),
        duration_secs: 0.0,
    }
}

#[cfg(test)]
mod tests;
