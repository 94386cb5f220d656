//! Progress on the terminal: a spinner on a TTY, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use refinery_build::Reporter;
use refinery_store::ManifestEntry;

pub struct TerminalReporter {
    bar: Option<ProgressBar>,
    quiet: bool,
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
        TerminalReporter { bar, quiet }
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
            Some(bar) => bar.set_message(message.to_string()),
            None => self.line(message),
        }
    }

    fn started(&self, name: &str, version: &str, what: &str) {
        self.message(&format!("{what} {name} {version}"));
    }

    fn finished(&self, entry: &ManifestEntry) {
        self.line(&format!(
            "{:<22} {} {}{}",
            entry.status.to_string(),
            entry.name,
            entry.version,
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
