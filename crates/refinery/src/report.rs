//! Progress on the terminal: a spinner on a TTY, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use refinery_build::Reporter;
use refinery_store::ManifestEntry;

/// `count(1, "package")` is `1 package`, `count(2, "package")` is `2 packages`.
pub fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub struct TerminalReporter {
    bar: Option<ProgressBar>,
    quiet: bool,
    counts: std::sync::Mutex<Counts>,
}

/// Packages done, failed and running, for the progress line.
#[derive(Default)]
struct Counts {
    done: usize,
    failed: usize,
    running: usize,
}

impl TerminalReporter {
    pub fn new(quiet: bool) -> TerminalReporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        TerminalReporter {
            bar,
            quiet,
            counts: std::sync::Mutex::new(Counts::default()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }
}

impl Reporter for TerminalReporter {
    fn message(&self, message: &str) {
        match &self.bar {
            Some(bar) => {
                let c = self.counts.lock().expect("counts lock");
                bar.set_message(format!(
                    "[done {} | failed {} | running {}] {message}",
                    c.done, c.failed, c.running
                ));
            }
            None => self.line(message),
        }
    }

    fn started(&self, name: &str, version: &str, what: &str) {
        self.counts.lock().expect("counts lock").running += 1;
        self.message(&format!("{what} {name} {version}"));
    }

    fn finished(&self, entry: &ManifestEntry) {
        {
            let mut c = self.counts.lock().expect("counts lock");
            if matches!(
                entry.status,
                refinery_store::Status::Built
                    | refinery_store::Status::Failed
                    | refinery_store::Status::SystemRecipeFailed
            ) {
                c.running = c.running.saturating_sub(1);
            }
            if entry.status.is_success() {
                c.done += 1;
            } else {
                c.failed += 1;
            }
        }
        self.line(&format!(
            "{:<22} {} {}{}",
            entry.status.to_string(),
            entry.name,
            entry.version_str(),
            if entry.status.is_success() {
                String::new()
            } else {
                format!(": {}", entry.detail)
            }
        ));
    }
}

impl Drop for TerminalReporter {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
