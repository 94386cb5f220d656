//! The import, smoke and self-test checks of one wheel in one emulated interpreter.
//!
//! Starting an s390x CPython under QEMU costs about half a second, as much as a small
//! package's whole check, so the checks share one process: the driver
//! (`checks_driver.py`) runs each part in turn between markers, and the host splits the
//! output at the markers into one [`CheckResult`] per part, with the verdict, detail and
//! evidence it would have had as its own process. Each part keeps its own time limit: the
//! host watches the markers while the process runs and kills it when the running part
//! is over its limit. A part that ends the process (a signal, a hang, a dead sandbox)
//! is reported from the process's end, and the parts after it run in a new process, so
//! a crashing smoke test neither hides the import's verdict nor the next test's. As in
//! separate processes, nothing runs after a failed import.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use refinery_store::{CheckOutcome, CheckResult};

use super::sandbox::{
    check_spec, classify, evidence, tenths, venv_python, write_script, Sandbox, EXIT_MARKER,
};
use std::io::Write as _;

use crate::exec::{spawn_logged, Log, Outcome, Running};

/// The driver's source (see the file's header for its plan and markers).
pub(crate) const DRIVER: &str = include_str!("checks_driver.py");
const DRIVER_FILE: &str = "refinery_verify_checks.py";
const PLAN_FILE: &str = "refinery_verify_plan.json";

/// One check the driver runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The check's name: `import`, `smoke:<id>`, `tests:<id>`.
    pub name: String,
    /// Killed when it runs longer (the import's limit counts from the process start).
    pub limit: Duration,
    pub code: PartCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PartCode {
    /// Import these modules (dotted names); a failure ends the checks.
    Import(Vec<String>),
    /// Run this script (as the environment sees it) as `__main__`.
    Script(String),
}

impl Part {
    /// The line the driver prints when the part starts (the log's header of the check).
    fn header(&self) -> String {
        format!(
            "[refinery-verify] --- {} (limit {} s) ---",
            self.name,
            self.limit.as_secs()
        )
    }

    /// `(exit status, seconds)` when `line` is this part's end marker.
    fn end(&self, line: &str) -> Option<(i32, f64)> {
        let rest = line
            .strip_prefix("[refinery-verify] end ")?
            .strip_prefix(self.name.as_str())?
            .strip_prefix(" exit ")?;
        let (code, secs) = rest.split_once(" in ")?;
        Some((code.parse().ok()?, secs.strip_suffix(" s")?.parse().ok()?))
    }

    fn plan_entry(&self) -> serde_json::Value {
        let mut entry = serde_json::json!({"name": self.name, "limit": self.limit.as_secs()});
        match &self.code {
            PartCode::Import(modules) => entry["import"] = serde_json::json!(modules),
            PartCode::Script(path) => entry["script"] = serde_json::json!(path),
        }
        entry
    }
}

/// The checks' interpreter started ahead ([`prestart`]), waiting for its go on stdin.
pub(crate) struct Prestarted {
    running: Running,
    stdin: Option<std::process::ChildStdin>,
}

impl Prestarted {
    /// End the waiting interpreter (the install failed, or the venv is made again).
    pub(crate) fn cancel(mut self) {
        drop(self.stdin.take());
        self.running.cancel();
    }

    #[cfg(test)]
    pub(crate) fn running_pid(&self) -> u32 {
        self.running.pid()
    }

    #[cfg(test)]
    pub(crate) fn has_ended(&mut self) -> bool {
        self.running.has_ended()
    }

    /// Itself while it still waits; `None` when it ended already (then the checks start a
    /// new one).
    fn alive(mut self) -> Option<Prestarted> {
        if self.running.has_ended() {
            self.cancel();
            None
        } else {
            Some(self)
        }
    }

    /// Let it run its plan: the running process, or `None` when it cannot be told (it
    /// ended just now; said in the log).
    fn go(mut self, log: &Log) -> Option<Running> {
        let said = self
            .stdin
            .take()
            .is_some_and(|mut stdin| stdin.write_all(b"go\n").is_ok());
        if said {
            Some(self.running)
        } else {
            log.line("[refinery-verify] the interpreter started ahead has ended: a new one starts");
            self.running.cancel();
            None
        }
    }
}

/// Start the driver for `parts` before the wheel is installed: the interpreter starts
/// under emulation (about half a second) while the host's uv installs the wheel into
/// `site` (as the environment sees it; not yet a site dir of the venv), then waits on
/// stdin for [`run_parts`] to let it run, and adds `site` as a site dir first. `None` (said in the log) when it
/// cannot be started; the checks then start their own.
pub(crate) fn prestart(
    sandbox: &Sandbox<'_>,
    parts: &[Part],
    site: &str,
    log: &Log,
) -> Option<Prestarted> {
    let driver = write_script(sandbox, DRIVER_FILE, DRIVER);
    let plan = write_plan(sandbox, parts);
    let argv = vec![
        venv_python(sandbox),
        "-X".into(),
        "faulthandler".into(),
        driver,
        "--wait".into(),
        site.to_string(),
        plan,
    ];
    let command = sandbox.runner.command(&check_spec(sandbox, argv, false));
    match spawn_logged(command, log, std::process::Stdio::piped()) {
        Ok(mut running) => {
            let stdin = running.take_stdin();
            Some(Prestarted { running, stdin })
        }
        Err(e) => {
            log.line(&format!(
                "[refinery-verify] cannot start the checks' interpreter ahead ({e}): it starts after the install"
            ));
            None
        }
    }
}

/// Run `parts` in the venv's interpreter, as few processes as their ends allow; the first
/// in `early` when it was started ahead for these parts. One result per part, in order;
/// after a failed `import` part, none for the parts after it.
pub(crate) fn run_parts(
    sandbox: &Sandbox<'_>,
    parts: &[Part],
    early: Option<Prestarted>,
    log: &Log,
) -> Vec<CheckResult> {
    let driver = write_script(sandbox, DRIVER_FILE, DRIVER);
    let mut early = early;
    let mut results = Vec::new();
    let mut rest = parts;
    while !rest.is_empty() {
        if let Some(stop) = sandbox.stop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(waiting) = early.take() {
                    waiting.cancel();
                }
                results.extend(rest.iter().map(|p| stopped(&p.name)));
                break;
            }
        }
        let ran = run_once(sandbox, &driver, rest, early.take(), log);
        let import_failed = rest.iter().zip(&ran).any(|(p, r)| {
            matches!(p.code, PartCode::Import(_)) && r.outcome != CheckOutcome::Passed
        });
        rest = &rest[ran.len()..];
        results.extend(ran);
        if import_failed {
            break;
        }
    }
    results
}

fn stopped(name: &str) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        outcome: CheckOutcome::Skipped,
        detail: super::sandbox::STOPPED_DETAIL.into(),
        evidence: Vec::new(),
        duration_secs: 0.0,
    }
}

fn write_plan(sandbox: &Sandbox<'_>, parts: &[Part]) -> String {
    let plan = serde_json::Value::Array(parts.iter().map(Part::plan_entry).collect());
    write_script(sandbox, PLAN_FILE, &plan.to_string())
}

/// One driver process for `parts` (`early`, when it was started ahead for exactly these
/// parts and still waits): the results of the parts it finished and of the one it ended
/// in (at least one).
fn run_once(
    sandbox: &Sandbox<'_>,
    driver: &str,
    parts: &[Part],
    early: Option<Prestarted>,
    log: &Log,
) -> Vec<CheckResult> {
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    let early = early.and_then(Prestarted::alive);
    let ahead = if early.is_some() {
        " (started while the wheel was installed)"
    } else {
        ""
    };
    log.line(&format!(
        "[refinery-verify] in one interpreter{ahead}: {}",
        names.join(", ")
    ));
    let offset = std::fs::metadata(log.path()).map_or(0, |m| m.len());
    let started = Instant::now();
    let running = match early.and_then(|early| early.go(log)) {
        Some(running) => Ok(running),
        None => {
            let plan = write_plan(sandbox, parts);
            let argv = vec![
                venv_python(sandbox),
                "-X".into(),
                "faulthandler".into(),
                driver.to_string(),
                plan,
            ];
            spawn_logged(
                sandbox.runner.command(&check_spec(sandbox, argv, false)),
                log,
                std::process::Stdio::null(),
            )
        }
    };
    let mut watch = Watch::new(log.path().to_path_buf(), offset, parts, started);
    let outcome =
        running.and_then(|running| running.wait_until(log, &mut |_| watch.over(), sandbox.stop));
    let wall = started.elapsed();
    watch.poll();
    let (outcome, text) = match outcome {
        Ok(outcome) => (outcome, crate::exec::read_log_from(log.path(), offset)),
        Err(e) => {
            // Nothing ran: the first part carries why.
            let result = CheckResult {
                name: parts[0].name.clone(),
                outcome: CheckOutcome::Failed,
                detail: format!("cannot run the check: {e}"),
                evidence: Vec::new(),
                duration_secs: tenths(wall),
            };
            log_verdict(log, &result);
            return vec![result];
        }
    };
    let results = split(parts, &outcome, &text, wall, &watch.begun);
    for result in &results {
        log_verdict(log, result);
    }
    results
}

fn log_verdict(log: &Log, result: &CheckResult) {
    log.line(&format!(
        "[refinery-verify] {}: {}{}",
        result.name,
        result.outcome,
        if result.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", result.detail)
        }
    ));
}

/// The results of one driver process from its output `text` (from the process start):
/// every part with an end marker, then the part the process ended in, if any. `begun`
/// is when the host saw each part's header (for the time of the part it ended in).
fn split(
    parts: &[Part],
    outcome: &Outcome,
    text: &str,
    wall: Duration,
    begun: &[Option<Instant>],
) -> Vec<CheckResult> {
    let mut results: Vec<CheckResult> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut started = false;
    for line in text.lines() {
        let Some(part) = parts.get(results.len()) else {
            lines.push(line);
            continue;
        };
        if !started && line == part.header() {
            started = true;
            continue;
        }
        if let Some((code, secs)) = started.then(|| part.end(line)).flatten() {
            // Its verdict as its own process: the output and the exit status it had.
            let own = format!("{}\n{EXIT_MARKER}{code}\n", lines.join("\n"));
            let (outcome, detail) = classify(&Outcome::Success, &own, part.limit);
            results.push(CheckResult {
                name: part.name.clone(),
                outcome,
                detail,
                evidence: evidence(&own),
                duration_secs: secs,
            });
            lines.clear();
            started = false;
            continue;
        }
        lines.push(line);
    }
    let finished = results.len();
    // The driver stops after a failed import, as separate processes would.
    let import_failed = finished > 0
        && matches!(parts[finished - 1].code, PartCode::Import(_))
        && results[finished - 1].outcome != CheckOutcome::Passed;
    let rest = format!("{}\n", lines.join("\n"));
    match parts.get(finished) {
        Some(_) if import_failed => {}
        Some(part) => {
            // The part the process ended in.
            let (outcome, detail) = classify(outcome, &rest, part.limit);
            let secs = match begun.get(finished).copied().flatten() {
                Some(at) if finished > 0 => at.elapsed().min(wall),
                _ => wall,
            };
            results.push(CheckResult {
                name: part.name.clone(),
                outcome,
                detail,
                evidence: evidence(&rest),
                duration_secs: tenths(secs),
            });
        }
        None => {
            // Every part ended; an interpreter that then fails on its way out (an
            // extension's destructor) is blamed on the part that ran last.
            let last = results.last_mut().expect("at least one part");
            let (outcome, detail) = classify(outcome, &rest, parts[finished - 1].limit);
            if outcome != CheckOutcome::Passed && last.outcome == CheckOutcome::Passed {
                last.outcome = outcome;
                last.detail = format!("at the interpreter's exit: {detail}");
                last.evidence = evidence(&rest);
            }
        }
    }
    // The process's start and end belong to its first part, as when it ran alone.
    let others: f64 = results.iter().skip(1).map(|r| r.duration_secs).sum();
    results[0].duration_secs = tenths(wall.saturating_sub(Duration::from_secs_f64(others)));
    for result in results.iter_mut().skip(1) {
        result.duration_secs = (result.duration_secs * 10.0).round() / 10.0;
    }
    results
}

/// Follows a driver's output in the log while it runs: which part runs since when, so
/// that each is killed at its own limit.
struct Watch<'p> {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    parts: &'p [Part],
    /// When each part's header was seen (the first part: the process start).
    begun: Vec<Option<Instant>>,
    current: usize,
}

impl<'p> Watch<'p> {
    fn new(path: PathBuf, offset: u64, parts: &'p [Part], started: Instant) -> Watch<'p> {
        let mut begun = vec![None; parts.len()];
        begun[0] = Some(started);
        Watch {
            path,
            offset,
            partial: Vec::new(),
            parts,
            begun,
            current: 0,
        }
    }

    /// Read what the log gained and note the parts that started.
    fn poll(&mut self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut new = Vec::new();
        let Ok(read) = file.read_to_end(&mut new) else {
            return;
        };
        self.offset += read as u64;
        self.partial.extend_from_slice(&new);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            if let Some(next) =
                (self.current + 1..self.parts.len()).find(|i| line == self.parts[*i].header())
            {
                self.current = next;
                self.begun[next] = Some(Instant::now());
            }
        }
    }

    /// The running part's limit when it is over it.
    fn over(&mut self) -> Option<Duration> {
        self.poll();
        let limit = self.parts[self.current].limit;
        let since = self.begun[self.current]?;
        (since.elapsed() >= limit).then_some(limit)
    }
}

#[cfg(test)]
mod tests;
