//! Where verification's checks run and how one check runs there: the [`Sandbox`] (the
//! environment's runner, mounts, work folder and the native install), one check's command
//! with the network cut and its time limit, and the verdict read from its exit and output
//! (`passed`, `failed`, `timed_out`, `crashed`, `needs_network`) with the last lines as
//! evidence.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use refinery_store::verification::EVIDENCE_LINES;
use refinery_store::{CheckOutcome, CheckResult};

use super::native::NativeInstall;
use crate::exec::{run_logged, Log, Outcome};
use crate::runner::{Mount, RunSpec, Runner};

/// Printed by the wrapper after each check: the interpreter's exit status as the shell
/// saw it (128 + N when signal N killed it).
pub(crate) const EXIT_MARKER: &str = "[refinery-verify] exit ";

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

pub(crate) fn venv_python(sandbox: &Sandbox<'_>) -> String {
    format!("{}/venv/bin/python", sandbox.work_guest)
}

/// Write `text` into the work folder; returns its path as the environment sees it.
/// A file that cannot be written shows up as the check's failure (python cannot open it).
pub(crate) fn write_script(sandbox: &Sandbox<'_>, file: &str, text: &str) -> String {
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
pub(crate) fn run_check_with(
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
    .map(|o| (o, crate::exec::read_log_from(log.path(), offset)))
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
pub(crate) fn check_spec(sandbox: &Sandbox<'_>, argv: Vec<String>, network: bool) -> RunSpec {
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

/// The detail of a check cut short or never run because the job was stopped. Such a
/// check never leaves [`super::verify_wheel`] (it returns
/// [`super::VerifyStopped`]); records written before that are refused by
/// [`super::record::covers`].
pub(crate) const STOPPED_DETAIL: &str = "stopped: the job was cancelled";

/// What the process's end and output say about the check.
pub(crate) fn classify(outcome: &Outcome, text: &str, limit: Duration) -> (CheckOutcome, String) {
    let last = last_line(text);
    match outcome {
        Outcome::TimedOut(_) => (
            CheckOutcome::TimedOut,
            format!(
                "killed at its time limit of {} s: it hangs or is far too slow under emulation",
                limit.as_secs()
            ),
        ),
        Outcome::Stopped => (CheckOutcome::Skipped, STOPPED_DETAIL.into()),
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
pub(super) fn last_line(text: &str) -> String {
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
pub(crate) fn evidence(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(EXIT_MARKER) && !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(EVIDENCE_LINES)..]
        .iter()
        .map(|l| l.chars().take(500).collect())
        .collect()
}

pub(crate) fn tenths(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}
