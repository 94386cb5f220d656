//! Stripping at repair. auditwheel's `--strip` runs `strip -s FILE` from `PATH` on every
//! ELF file it repairs and every library it grafts (auditwheel 6.8.2, `repair.py`,
//! `strip_symbols`, in the unpacked wheel's folder). The refinery puts its own `strip`
//! first on that `PATH`: the binutils that know s390x files (an x86_64 host's `strip`
//! does not), removing debug information only (`--strip-debug`): the symbol table stays,
//! so gdb, perf and py-spy still name the functions, while the bulk goes (setuptools
//! compiles with the interpreter's `-g`: grpcio 1.85.3's `cygrpc` is 268 MB with it).

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The `PATH` for auditwheel (`path`, a `PATH` value) with a folder in the attempt's
/// `dir` first whose `strip` removes debug information with the host's strip for s390x
/// files (see [`crate::host_tools::s390x_strip`]).
///
/// # Errors
/// A message for the log and the attempt: the host has no strip for s390x files (naming
/// the Debian package to install, or `--no-strip`), or the folder cannot be written.
pub(super) fn path_with_strip(path: &OsStr, dir: &Path) -> Result<OsString, String> {
    let strip = crate::host_tools::s390x_strip(path).ok_or_else(|| {
        let package = if std::env::consts::ARCH == "s390x" {
            "binutils"
        } else {
            "binutils-s390x-linux-gnu"
        };
        format!(
            "no strip for s390x ELF files on this host to remove the wheel's debug information: install {package}, or keep it with --no-strip (REFINERY_STRIP=false)"
        )
    })?;
    let cannot = |e: std::io::Error| format!("cannot set up strip for auditwheel: {e}");
    // auditwheel runs strip from the unpacked wheel's folder: a relative entry would miss.
    let strip = std::path::absolute(strip).map_err(cannot)?;
    let tools = std::path::absolute(dir.join("strip-tool")).map_err(cannot)?;
    fs_err::create_dir_all(&tools).map_err(cannot)?;
    let script = format!(
        "#!/bin/sh\n# auditwheel repair --strip runs `strip -s FILE`: debug information only.\nif [ \"$1\" = -s ]; then shift; fi\nexec {} --strip-debug \"$@\"\n",
        shell_quote(&strip.to_string_lossy())
    );
    let wrapper = tools.join("strip");
    fs_err::write(&wrapper, script).map_err(cannot)?;
    fs_err::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(cannot)?;
    std::env::join_paths(std::iter::once(tools).chain(std::env::split_paths(path)))
        .map_err(|e| format!("cannot put {} on PATH for auditwheel: {e}", dir.display()))
}

/// `text` as one word of a POSIX shell command line.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strip_on_auditwheels_path_removes_debug_information_only() {
        let dir = tempfile::tempdir().unwrap();
        let cross = dir.path().join("bin dir");
        std::fs::create_dir_all(&cross).unwrap();
        // A stand-in for the binutils strip that records its arguments.
        let name = if std::env::consts::ARCH == "s390x" {
            "strip"
        } else {
            "s390x-linux-gnu-strip"
        };
        let args_file = dir.path().join("args");
        std::fs::write(
            cross.join(name),
            format!("#!/bin/sh\necho \"$@\" > '{}'\n", args_file.display()),
        )
        .unwrap();
        std::fs::set_permissions(
            cross.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let attempt = dir.path().join("attempt");
        let path = path_with_strip(&std::env::join_paths([&cross]).unwrap(), &attempt).unwrap();
        let first = std::env::split_paths(&path).next().unwrap();
        assert!(first.is_absolute(), "{first:?}");
        // As auditwheel calls it.
        let status = std::process::Command::new("strip")
            .args(["-s", "pkg/_ext.so"])
            .env("PATH", &path)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            std::fs::read_to_string(&args_file).unwrap().trim(),
            "--strip-debug pkg/_ext.so"
        );

        // No strip for s390x files: an error that says what to install.
        let err = path_with_strip(OsStr::new("/nonexistent"), &attempt).unwrap_err();
        assert!(
            err.contains("install binutils") && err.contains("--no-strip"),
            "{err}"
        );
    }
}
