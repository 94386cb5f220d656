//! Trees of Debian packages made with mmdebstrap for programs that run natively beside the
//! s390x environment (the Rust toolchain, a host CPython for the native frontend).

use std::path::Path;
use std::process::{Command, Stdio};

/// The mirror the trees come from (its main suite only: the `-updates` and `-security`
/// indexes of a frozen mirror may disagree between architectures).
pub const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Why mmdebstrap could not make a tree.
#[derive(Debug, thiserror::Error)]
pub enum DebianTreeError {
    /// mmdebstrap could not be started (not installed).
    #[error("cannot run mmdebstrap ({source}).\nhint: apt-get install mmdebstrap")]
    Run {
        #[source]
        source: std::io::Error,
    },
    /// mmdebstrap failed making `what`; `tail` is its last 15 lines of stderr.
    #[error("mmdebstrap failed ({status}) making {what}:\n{tail}")]
    Failed {
        status: std::process::ExitStatus,
        what: String,
        tail: String,
    },
}

/// `mmdebstrap --variant=apt` of `packages` from Debian `suite` for `architectures`
/// (`amd64,s390x`) into `staging`, without documentation, man pages and locales. The
/// error says what the tree was for (`what`) and gives mmdebstrap's last 15 lines.
///
/// # Errors
/// [`DebianTreeError`]: mmdebstrap missing, or failed.
pub fn mmdebstrap(
    suite: &str,
    architectures: &str,
    packages: &[String],
    staging: &Path,
    what: &str,
) -> Result<(), DebianTreeError> {
    let output = Command::new("mmdebstrap")
        .args(["--variant=apt", &format!("--architectures={architectures}")])
        .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
        .arg(format!("--include={}", packages.join(",")))
        .arg(suite)
        .arg(staging)
        .arg(DEBIAN_MIRROR)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| DebianTreeError::Run { source })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(DebianTreeError::Failed {
            status: output.status,
            what: what.to_string(),
            tail: tail.join("\n"),
        });
    }
    for docs in ["usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let _ = std::fs::remove_dir_all(staging.join(docs));
    }
    Ok(())
}
