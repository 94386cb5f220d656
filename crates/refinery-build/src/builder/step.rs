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
    // Only the build step's failures are read for out-of-memory kills.
    let oom_counter = (stage == Stage::Build).then(crate::host_memory::oom_kill_counter);
    let oom_kills_before = oom_counter
        .as_deref()
        .and_then(crate::host_memory::read_oom_kills);
    match run_logged(cmd, log, settings.timeout, settings.stop.as_deref()) {
        Ok(Outcome::Success) => Ok(()),
        Ok(Outcome::Failed(status)) => {
            // The catalog's out-of-memory entry matches both lines.
            if stage == Stage::Build && crate::compile_jobs::killed_by_sigkill(&status) {
                log.line(&format!(
                    "[refinery] the build step was killed by SIGKILL ({status}), most likely by the out-of-memory killer"
                ));
            }
            if let Some(counter) = &oom_counter {
                let after = crate::host_memory::read_oom_kills(counter);
                if let Some(line) = oom_kills_line(counter, oom_kills_before, after) {
                    log.line(&line);
                }
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

/// The log line for out-of-memory kills while a failed build step ran (`before` and
/// `after`: the `oom_kill` line of `counter`, see
/// [`crate::host_memory::oom_kill_counter`]), or `None` when there were none. A compiler
/// killed under `make` or `ninja` fails the step with an ordinary status, and `zig c++`
/// aborts without a message when its clang child is killed: the counter is what shows it.
/// It counts the refinery's cgroup (the machine where it has none), so a kill in a build
/// beside this one shows here too; a retry with fewer compilers suits both.
fn oom_kills_line(counter: &Path, before: Option<u64>, after: Option<u64>) -> Option<String> {
    let (before, after) = (before?, after?);
    let killed = after.checked_sub(before).filter(|n| *n > 0)?;
    let plural = if killed == 1 { "" } else { "es" };
    Some(format!(
        "[refinery] the kernel's out-of-memory killer ended {killed} process{plural} while the build step ran (oom_kill in {}: {before} → {after})",
        counter.display()
    ))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::oom_kills_line;

    #[test]
    fn out_of_memory_kills_during_the_step_get_a_line_the_hint_matches() {
        let vmstat = Path::new("/proc/vmstat");
        let line = oom_kills_line(vmstat, Some(2), Some(3)).unwrap();
        assert_eq!(
            line,
            "[refinery] the kernel's out-of-memory killer ended 1 process while the build step ran (oom_kill in /proc/vmstat: 2 → 3)"
        );
        let catalog = crate::hints::Catalog::builtin();
        let ids: Vec<&str> = catalog
            .matches(&line)
            .iter()
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(ids, ["out-of-memory"]);
        let cgroup = Path::new("/sys/fs/cgroup/memory/memory.oom_control");
        let line = oom_kills_line(cgroup, Some(2), Some(4)).unwrap();
        assert!(line.contains("2 processes") && line.contains("memory.oom_control: 2 → 4"));
        assert_eq!(oom_kills_line(vmstat, Some(3), Some(3)), None);
        assert_eq!(oom_kills_line(vmstat, None, Some(3)), None);
        assert_eq!(oom_kills_line(vmstat, Some(3), None), None);
    }
}
