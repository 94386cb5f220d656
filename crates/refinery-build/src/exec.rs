//! Run a process with its output captured line by line into a size-capped log, and
//! kill its whole process group at the timeout or when asked to stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Logs bigger than this are cut, with a note, so a chatty build cannot fill the disk.
pub const DEFAULT_LOG_CAP: u64 = 16 * 1024 * 1024;

/// An attempt's log file, shared by the steps of the attempt.
#[derive(Clone)]
pub struct Log {
    path: PathBuf,
    inner: Arc<Mutex<LogInner>>,
}

struct LogInner {
    file: std::fs::File,
    written: u64,
    cap: u64,
    truncated: bool,
    tail: Vec<String>,
}

const TAIL_LINES: usize = 40;

impl Log {
    pub fn create(path: &Path, cap: u64) -> std::io::Result<Log> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::create(path)?;
        Ok(Log {
            path: path.to_path_buf(),
            inner: Arc::new(Mutex::new(LogInner {
                file,
                written: 0,
                cap,
                truncated: false,
                tail: Vec::new(),
            })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one line (a newline is added).
    pub fn line(&self, line: &str) {
        let mut inner = self.inner.lock().expect("log lock");
        inner.tail.push(line.to_string());
        if inner.tail.len() > TAIL_LINES {
            inner.tail.remove(0);
        }
        if inner.truncated {
            return;
        }
        let bytes = line.len() as u64 + 1;
        if inner.written + bytes > inner.cap {
            inner.truncated = true;
            let cap = inner.cap;
            let _ = writeln!(
                inner.file,
                "[refinery] log cut at {cap} bytes; the rest of the output was dropped"
            );
            return;
        }
        inner.written += bytes;
        let _ = writeln!(inner.file, "{line}");
    }

    /// The last lines written, for error messages and hint matching.
    pub fn tail(&self) -> Vec<String> {
        self.inner.lock().expect("log lock").tail.clone()
    }

    /// The whole log text (up to the cap), for hint matching.
    pub fn read_all(&self) -> String {
        let _ = self.inner.lock().expect("log lock").file.flush();
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed(String),
    TimedOut(Duration),
    /// `stop` was set (a cancelled job, a lost lease): the process group was killed.
    Stopped,
}

/// Run `cmd`, logging stdout and stderr, killing the process group at `timeout` or as
/// soon as `stop` is set.
pub fn run_logged(
    cmd: Command,
    log: &Log,
    timeout: Option<Duration>,
    stop: Option<&AtomicBool>,
) -> std::io::Result<Outcome> {
    let mut over = |elapsed: Duration| timeout.filter(|limit| elapsed >= *limit);
    run_logged_until(cmd, log, &mut over, stop)
}

/// [`run_logged`] with a limit that may change while the process runs: `over` is asked
/// about every 50 ms with the time since the start and returns the limit that is
/// exceeded now (the process group is killed, [`Outcome::TimedOut`] with that limit), or
/// `None` to go on. Verification uses it to give each check in one interpreter its own
/// limit.
pub fn run_logged_until(
    cmd: Command,
    log: &Log,
    over: &mut dyn FnMut(Duration) -> Option<Duration>,
    stop: Option<&AtomicBool>,
) -> std::io::Result<Outcome> {
    spawn_logged(cmd, log, Stdio::null())?.wait_until(log, over, stop)
}

/// A process started by [`spawn_logged`]: its lines go to the log while it runs, until
/// [`Running::wait_until`] sees it end or [`Running::cancel`] kills it.
pub struct Running {
    child: std::process::Child,
    pid: u32,
    pumps: Vec<std::thread::JoinHandle<()>>,
}

/// Start `cmd` in its own process group with `stdin`, its stdout and stderr logged line
/// by line into `log` from now on. Errors: the process cannot be started.
pub fn spawn_logged(mut cmd: Command, log: &Log, stdin: Stdio) -> std::io::Result<Running> {
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let pumps: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                let text = String::from_utf8_lossy(&buf);
                log.line(text.trim_end_matches(['\n', '\r']));
                buf.clear();
            }
        })
    })
    .collect();
    Ok(Running { child, pid, pumps })
}

impl Running {
    /// The process's standard input, when it was started with a piped one (once).
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// The process's id, which is also its process group's.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has ended already.
    pub fn has_ended(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait for the process as [`run_logged_until`] does, `over` timed from now. Errors:
    /// the process's status cannot be read.
    pub fn wait_until(
        mut self,
        log: &Log,
        over: &mut dyn FnMut(Duration) -> Option<Duration>,
        stop: Option<&AtomicBool>,
    ) -> std::io::Result<Outcome> {
        let started = Instant::now();
        let outcome = loop {
            if let Some(status) = self.child.try_wait()? {
                break if status.success() {
                    Outcome::Success
                } else {
                    Outcome::Failed(status.to_string())
                };
            }
            if let Some(limit) = over(started.elapsed()) {
                kill_group(self.pid);
                let _ = self.child.wait();
                log.line(&format!(
                    "[refinery] killed after {}s (attempt timeout)",
                    limit.as_secs()
                ));
                break Outcome::TimedOut(limit);
            }
            if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                kill_group(self.pid);
                let _ = self.child.wait();
                log.line("[refinery] stopped: the job was cancelled or its lease lost");
                break Outcome::Stopped;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.finish();
        Ok(outcome)
    }

    /// Kill the process group and wait for it, logging nothing of its own.
    pub fn cancel(mut self) {
        kill_group(self.pid);
        let _ = self.child.wait();
        self.finish();
    }

    fn finish(self) {
        // Leftover processes that kept the pipes open must not outlive the attempt.
        kill_group(self.pid);
        for pump in self.pumps {
            let _ = pump.join();
        }
    }
}

/// SIGKILL the whole process group (the child was made its leader).
pub(crate) fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The text of the log at `path` from byte `offset` on (lossy UTF-8, at most
/// [`DEFAULT_LOG_CAP`] bytes; empty when unreadable): what one step wrote into a log
/// that several steps share.
pub(crate) fn read_log_from(path: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.take(DEFAULT_LOG_CAP).read_to_end(&mut text);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_streams_are_logged_and_the_exit_status_reported() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::create(&dir.path().join("a.log"), DEFAULT_LOG_CAP).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hello; echo oops >&2; exit 3"]);
        let outcome = run_logged(cmd, &log, None, None).unwrap();
        assert!(
            matches!(outcome, Outcome::Failed(ref s) if s.contains('3')),
            "{outcome:?}"
        );
        let text = log.read_all();
        assert!(text.contains("hello") && text.contains("oops"), "{text}");
    }

    #[test]
    fn a_flood_is_cut_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::create(&dir.path().join("a.log"), 100).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "yes line | head -n 1000"]);
        assert_eq!(run_logged(cmd, &log, None, None).unwrap(), Outcome::Success);
        let text = log.read_all();
        assert!(text.contains("log cut at 100 bytes"), "{text}");
        assert!(text.len() < 200, "{}", text.len());
        assert_eq!(
            log.tail().len(),
            TAIL_LINES,
            "the tail keeps the last lines even past the cap"
        );
    }

    /// A shell whose grandchild writes its pid to `pid_file`, then everything sleeps.
    fn process_tree(pid_file: &Path) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "sh -c 'echo $$ > {}; exec sleep 60' & while [ ! -s {} ]; do sleep 0.05; done; sleep 60",
            pid_file.display(),
            pid_file.display()
        ));
        cmd
    }

    fn assert_gone(pid_file: &Path) {
        let pid = std::fs::read_to_string(pid_file)
            .unwrap()
            .trim()
            .to_string();
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        // The grandchild was SIGKILLed; give init a moment to reap it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!proc_dir.exists(), "grandchild {pid} survived");
    }

    #[test]
    fn timeout_kills_the_whole_process_tree() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let log = Log::create(&dir.path().join("t.log"), DEFAULT_LOG_CAP).unwrap();
        let cmd = process_tree(&pid_file);
        let outcome = run_logged(cmd, &log, Some(Duration::from_millis(500)), None).unwrap();
        assert!(matches!(outcome, Outcome::TimedOut(_)));
        assert_gone(&pid_file);
        assert!(log.read_all().contains("attempt timeout"));
    }

    #[test]
    fn stop_kills_the_whole_process_tree_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let log = Log::create(&dir.path().join("t.log"), DEFAULT_LOG_CAP).unwrap();
        let stop = AtomicBool::new(false);
        let outcome = std::thread::scope(|scope| {
            scope.spawn(|| {
                // Stop once the whole tree is up.
                while std::fs::read_to_string(&pid_file).map_or(true, |t| t.trim().is_empty()) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                stop.store(true, Ordering::SeqCst);
            });
            run_logged(process_tree(&pid_file), &log, None, Some(&stop)).unwrap()
        });
        assert_eq!(outcome, Outcome::Stopped);
        assert_gone(&pid_file);
        assert!(log.read_all().contains("[refinery] stopped"));
    }
}
