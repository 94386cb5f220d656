//! A glibc-targeted C/C++ toolchain: Zig (`ziglang` from PyPI, a static x86_64 binary)
//! compiling for `s390x-linux-gnu.<glibc>`, so that extensions built in a newer userland
//! only use symbols of the target's glibc and reach its manylinux policy
//! (`manylinux2014` = glibc 2.17). C++ links LLVM's libc++ statically: no `libstdc++`
//! and no `GLIBCXX_*` symbol versions.
//!
//! Inside the sandbox the Zig package folder is bound read-only at [`GUEST_ZIG_DIR`], a
//! cache folder read-write at [`GUEST_ZIG_CACHE`], and small wrapper scripts under the
//! names build systems call (`s390x-linux-gnu-gcc` from the Python's sysconfig, `cc`,
//! `gcc`, `c++`, `g++`) come first on `PATH` from [`GUEST_ZIG_BIN`]. The wrappers drop
//! GCC-only flags Zig's clang rejects, and put the environment's own headers after
//! Zig's libc headers (`-idirafter /usr/include`), so Python's headers and library
//! headers of the environment are found while the C library's are the target's.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the Zig package folder (with `zig` and `lib/`) appears in the sandbox.
pub const GUEST_ZIG_DIR: &str = "/opt/refinery-zig";
/// Zig's cache in the sandbox (shared between builds; libc++ is built into it once).
pub const GUEST_ZIG_CACHE: &str = "/opt/refinery-zig-cache";
/// The wrapper scripts in the sandbox, first on `PATH`.
pub const GUEST_ZIG_BIN: &str = "/opt/refinery-zig-bin";
/// The pinned `ziglang` version `scripts/setup.sh` installs.
pub const ZIG_VERSION: &str = "0.17.0";
/// Overrides where the Zig binary is (else the `ziglang` package of the host's python3).
pub const ZIG_ENV: &str = "REFINERY_ZIG";

/// GCC-only flags Zig's clang refuses, dropped by the wrappers (`--param` also drops its
/// value when given separately).
const DROPPED_FLAGS: &[&str] = &[
    "--param=*",
    "-fstack-clash-protection",
    "-fcf-protection*",
    "-ffat-lto-objects",
    "-flto=auto",
    "-flto=jobserver",
    "-specs=*",
    "-fno-semantic-interposition",
    "-Wl,-Bsymbolic-functions",
    "-mtune=*",
    "-march=*",
];

/// Names the wrappers take, and whether each is the C++ driver.
const WRAPPER_NAMES: &[(&str, bool)] = &[
    ("s390x-linux-gnu-gcc", false),
    ("s390x-linux-gnu-cc", false),
    ("gcc", false),
    ("cc", false),
    ("s390x-linux-gnu-g++", true),
    ("s390x-linux-gnu-c++", true),
    ("g++", true),
    ("c++", true),
];

/// The host's Zig, ready to be bound into sandboxes for one target glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZigToolchain {
    /// The folder with the `zig` binary and its `lib/` (bound whole).
    pub dir: PathBuf,
    /// The target glibc, e.g. (2, 17).
    pub glibc: (u16, u16),
    /// Host folder with the wrapper scripts for this glibc.
    pub wrappers: PathBuf,
    /// Host folder for Zig's cache.
    pub cache: PathBuf,
}

impl ZigToolchain {
    /// Find the host's Zig and write the wrappers for `glibc` under `work_dir`
    /// (`<cache>/zig`). Errors say what to install.
    pub fn prepare(glibc: (u16, u16), work_dir: &Path) -> Result<ZigToolchain, String> {
        let dir = locate()?;
        let wrappers = work_dir.join(format!("wrappers-{}.{}", glibc.0, glibc.1));
        let cache = work_dir.join("cache");
        for folder in [&wrappers, &cache] {
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        for (name, cxx) in WRAPPER_NAMES {
            let path = wrappers.join(name);
            let text = wrapper_script(glibc, *cxx);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                write_executable(&path, &text)?;
            }
        }
        Ok(ZigToolchain {
            dir,
            glibc,
            wrappers,
            cache,
        })
    }

    /// `zig(glibc 2.17)`, for labels and the manifest.
    pub fn label(&self) -> String {
        format!("zig(glibc {}.{})", self.glibc.0, self.glibc.1)
    }

    /// bubblewrap arguments (binds and nothing else); the caller puts
    /// [`GUEST_ZIG_BIN`] first on `PATH` and sets the cache variables ([`Self::env`]).
    pub fn bwrap_args(&self) -> Vec<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            "--ro-bind".into(),
            path(&self.dir),
            GUEST_ZIG_DIR.into(),
            "--bind".into(),
            path(&self.cache),
            GUEST_ZIG_CACHE.into(),
            "--ro-bind".into(),
            path(&self.wrappers),
            GUEST_ZIG_BIN.into(),
        ]
    }

    /// The folders the sandbox binds over (mount points to make in the rootfs).
    pub fn mount_points() -> [&'static str; 3] {
        [GUEST_ZIG_DIR, GUEST_ZIG_CACHE, GUEST_ZIG_BIN]
    }

    /// Variables the build gets: Zig's caches, and `CC`/`CXX` for build systems that do
    /// not ask Python's sysconfig.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = cache_env();
        env.extend([
            ("CC".into(), format!("{GUEST_ZIG_BIN}/s390x-linux-gnu-gcc")),
            ("CXX".into(), format!("{GUEST_ZIG_BIN}/s390x-linux-gnu-g++")),
        ]);
        env
    }
}

/// Zig's cache variables in the sandbox (also for the Rust toolchain's host linker).
pub fn cache_env() -> Vec<(String, String)> {
    vec![
        ("ZIG_GLOBAL_CACHE_DIR".into(), GUEST_ZIG_CACHE.into()),
        ("ZIG_LOCAL_CACHE_DIR".into(), GUEST_ZIG_CACHE.into()),
    ]
}

/// The `zig` package folder: `REFINERY_ZIG` (the binary), else the `ziglang` package of
/// the host's python3.
pub(crate) fn locate() -> Result<PathBuf, String> {
    if let Some(zig) = std::env::var_os(ZIG_ENV).map(PathBuf::from) {
        return zig
            .parent()
            .filter(|_| zig.is_file())
            .map(Path::to_path_buf)
            .ok_or_else(|| format!("{ZIG_ENV}={} is not a file", zig.display()));
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import ziglang, os; print(os.path.dirname(ziglang.__file__))",
        ])
        .output()
        .map_err(|e| format!("cannot run python3 to find Zig: {e}"))?;
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if output.status.success() && dir.join("zig").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "no Zig for glibc-targeted builds.\nhint: python3 -m pip install ziglang=={ZIG_VERSION} (or set {ZIG_ENV} to a zig binary)"
        ))
    }
}

/// The wrapper: a POSIX shell script run by the environment's `/bin/sh`.
fn wrapper_script(glibc: (u16, u16), cxx: bool) -> String {
    let driver = if cxx { "c++" } else { "cc" };
    let patterns = DROPPED_FLAGS.join("|");
    format!(
        r#"#!/bin/sh
# refinery: Zig {driver} for s390x-linux-gnu with glibc {major}.{minor} (drops GCC-only flags).
skip=
for arg do
  shift
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$arg" in
    --param) skip=1; continue ;;
    {patterns}) continue ;;
  esac
  set -- "$@" "$arg"
done
exec {GUEST_ZIG_DIR}/zig {driver} -target s390x-linux-gnu.{major}.{minor} "$@" -idirafter /usr/include -idirafter /usr/include/s390x-linux-gnu
"#,
        major = glibc.0,
        minor = glibc.1,
    )
}

/// Write `text` to `path` with mode 0755, through a temporary file and a rename (a build
/// running at the same time sees the old or the new script, never half of one).
pub(crate) fn write_executable(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Whether a failed build log looks like the glibc-targeted compiler's fault rather than
/// the package's: clang or lld refusing an option or an input that GCC takes. The next
/// attempt then uses the gcc cross (`gcc-cross` variant).
pub fn looks_zig_related(log: &str) -> bool {
    const SIGNS: &[&str] = &[
        "clang: error: unknown argument",
        "clang: error: unsupported option",
        "clang: error: no such file or directory: '-",
        "error: unsupported linker arg",
        "ld.lld: error: unknown argument",
        "ld.lld: error: unable to find library",
        "ld.lld: error: relocation r_390",
        "error: unable to create compilation",
        "zig: error",
    ];
    let lower = log.to_lowercase();
    SIGNS.iter().any(|s| lower.contains(s))
}

/// The glibc version of the root filesystem at `root`, from dpkg's record of `libc6`.
pub fn rootfs_glibc(root: &Path) -> Option<(u16, u16)> {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).ok()?;
    let paragraph = status
        .split("\n\n")
        .find(|p| p.lines().any(|l| l == "Package: libc6"))?;
    let version = paragraph
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))?;
    let mut parts = version.split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_targets_the_glibc_and_drops_gcc_only_flags() {
        let script = wrapper_script((2, 17), true);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("zig c++ -target s390x-linux-gnu.2.17 \"$@\""));
        assert!(script.contains("-idirafter /usr/include"));
        // Run it with the host's sh and a fake zig that prints its arguments.
        let dir = tempfile::tempdir().unwrap();
        let fake = script.replace(GUEST_ZIG_DIR, dir.path().to_str().unwrap());
        write_executable(&dir.path().join("zig"), "#!/bin/sh\necho \"$@\"\n").unwrap();
        write_executable(&dir.path().join("wrap"), &fake).unwrap();
        let out = Command::new(dir.path().join("wrap"))
            .args([
                "-O2",
                "--param=ssp-buffer-size=4",
                "--param",
                "max-inline-insns=10",
                "-fstack-clash-protection",
                "-fcf-protection=full",
                "-I/usr/include/python3.11",
                "a b.c",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "c++ -target s390x-linux-gnu.2.17 -O2 -I/usr/include/python3.11 a b.c -idirafter /usr/include -idirafter /usr/include/s390x-linux-gnu"
        );
    }

    #[test]
    fn zig_failures_are_told_apart_from_package_failures() {
        assert!(looks_zig_related(
            "clang: error: unknown argument: '-fno-plt-gnu'"
        ));
        assert!(looks_zig_related(
            "ld.lld: error: relocation R_390_PC32DBL cannot be used against symbol 'f'"
        ));
        assert!(!looks_zig_related(
            "src/a.c:3:10: fatal error: ffi.h: No such file"
        ));
        assert!(!looks_zig_related(
            "error: command 'gcc' failed with exit code 1"
        ));
    }

    #[test]
    fn the_rootfs_glibc_comes_from_dpkg() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap();
        std::fs::write(
            dir.path().join("var/lib/dpkg/status"),
            "Package: libc-bin\nVersion: 9.9-1\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u10\n\n",
        )
        .unwrap();
        assert_eq!(rootfs_glibc(dir.path()), Some((2, 36)));
        assert_eq!(rootfs_glibc(Path::new("/nonexistent")), None);
    }
}
