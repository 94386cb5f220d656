//! Run verification in the environment: a clean venv, an offline install (by the host's
//! uv where there is one, see [`super::native`]; else by the environment's pip), then the
//! checks (imports, smoke snippets, the catalog's self-test) in one interpreter under
//! emulation ([`super::checks`]; the sdist's pytest suite in its own), with the network
//! cut and a time limit each. A check that hangs is killed at its limit (`timed_out`),
//! one whose interpreter dies of a signal is `crashed`, one that exits non-zero `failed`
//! (or `needs_network` when that is why); the last lines each printed are kept as
//! evidence.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use refinery_pep::ProjectVersion;
use refinery_store::verification::EVIDENCE_LINES;
use refinery_store::{CheckOutcome, CheckResult, Verification};

use super::checks::{Part, PartCode};
use super::native::NativeInstall;
use super::{SmokeTest, VerifyLevel, VerifySettings};
use crate::exec::{run_logged, Log, Outcome};
use crate::runner::{Mount, RunSpec, Runner};

mod install;

/// Printed by the wrapper after each check: the interpreter's exit status as the shell
/// saw it (128 + N when signal N killed it).
pub(super) const EXIT_MARKER: &str = "[refinery-verify] exit ";

/// Where verification runs.
pub struct Sandbox<'a> {
    pub runner: &'a dyn Runner,
    /// Every folder the checks see (the work folder, the wheel's, the output's).
    pub mounts: Vec<Mount>,
    /// Environment of every check (HOME, TMPDIR, pip settings …).
    pub env: Vec<(String, String)>,
    /// A writable folder for the venv and the snippet files, on the host …
    pub work_host: PathBuf,
    /// … and as the environment sees it.
    pub work_guest: String,
    /// Set to stop the running check at once (a cancelled job).
    pub stop: Option<&'a AtomicBool>,
    /// The host's uv installs the wheels natively into the work folder; `None`, or when it
    /// fails (the install check's detail says why), the environment's pip does.
    pub native: Option<NativeInstall>,
}

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

/// Verify `wheel` at `settings.level`. Never fails as a function: what went wrong is a
/// check in the result ([`Verification::first_failure`]). Every line goes to `log`.
pub fn verify_wheel(
    sandbox: &Sandbox<'_>,
    wheel: &WheelUnderTest<'_>,
    settings: &VerifySettings,
    log: &Log,
) -> Verification {
    let started = Instant::now();
    let mut verification = Verification {
        level: settings.level.to_string(),
        log_path: Some(log.path().to_string_lossy().into_owned()),
        ..Verification::default()
    };
    // The log's last verification line says the verdict (`[refinery-verify] ok` when no
    // check failed), for people and scripts reading the attempt log.
    let finish = |mut v: Verification| {
        v.duration_secs = tenths(started.elapsed());
        match v.first_failure() {
            None => log.line(&format!("[refinery-verify] ok: {}", v.summary())),
            Some(failed) => log.line(&format!(
                "[refinery-verify] failed: {} ({})",
                failed.name,
                failed.outcome.as_str()
            )),
        }
        v
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
        return finish(verification);
    }
    log.line(&format!("[refinery] verify: import {}", modules.join(", ")));
    let mut results = super::checks::run_parts(sandbox, &parts, early, log).into_iter();
    let Some(import) = results.next() else {
        return finish(verification);
    };
    let imported = import.outcome == CheckOutcome::Passed;
    verification.checks.push(import);
    if !imported || settings.level < VerifyLevel::Smoke {
        return finish(verification);
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
        return finish(verification);
    }
    if with_tests.is_empty() {
        verification
            .checks
            .extend(sdist_suite(sandbox, wheel, settings.timeout, log));
    }
    verification.checks.extend(results);
    finish(verification)
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

pub(super) fn venv_python(sandbox: &Sandbox<'_>) -> String {
    format!("{}/venv/bin/python", sandbox.work_guest)
}

/// Write `text` into the work folder; returns its path as the environment sees it.
/// A file that cannot be written shows up as the check's failure (python cannot open it).
pub(super) fn write_script(sandbox: &Sandbox<'_>, file: &str, text: &str) -> String {
    let _ = std::fs::write(sandbox.work_host.join(file), text);
    format!("{}/{file}", sandbox.work_guest)
}

/// Run one check: `argv` in the environment (network cut, nothing of the host bound in),
/// killed at `limit`. Its lines go to `log`.
pub(crate) fn run_check(
    sandbox: &Sandbox<'_>,
    name: &str,
    argv: Vec<String>,
    limit: Duration,
    log: &Log,
) -> CheckResult {
    run_check_with(sandbox, name, argv, limit, false, log)
}

/// [`run_check`], with the network when `network` (installing test tools only).
fn run_check_with(
    sandbox: &Sandbox<'_>,
    name: &str,
    argv: Vec<String>,
    limit: Duration,
    network: bool,
    log: &Log,
) -> CheckResult {
    let started = Instant::now();
    let spec = check_spec(sandbox, argv, network);
    log.line(&format!(
        "[refinery-verify] --- {name} (limit {} s) ---",
        limit.as_secs()
    ));
    // The check's lines go to the log as they come (live logs); its part of the log is
    // read back afterwards for the verdict and the evidence.
    let offset = std::fs::metadata(log.path()).map_or(0, |m| m.len());
    let outcome = run_logged(
        sandbox.runner.command(&spec),
        log,
        Some(limit),
        sandbox.stop,
    )
    .map(|o| (o, read_from(log.path(), offset)))
    .map_err(|e| e.to_string());
    let (outcome, detail, text) = match outcome {
        Err(e) => (
            CheckOutcome::Failed,
            format!("cannot run the check: {e}"),
            String::new(),
        ),
        Ok((outcome, text)) => {
            let (o, d) = classify(&outcome, &text, limit);
            (o, d, text)
        }
    };
    let result = CheckResult {
        name: name.to_string(),
        outcome,
        detail,
        evidence: evidence(&text),
        duration_secs: tenths(started.elapsed()),
    };
    log.line(&format!(
        "[refinery-verify] {name}: {}{}",
        result.outcome,
        if result.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", result.detail)
        }
    ));
    result
}

/// `argv` in the environment for a check, wrapped so that its exit status (128 + N for
/// signal N) is the output's last line ([`EXIT_MARKER`]); with the network when
/// `network`.
pub(super) fn check_spec(sandbox: &Sandbox<'_>, argv: Vec<String>, network: bool) -> RunSpec {
    let mut wrapped = vec![
        "sh".to_string(),
        "-c".to_string(),
        format!("\"$@\"; echo \"{EXIT_MARKER}$?\""),
        "sh".to_string(),
    ];
    wrapped.extend(argv);
    let mut env = sandbox.env.clone();
    env.extend(
        [
            ("PYTHONFAULTHANDLER", "1"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PYTHONUNBUFFERED", "1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    RunSpec {
        argv: wrapped,
        env,
        mounts: sandbox.mounts.clone(),
        workdir: sandbox.work_guest.clone(),
        network,
        // Verification proves the wheel on s390x alone: nothing of the host inside.
        accelerate: false,
        zig: false,
        rust: None,
        path_prepend: Vec::new(),
    }
}

/// What the process's end and output say about the check.
pub(super) fn classify(outcome: &Outcome, text: &str, limit: Duration) -> (CheckOutcome, String) {
    let last = last_line(text);
    match outcome {
        Outcome::TimedOut(_) => (
            CheckOutcome::TimedOut,
            format!(
                "killed at its time limit of {} s: it hangs or is far too slow under emulation",
                limit.as_secs()
            ),
        ),
        Outcome::Stopped => (
            CheckOutcome::Skipped,
            "stopped: the job was cancelled".into(),
        ),
        Outcome::Failed(status) => (
            CheckOutcome::Failed,
            format!("the check's wrapper failed ({status}): {last}"),
        ),
        Outcome::Success => {
            let code = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix(EXIT_MARKER))
                .and_then(|c| c.trim().parse::<i32>().ok());
            match code {
                Some(0) => (CheckOutcome::Passed, String::new()),
                Some(code) if code > 128 => (
                    CheckOutcome::Crashed,
                    format!(
                        "the interpreter died of signal {} ({}): {last}",
                        code - 128,
                        signal_name(code - 128)
                    ),
                ),
                Some(code) if needs_network(text) => (
                    CheckOutcome::NeedsNetwork,
                    format!(
                        "exit status {code}: it needs the network, which verification cuts: {last}"
                    ),
                ),
                Some(code) => (CheckOutcome::Failed, format!("exit status {code}: {last}")),
                None => (
                    CheckOutcome::Failed,
                    format!("it reported no exit status: {last}"),
                ),
            }
        }
    }
}

/// The text of `path` from byte `offset` on (lossy UTF-8; empty when unreadable).
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file
                .take(crate::exec::DEFAULT_LOG_CAP)
                .read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Whether the output shows a failed network access (name resolution, no route).
fn needs_network(text: &str) -> bool {
    [
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "No address associated with hostname",
        "getaddrinfo failed",
        "[Errno -3]",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

/// The most telling line a check printed: the last Python exception line
/// (`AssertionError: …`, `Fatal Python error: …`), else the last line that is not the
/// wrapper's or the refinery's. stdout and stderr are read by two threads, so their order
/// in the log is not their order of printing: the exception line is found by its shape.
fn last_line(text: &str) -> String {
    static EXCEPTION: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let exception = EXCEPTION.get_or_init(|| {
        regex::Regex::new(
            r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(:|$)|Fatal Python error)",
        )
        .expect("valid pattern")
    });
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(EXIT_MARKER) && !l.starts_with("[refinery]"))
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| exception.is_match(l))
        .or(lines.last())
        .copied()
        .unwrap_or("no output")
        .chars()
        .take(300)
        .collect()
}

/// The last [`EVIDENCE_LINES`] lines of the output, without the wrapper's marker.
pub(super) fn evidence(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(EXIT_MARKER) && !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(EVIDENCE_LINES)..]
        .iter()
        .map(|l| l.chars().take(500).collect())
        .collect()
}

pub(super) fn tenths(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests;
