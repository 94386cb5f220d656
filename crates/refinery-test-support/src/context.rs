//! [`TestContext`]: the real binary in a private folder, and its output as snapshot text.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use regex::Regex;
use tempfile::TempDir;

/// Variables of the caller's environment that change what `refinery` does; removed from every
/// command so a developer's settings never leak into a test.
const CLEARED_VARS: &[&str] = &[
    "INDEX_URL",
    "EXTRA_INDEX_URL",
    "INDEX_USERNAME",
    "INDEX_PASSWORD",
    "REQUIREMENTS_PATH",
    "CONSTRAINTS_PATH",
    "PLAN_OVERRIDES_JSON",
    "MAX_DEPS",
    "HISTORY_DB",
    "DATABASE_URL",
    "REFINERY_LOG",
    "REFINERY_SERVER",
    "WORKER_TOKEN",
    "READ_TOKEN",
    "AUTO_PLAN",
    "AUTO_BUILD",
];

/// A private folder (`input/`, `cache/`, `output/` inside it) and the `refinery` binary.
///
/// Commands run with [`CLEARED_VARS`] removed, `REFINERY_ENVS_DIR` pointing at a folder that
/// does not exist (so nothing creates an s390x environment by accident) and a fixed terminal
/// width of 100 columns (so `--help` wraps the same everywhere).
pub struct TestContext {
    root: TempDir,
    binary: PathBuf,
    filters: Vec<(Regex, String)>,
}

impl TestContext {
    /// A context for `binary`: in an integration test of the `refinery` crate,
    /// `TestContext::new(env!("CARGO_BIN_EXE_refinery"))`.
    ///
    /// # Panics
    /// When no temporary folder can be made.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        let root = tempfile::tempdir().expect("a temporary folder for the test");
        for dir in ["input", "cache", "output"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("test folders");
        }
        let mut context = Self {
            root,
            binary: binary.into(),
            filters: Vec::new(),
        };
        let root_text = context.root.path().display().to_string();
        context.filter(&regex::escape(&root_text), "[TEMP]");
        // Hosts with an ephemeral port: local test indexes and servers.
        context.filter(r"(127\.0\.0\.1|localhost):\d{2,5}", "$1:[PORT]");
        // sha256 digests (files, plan ids are shorter and filtered below).
        context.filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
        // Plan ids: 16 hex digits.
        context.filter(r"\b[0-9a-f]{16}\b", "[PLAN_ID]");
        // RFC 3339 times and durations printed by the run's summary.
        context.filter(
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[TIME]",
        );
        context.filter(r"\b\d+(\.\d+)? ?(ms|s)\b", "[DURATION]");
        context
    }

    /// Replace every match of `pattern` (a regex) by `replacement` (`$1` refers to groups) in
    /// [`TestContext::render`]'s text. Filters apply in the order they were added.
    ///
    /// # Panics
    /// When `pattern` is not a valid regex.
    pub fn filter(&mut self, pattern: &str, replacement: &str) -> &mut Self {
        let regex = Regex::new(pattern).expect("a valid filter regex");
        self.filters.push((regex, replacement.to_string()));
        self
    }

    /// The private folder.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `<root>/input`: where tests put wheels, sdists and `requirements.txt`.
    pub fn input(&self) -> PathBuf {
        self.root.path().join("input")
    }

    /// `<root>/cache`: the run's `--cache`.
    pub fn cache(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    /// `<root>/output`: the run's `--output`.
    pub fn output(&self) -> PathBuf {
        self.root.path().join("output")
    }

    /// The binary with `args`, in the private folder, with the clean environment described on
    /// [`TestContext`].
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.binary);
        command.args(args).current_dir(self.root.path());
        for name in CLEARED_VARS {
            command.env_remove(name);
        }
        command
            .env("REFINERY_ENVS_DIR", self.root.path().join("no-envs"))
            .env("COLUMNS", "100")
            .env("NO_COLOR", "1");
        command
    }

    /// Run the binary with `args` and wait for it.
    ///
    /// # Panics
    /// When the binary cannot be started.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args)
            .output()
            .expect("the refinery binary starts")
    }

    /// `output` as snapshot text: `success`, `exit_code`, then stdout and stderr under their
    /// own headings, each filtered (see [`TestContext::filter`]).
    pub fn render(&self, output: &Output) -> String {
        let code = output
            .status
            .code()
            .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
        format!(
            "success: {}\nexit_code: {code}\n----- stdout -----\n{}\n----- stderr -----\n{}\n",
            output.status.success(),
            self.apply(&String::from_utf8_lossy(&output.stdout)),
            self.apply(&String::from_utf8_lossy(&output.stderr)),
        )
    }

    /// `text` with every filter applied (for snapshots of files the run wrote).
    pub fn apply(&self, text: &str) -> String {
        self.filters
            .iter()
            .fold(text.to_string(), |text, (regex, replacement)| {
                regex.replace_all(&text, replacement.as_str()).into_owned()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::TestContext;

    #[test]
    fn filters_replace_the_private_folder_ports_digests_and_times() {
        let context = TestContext::new("/bin/true");
        let text = format!(
            "{}/cache at http://127.0.0.1:41234/simple sha {} plan 0123456789abcdef at \
             2026-11-30T13:07:34.123Z took 12.5 s",
            context.root().display(),
            "ab".repeat(32)
        );
        assert_eq!(
            context.apply(&text),
            "[TEMP]/cache at http://127.0.0.1:[PORT]/simple sha [SHA256] plan [PLAN_ID] at \
             [TIME] took [DURATION]"
        );
    }

    #[test]
    fn render_names_the_status_and_both_streams() {
        let context = TestContext::new("/bin/sh");
        let output = context.run(["-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(
            context.render(&output),
            "success: false\nexit_code: 3\n----- stdout -----\nout\n\n----- stderr -----\nerr\n\n"
        );
    }

    #[test]
    fn commands_run_without_the_callers_index_settings() {
        // No other test of this crate reads INDEX_URL, so setting it here races with nothing.
        std::env::set_var("INDEX_URL", "https://user:secret@example.invalid/simple");
        let context = TestContext::new("/bin/sh");
        let output = context.run(["-c", "echo ${INDEX_URL:-unset} $COLUMNS"]);
        assert_eq!(String::from_utf8_lossy(&output.stdout), "unset 100\n");
    }
}
