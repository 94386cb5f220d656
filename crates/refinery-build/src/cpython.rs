//! CPython built from a Debian source package into an environment, for Pythons whose
//! Debian release no longer has s390x binaries on the reachable mirrors (3.9: bullseye's
//! s390x port left deb.debian.org with its move to LTS, its sources did not).
//!
//! The interpreter is built inside the new environment itself (a bookworm rootfs with the
//! `-dev` libraries its modules link): configure and make run emulated, the compiler is
//! the host's s390x cross gcc when the host has one (as for package builds, see
//! [`crate::accelerate`]), else the rootfs's own gcc, emulated. It goes to `/usr/local`
//! with `make altinstall`, so the suite's own `python3` (which apt's hooks use) stays.
//!
//! Sources: the `.dsc` is pinned by sha256; the `.orig` and `.debian` tarballs are checked
//! against the sha256 sums the `.dsc` lists. Of Debian's patches, the upstream fixes
//! (security backports, named `NNNN-….patch` or `CVE-….patch` in `debian/patches/series`)
//! are applied with no fuzz; Debian's layout patches (`deb-*`, `multiarch`,
//! `ensurepip-disabled`, …) are not, as they assume Debian's own packaging of the stdlib.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exec::{run_logged, Log, Outcome, DEFAULT_LOG_CAP};
use crate::runner::{BwrapRunner, Mount, RunSpec, Runner};
use crate::Reporter;

/// Where the interpreter is installed inside the environment.
pub const PREFIX: &str = "/usr/local";
/// Where the work folder appears in the build steps.
const GUEST_WORK: &str = "/build";

/// Debian packages the environment needs besides the base ones: the libraries the
/// standard library's extension modules link (`_ssl`, `_ctypes`, `zlib`, `_sqlite3`,
/// `_bz2`, `_lzma`, `readline`, `_curses`, `_dbm`/`_gdbm`, `_uuid`, `pyexpat`), and the
/// tools that unpack and patch the source.
pub const BUILD_PACKAGES: &[&str] = &[
    "libssl-dev",
    "libffi-dev",
    "zlib1g-dev",
    "libsqlite3-dev",
    "libbz2-dev",
    "liblzma-dev",
    "libreadline-dev",
    "libncurses-dev",
    "libgdbm-dev",
    "libgdbm-compat-dev",
    "uuid-dev",
    "libexpat1-dev",
    "xz-utils",
    "patch",
];

/// Build commands, run in the unpacked and patched source folder with `$JOBS` set. The
/// recipe hash covers this text, so changing it makes a new environment.
///
/// The compiler flags are Debian's own (`dpkg-buildflags` on bookworm), which its
/// Pythons hand on to every extension build: `-fstack-protector-strong` among them makes
/// even an extension that calls no libc function reference `__stack_chk_fail`, so that it
/// links `libc.so.6` and auditwheel can tell its libc (else "couldn't detect libc").
///
/// `make altinstall` installs `python3.9` (never `python3`) and pip through `ensurepip`.
/// That pip (20.2.3) predates `pip --python` and PEP 600 tags, so [`WHEELS`] (fetched
/// before into `$DOWNLOADS`) then replace it offline.
const BUILD_SCRIPT: &str = r#"set -e
./configure --prefix=/usr/local --with-ensurepip=install --enable-ipv6 \
    CFLAGS="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security" \
    LDFLAGS="-Wl,-z,relro" \
    --with-system-expat --with-system-ffi --with-computed-gotos --with-dbmliborder=gdbm:bdb
make -j"$JOBS"
make altinstall
"/usr/local/bin/python$PYTHON" -m pip install --no-index --disable-pip-version-check \
    --no-warn-script-location --upgrade "$DOWNLOADS"/*.whl
"#;

/// The packaging tools the interpreter gets, pinned by sha256: the releases bookworm's
/// Python has (pip 23.0.1, setuptools 66.1.1, wheel 0.38.4, which builds without
/// isolation need for `bdist_wheel`), as PyPI ships them. Not Debian's
/// `/usr/share/python-wheels`: its setuptools expects Debian's patched distutils
/// (`AttributeError: install_layout` on an upstream CPython).
pub const WHEELS: &[(&str, &str)] = &[
    (
        "https://files.pythonhosted.org/packages/07/51/2c0959c5adf988c44d9e1e0d940f5b074516ecc87e96b1af25f59de9ba38/pip-23.0.1-py3-none-any.whl",
        "236bcb61156d76c4b8a05821b988c7b8c35bf0da28a4b614e8d6ab5212c25c6f",
    ),
    (
        "https://files.pythonhosted.org/packages/c2/8b/abb577ca6ab2c71814d535b1ed1464c5f4aaefe1a31bbeb85013eb9b2401/setuptools-66.1.1-py3-none-any.whl",
        "6f590d76b713d5de4e49fe4fbca24474469f53c83632d5d0fd056f7ff7e8112b",
    ),
    (
        "https://files.pythonhosted.org/packages/bd/7c/d38a0b30ce22fc26ed7dbc087c6d00851fb3395e9d0dac40bec1f905030c/wheel-0.38.4-py3-none-any.whl",
        "b60533f3f5d530e971d6737ca6d58681ee434818fab630c83a734bb10c083ce8",
    ),
];

/// Modules a finished interpreter must import: the ones builds and users rely on whose
/// absence a build would only discover later (each links a library or is built apart).
/// `setuptools` comes first: it refuses to load after the stdlib's `distutils` (which
/// `pip` imports) with an `AssertionError` in `_distutils_hack`.
pub const REQUIRED_MODULES: &[&str] = &[
    "setuptools",
    "ssl",
    "ctypes",
    "zlib",
    "sqlite3",
    "_decimal",
    "bz2",
    "lzma",
    "readline",
    "uuid",
    "pyexpat",
    "_hashlib",
    "venv",
    "ensurepip",
    "pip",
];

/// One CPython source package: what the environment's interpreter is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePython {
    /// Debian's version of the source package, e.g. `3.9.2-1+deb11u7`.
    pub debian_version: String,
    /// The `.dsc` file's URL.
    pub dsc_url: String,
    /// Its sha256 (pinned here; it lists the sums of the tarballs).
    pub dsc_sha256: String,
    /// The folder the `.orig` tarball unpacks to.
    pub folder: String,
    /// sha256 (first 12 hex digits) of the build commands and [`WHEELS`].
    pub build: String,
}

impl SourcePython {
    /// CPython 3.9 from bullseye's security updates (served from debian-security's pool).
    pub fn cpython_3_9() -> SourcePython {
        SourcePython {
            debian_version: "3.9.2-1+deb11u7".into(),
            dsc_url: "https://deb.debian.org/debian-security/pool/updates/main/p/python3.9/python3.9_3.9.2-1+deb11u7.dsc".into(),
            dsc_sha256: "dae824dd38ae9524f4d715c0cb2e144c9de20bb4f077194a132eac1475ebae85".into(),
            folder: "Python-3.9.2".into(),
            build: hex::encode(
                &Sha256::digest(
                    serde_json::to_vec(&(BUILD_SCRIPT, WHEELS)).expect("strings serialize"),
                )[..6],
            ),
        }
    }

    fn base_url(&self) -> &str {
        self.dsc_url
            .rsplit_once('/')
            .map_or(self.dsc_url.as_str(), |(base, _)| base)
    }
}

/// What is wrong with a `.dsc`'s `Checksums-Sha256` field.
#[derive(Debug, thiserror::Error)]
pub enum DscError {
    #[error("the .dsc has a malformed Checksums-Sha256 line: {line:?}")]
    MalformedLine { line: String },
    #[error("the .dsc lists {name} with a bad sha256 {sha256:?}")]
    BadSha256 { name: String, sha256: String },
    #[error("the .dsc lists a file with an unsafe name {name:?}")]
    UnsafeName { name: String },
    #[error("the .dsc lists {name} with a bad size {size:?}")]
    BadSize { name: String, size: String },
    #[error("the .dsc has no Checksums-Sha256 entries")]
    NoEntries,
}

/// Why CPython could not be fetched or built into an environment; names the URL, the
/// file or the step, and the log to read.
#[derive(Debug, thiserror::Error)]
pub enum CpythonError {
    /// The download client could not be made.
    #[error("cannot set up downloads: {source}")]
    Setup {
        #[source]
        source: refinery_index::IndexError,
    },
    /// A pinned file could not be downloaded or had other bytes.
    #[error(transparent)]
    Download(#[from] crate::packs::PackError),
    /// The `.dsc` at `url` is not usable.
    #[error("{url}: {source}")]
    Dsc {
        url: String,
        #[source]
        source: DscError,
    },
    /// The `.dsc` at `url` lists no `marker` (`.orig.tar.`, `.debian.tar.`) tarball.
    #[error("{url} lists no {marker} tarball")]
    NoTarball { url: String, marker: &'static str },
    /// A file or folder could not be used; `action` is what was tried.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// s390x code cannot run on this host.
    #[error(transparent)]
    Emulation(#[from] crate::emulation::EmulationError),
    /// The cross compilers were asked for and cannot be had.
    #[error(transparent)]
    Accelerate(#[from] crate::accelerate::AccelerateError),
    /// A build step (`what`) ended without success; `tail` is the end of its log.
    #[error("{what} failed ({outcome}):\n{tail}\nsee {}", log.display())]
    Step {
        what: &'static str,
        outcome: String,
        tail: String,
        log: PathBuf,
    },
    /// bubblewrap could not be started for the step `what`.
    #[error("cannot run bubblewrap for {what}: {source}")]
    Bwrap {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CpythonError {
    let path = path.to_path_buf();
    move |source| CpythonError::Io {
        action,
        path,
        source,
    }
}

/// A file a `.dsc` lists under `Checksums-Sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscFile {
    pub sha256: String,
    pub size: u64,
    pub name: String,
}

/// The `Checksums-Sha256` entries of a Debian source control file (Debian Policy §5.6.24:
/// one ` <sha256> <size> <name>` line each after the field name).
///
/// # Errors
/// [`DscError`] naming the line or file that is wrong.
pub fn dsc_checksums(text: &str) -> Result<Vec<DscFile>, DscError> {
    let mut files = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Checksums-Sha256:") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if !line.starts_with(' ') {
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [sha256, size, name] = fields[..] else {
            return Err(DscError::MalformedLine {
                line: line.to_string(),
            });
        };
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DscError::BadSha256 {
                name: name.to_string(),
                sha256: sha256.to_string(),
            });
        }
        if name.contains('/') || name.starts_with('.') {
            return Err(DscError::UnsafeName {
                name: name.to_string(),
            });
        }
        files.push(DscFile {
            sha256: sha256.to_ascii_lowercase(),
            size: size.parse().map_err(|_| DscError::BadSize {
                name: name.to_string(),
                size: size.to_string(),
            })?,
            name: name.to_string(),
        });
    }
    if files.is_empty() {
        return Err(DscError::NoEntries);
    }
    Ok(files)
}

/// The patches of a quilt `series` file that are upstream fixes: `NNNN-….patch` (git
/// format-patch of upstream commits) and `CVE-….patch`, in series order. Comments,
/// options after a name, and Debian's own patches are left out.
pub fn upstream_fix_patches(series: &str) -> Vec<String> {
    series
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| !name.starts_with('#') && !name.contains('/') && name.ends_with(".patch"))
        .filter(|name| {
            let numbered = name.len() > 5
                && name[..4].chars().all(|c| c.is_ascii_digit())
                && name.as_bytes()[4] == b'-';
            numbered || name.starts_with("CVE-")
        })
        .map(str::to_string)
        .collect()
}

/// Fetch `source`'s files into `dir`: the `.dsc` checked against its pinned sha256, then
/// the tarballs it lists checked against its sums, and [`WHEELS`] into
/// `dir/wheels`; `cache` keeps them for later attempts. Returns the `.orig` and `.debian`
/// tarballs.
///
/// # Errors
/// [`CpythonError`]: a download that failed or had other bytes, a bad `.dsc`.
pub fn fetch(
    source: &SourcePython,
    dir: &Path,
    cache: &Path,
) -> Result<(PathBuf, PathBuf), CpythonError> {
    let client = refinery_index::IndexClient::new(refinery_index::IndexConfig {
        index_url: String::new(),
        cache_dir: Some(cache.to_path_buf()),
        netrc_path: Some(PathBuf::new()),
        retries: 3,
        ..Default::default()
    })
    .map_err(|source| CpythonError::Setup { source })?;
    for (url, sha256) in WHEELS {
        crate::packs::fetch_source(&client, url, sha256, &dir.join("wheels"))?;
    }
    let dsc = crate::packs::fetch_source(&client, &source.dsc_url, &source.dsc_sha256, dir)?;
    let text = std::fs::read_to_string(&dsc).map_err(io("read", &dsc))?;
    let files = dsc_checksums(&text).map_err(|source_error| CpythonError::Dsc {
        url: source.dsc_url.clone(),
        source: source_error,
    })?;
    let pick = |marker: &'static str| -> Result<PathBuf, CpythonError> {
        let file = files
            .iter()
            .find(|f| f.name.contains(marker))
            .ok_or_else(|| CpythonError::NoTarball {
                url: source.dsc_url.clone(),
                marker,
            })?;
        let url = format!("{}/{}", source.base_url(), file.name);
        Ok(crate::packs::fetch_source(
            &client,
            &url,
            &file.sha256,
            dir,
        )?)
    };
    Ok((pick(".orig.tar.")?, pick(".debian.tar.")?))
}

/// Build `source` into the environment at `root` (a staging folder, not yet trusted) for
/// CPython `python` (X.Y); its output goes to `log_path`. `work` is a scratch folder,
/// removed by the caller; `cache` keeps the downloads.
///
/// # Errors
/// [`CpythonError`]: a download, the sandbox, or a build step that failed (naming the log).
pub fn build_into(
    source: &SourcePython,
    python: &str,
    root: &Path,
    work: &Path,
    cache: &Path,
    log_path: &Path,
    reporter: &dyn Reporter,
) -> Result<(), CpythonError> {
    std::fs::create_dir_all(work.join("home")).map_err(io("create", work))?;
    reporter.message(&format!(
        "fetching the CPython source package {} (python{python}) from Debian",
        source.debian_version
    ));
    let (orig, debian) = fetch(source, &work.join("downloads"), cache)?;
    let log = Log::create(log_path, DEFAULT_LOG_CAP).map_err(io("create the log", log_path))?;
    let runner = build_runner(root, reporter)?;
    let file_name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    // 1. Unpack (in the environment: it has xz; the host may not).
    let downloads = format!("{GUEST_WORK}/downloads");
    let unpack = format!(
        "set -e\ntar -xf {downloads}/{orig}\ntar -xf {downloads}/{debian} -C {folder}\n",
        orig = file_name(&orig),
        debian = file_name(&debian),
        folder = source.folder,
    );
    run(
        &runner,
        work,
        &unpack,
        GUEST_WORK,
        &[],
        &log,
        "unpacking the source",
    )?;
    // 2. Debian's upstream fixes, then configure, make, install.
    let tree = work.join(&source.folder);
    let series = std::fs::read_to_string(tree.join("debian/patches/series")).unwrap_or_default();
    let patches = upstream_fix_patches(&series);
    log.line(&format!(
        "[refinery] applying {} upstream fixes of debian/patches/series",
        patches.len()
    ));
    let mut script = String::from("set -e\n");
    for patch in &patches {
        script.push_str(&format!(
            "echo '[refinery] patch {patch}'\npatch -p1 --fuzz=0 --forward --batch --no-backup-if-mismatch < debian/patches/{patch}\n"
        ));
    }
    script.push_str(BUILD_SCRIPT);
    let jobs = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .to_string();
    let env = [
        ("JOBS".to_string(), jobs),
        ("PYTHON".to_string(), python.to_string()),
        ("HOME".to_string(), format!("{GUEST_WORK}/home")),
        ("DOWNLOADS".to_string(), format!("{downloads}/wheels")),
    ];
    reporter.message(&format!(
        "building CPython {python} for s390x ({} Debian fixes; {}); log: {}",
        patches.len(),
        runner.describe_attempt(runner.accelerated()),
        log_path.display()
    ));
    run(
        &runner,
        work,
        &script,
        &format!("{GUEST_WORK}/{}", source.folder),
        &env,
        &log,
        "building CPython",
    )
}

/// The sandbox the build runs in: `root` read-only but for `/usr/local`, the host's cross
/// compilers bound in when it has them.
fn build_runner(root: &Path, reporter: &dyn Reporter) -> Result<BwrapRunner, CpythonError> {
    let execution = crate::emulation::check_execution()?;
    let decision = crate::accelerate::decide(
        crate::accelerate::AccelerateMode::Auto,
        Path::new("/"),
        root,
        execution,
    )?;
    reporter.message(&decision.note);
    let runner = BwrapRunner {
        rootfs: root.to_path_buf(),
        label: "cpython-build".into(),
        ca_bundle: None,
        accelerator: decision.accelerator,
        zig: None,
        python: "python3".into(),
        host_python: None,
    };
    runner.prepare_mount_points();
    Ok(runner)
}

fn run(
    runner: &BwrapRunner,
    work: &Path,
    script: &str,
    workdir: &str,
    env: &[(String, String)],
    log: &Log,
    what: &'static str,
) -> Result<(), CpythonError> {
    let spec = RunSpec {
        argv: vec!["sh".into(), "-c".into(), script.to_string()],
        env: env.to_vec(),
        mounts: vec![
            Mount::rw(work, GUEST_WORK),
            Mount::rw(runner.rootfs.join(PREFIX.trim_start_matches('/')), PREFIX),
        ],
        workdir: workdir.to_string(),
        network: false,
        accelerate: true,
        zig: false,
        rust: None,
        path_prepend: Vec::new(),
    };
    match run_logged(runner.command(&spec), log, None, None) {
        Ok(Outcome::Success) => Ok(()),
        Ok(other) => Err(CpythonError::Step {
            what,
            outcome: format!("{other:?}"),
            tail: log
                .tail()
                .iter()
                .rev()
                .take(15)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            log: log.path().to_path_buf(),
        }),
        Err(source) => Err(CpythonError::Bwrap { what, source }),
    }
}

/// The Python code that proves an interpreter complete: it imports [`REQUIRED_MODULES`]
/// and prints `X.Y`; a missing module fails with its name.
pub fn check_code() -> String {
    format!(
        "import importlib, sys\nfor m in {REQUIRED_MODULES:?}:\n    importlib.import_module(m)\nprint('%d.%d' % sys.version_info[:2])"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Checksums-Sha256 field of python3.9_3.9.2-1+deb11u7.dsc, as Debian serves it.
    const DSC: &str = "Format: 3.0 (quilt)
Source: python3.9
Checksums-Sha1:
 110ca5bca7989f9558a54ee6762e6774a4b9644a 18889164 python3.9_3.9.2.orig.tar.xz
Checksums-Sha256:
 3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d 18889164 python3.9_3.9.2.orig.tar.xz
 ee2581147074d1eb494adfb8223833eeaf1c6d04cf5c0593e93bec28194bc86d 324084 python3.9_3.9.2-1+deb11u7.debian.tar.xz
Files:
 f0dc9000312abeb16de4eccce9a870ab 18889164 python3.9_3.9.2.orig.tar.xz
";

    #[test]
    fn the_dsc_sums_are_read_from_their_field_only() {
        let files = dsc_checksums(DSC).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].name, "python3.9_3.9.2.orig.tar.xz");
        assert_eq!(files[0].size, 18_889_164);
        assert!(files[1].sha256.starts_with("ee258114"));
    }

    #[test]
    fn a_bad_dsc_is_refused_saying_why() {
        assert!(dsc_checksums("Source: x\n")
            .unwrap_err()
            .to_string()
            .contains("no Checksums-Sha256"));
        let short = "Checksums-Sha256:\n abc 1 x.tar.xz\n";
        assert!(dsc_checksums(short)
            .unwrap_err()
            .to_string()
            .contains("bad sha256"));
        let escape = format!("Checksums-Sha256:\n {} 1 ../x.tar.xz\n", "a".repeat(64));
        assert!(dsc_checksums(&escape)
            .unwrap_err()
            .to_string()
            .contains("unsafe name"));
    }

    #[test]
    fn only_upstream_fixes_are_taken_from_the_series() {
        let series = "deb-setup.diff\n# a comment\nmultiarch.diff\nensurepip-disabled.diff\n\
            0001-3.9-gh-68966-Make-mailcap-refuse.patch\nCVE-2025-0938.patch -p1\n\
            mpdecimal-2.5.1.diff\n123-short.patch\n";
        assert_eq!(
            upstream_fix_patches(series),
            vec![
                "0001-3.9-gh-68966-Make-mailcap-refuse.patch".to_string(),
                "CVE-2025-0938.patch".to_string()
            ]
        );
    }

    #[test]
    fn the_recipe_follows_the_build_commands_and_the_source() {
        let source = SourcePython::cpython_3_9();
        assert_eq!(source.build.len(), 12);
        assert_eq!(
            source.base_url(),
            "https://deb.debian.org/debian-security/pool/updates/main/p/python3.9"
        );
        assert!(check_code().contains("\"_decimal\""));
    }
}
