//! Trees of Debian packages made with mmdebstrap for programs that run natively beside the
//! s390x environment (the Rust toolchain, a host CPython for the native frontend).

use std::path::Path;
use std::process::{Command, Stdio};

/// The mirror the trees come from (its main suite only: the `-updates` and `-security`
/// indexes of a frozen mirror may disagree between architectures).
pub const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// `mmdebstrap --variant=apt` of `packages` from Debian `suite` for `architectures`
/// (`amd64,s390x`) into `staging`, without documentation, man pages and locales. The
/// error says what the tree was for (`what`) and gives mmdebstrap's last 15 lines.
pub fn mmdebstrap(
    suite: &str,
    architectures: &str,
    packages: &[String],
    staging: &Path,
    what: &str,
) -> Result<(), String> {
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
        .map_err(|e| format!("cannot run mmdebstrap ({e}).\nhint: apt-get install mmdebstrap"))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "mmdebstrap failed ({}) making {what}:\n{}",
            output.status,
            tail.join("\n")
        ));
    }
    for docs in ["usr/share/doc", "usr/share/man", "usr/share/locale"] {
        let _ = std::fs::remove_dir_all(staging.join(docs));
    }
    Ok(())
}
