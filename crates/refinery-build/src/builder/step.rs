//! Running one step of an attempt and reading what it left: the step's outcome as an
//! [`AttemptFailure`] (with the log's most telling error line), the wheel it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{AttemptFailure, AttemptSettings, Stage};
use crate::exec::{run_logged, Log, Outcome};

pub(super) fn run_step(
    cmd: Command,
    log: &Log,
    settings: &AttemptSettings,
    stage: Stage,
) -> Result<(), AttemptFailure> {
    let failure = |message: String| AttemptFailure::at(stage, message);
    match run_logged(cmd, log, settings.timeout, settings.stop.as_deref()) {
        Ok(Outcome::Success) => Ok(()),
        Ok(Outcome::Failed(status)) => {
            if stage == Stage::Build && crate::compile_jobs::killed_by_sigkill(&status) {
                // The catalog's out-of-memory entry matches this line.
                log.line(&format!(
                    "[refinery] the build step was killed by SIGKILL ({status}), most likely by the out-of-memory killer"
                ));
            }
            Err(failure(format!(
                "{stage} failed ({status}): {}",
                last_error_line(log)
            )))
        }
        Ok(Outcome::TimedOut(limit)) => Err(AttemptFailure {
            timed_out: true,
            ..failure(format!("{stage} timed out after {}s", limit.as_secs()))
        }),
        Ok(Outcome::Stopped) => Err(AttemptFailure {
            stopped: true,
            ..failure(format!("cancelled during the {stage} step"))
        }),
        Err(e) => Err(failure(format!("cannot start the {stage} step: {e}"))),
    }
}

/// The most telling line of a failed step: the last one that looks like an error.
fn last_error_line(log: &Log) -> String {
    let tail = log.tail();
    tail.iter()
        .rev()
        .find(|l| {
            let lower = l.to_lowercase();
            lower.contains("error") || lower.contains("fatal") || lower.contains("not found")
        })
        .or_else(|| tail.last())
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

pub(super) fn single_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
