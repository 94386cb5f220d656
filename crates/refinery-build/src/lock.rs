//! The lock of a run's result: `<output>/pylock.toml` (PEP 751, lock-version 1.0) and
//! `<output>/requirements.lock.txt` (pip's hash-checking format), both naming the exact
//! wheels of the output folder by sha256, so that
//! `pip install --require-hashes -r requirements.lock.txt --index-url <our index>` installs
//! exactly the set on s390x.
//!
//! Only wheels the output holds are locked (reused, cached, built); a package that failed
//! or is missing is listed in a comment of `requirements.lock.txt` and in
//! `[tool.refinery]` of `pylock.toml`, since a lock cannot pin what does not exist.

use std::path::Path;

use refinery_pep::Target;
use refinery_store::{write_atomic, Manifest, ManifestEntry};
use serde::Serialize;

/// File names of the locks inside the output folder.
pub const PYLOCK: &str = "pylock.toml";
pub const REQUIREMENTS_LOCK: &str = "requirements.lock.txt";

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct PyLock {
    lock_version: &'static str,
    environments: Vec<String>,
    requires_python: String,
    created_by: &'static str,
    packages: Vec<LockedPackage>,
    tool: Tool,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct LockedPackage {
    name: String,
    version: String,
    wheels: Vec<LockedWheel>,
}

#[derive(Serialize)]
struct LockedWheel {
    name: String,
    /// Relative to the lock file's folder (PEP 751 allows `path` instead of `url`).
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    hashes: Hashes,
}

#[derive(Serialize)]
struct Hashes {
    sha256: String,
}

#[derive(Serialize)]
struct Tool {
    refinery: RefineryTable,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RefineryTable {
    python: String,
    platform_tag: String,
    /// Packages of the run without a wheel in the output: `name version: status`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_locked: Vec<String>,
}

/// The entries with a wheel in the output, by normalized name, and the rest.
fn partition(manifest: &Manifest) -> (Vec<&ManifestEntry>, Vec<&ManifestEntry>) {
    let mut locked: Vec<&ManifestEntry> = Vec::new();
    let mut rest = Vec::new();
    for entry in &manifest.entries {
        match (&entry.path, &entry.sha256) {
            (Some(_), Some(_)) if entry.status.is_success() => locked.push(entry),
            _ => rest.push(entry),
        }
    }
    locked.sort_by(|a, b| a.name.cmp(&b.name));
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    (locked, rest)
}

/// The PEP 508 marker of the target: `CPython` X.Y on s390x Linux.
fn environment_marker(target: &Target) -> String {
    format!(
        "sys_platform == 'linux' and platform_machine == 's390x' and platform_python_implementation == 'CPython' and python_version == '{}'",
        target.python_str()
    )
}

/// `pylock.toml` for the wheels of `manifest` lying in `output`.
///
/// # Panics
///
/// Never in practice: the lock is plain strings and tables, which TOML always serializes.
#[must_use]
pub fn render_pylock(output: &Path, manifest: &Manifest, target: &Target) -> String {
    let (locked, rest) = partition(manifest);
    let lock = PyLock {
        lock_version: "1.0",
        environments: vec![environment_marker(target)],
        requires_python: format!("=={}.*", target.python_str()),
        created_by: "refinery",
        packages: locked
            .iter()
            .map(|e| {
                let file = e.path.clone().unwrap_or_default();
                LockedPackage {
                    name: e.name.normalized().to_string(),
                    version: e.version_str().to_string(),
                    wheels: vec![LockedWheel {
                        size: std::fs::metadata(output.join(&file)).ok().map(|m| m.len()),
                        path: format!("./{file}"),
                        name: file,
                        hashes: Hashes {
                            sha256: e.sha256.clone().unwrap_or_default(),
                        },
                    }],
                }
            })
            .collect(),
        tool: Tool {
            refinery: RefineryTable {
                python: target.python_str(),
                platform_tag: target.platform_tag().to_string(),
                not_locked: rest
                    .iter()
                    .map(|e| format!("{} {}: {}", e.name, e.version_str(), e.status))
                    .collect(),
            },
        },
    };
    toml::to_string(&lock).expect("the lock serializes")
}

/// `requirements.lock.txt` for the wheels of `manifest`: `name==version --hash=sha256:…`.
#[must_use]
pub fn render_requirements_lock(manifest: &Manifest, target: &Target) -> String {
    let (locked, rest) = partition(manifest);
    let mut out = format!(
        "# The wheels of this folder for CPython {} {}, written by refinery.\n\
         # pip install --require-hashes -r requirements.lock.txt --index-url <this folder's or the server's /simple>\n",
        target.python_str(),
        target.platform_tag()
    );
    for entry in &rest {
        out.push_str(&format!(
            "# not locked: {} {} ({}): no wheel in the output\n",
            entry.name,
            entry.version_str(),
            entry.status
        ));
    }
    for entry in locked {
        out.push_str(&format!(
            "{}=={} \\\n    --hash=sha256:{}\n",
            entry.name.normalized(),
            entry.version_str(),
            entry.sha256.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// Write both locks into `output` (atomically). The error names the file and says what to do.
///
/// # Errors
///
/// [`crate::write_error::WriteFileError`] naming the lock file that cannot be written.
pub fn write_locks(
    output: &Path,
    manifest: &Manifest,
    target: &Target,
) -> Result<(), crate::write_error::WriteFileError> {
    for (name, text) in [
        (PYLOCK, render_pylock(output, manifest, target)),
        (
            REQUIREMENTS_LOCK,
            render_requirements_lock(manifest, target),
        ),
    ] {
        let path = output.join(name);
        write_atomic(&path, text.as_bytes())
            .map_err(crate::write_error::WriteFileError::io("lock", &path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::Status;

    fn manifest(dir: &Path) -> Manifest {
        let mut m = Manifest::new("3.11", "manylinux2014_s390x");
        let mut built = ManifestEntry::new(
            "Fast_Add".parse().unwrap(),
            Some("1.0".parse().unwrap()),
            Status::Built,
        );
        built.path = Some("fast_add-1.0-cp311-cp311-manylinux2014_s390x.whl".into());
        built.sha256 = Some("ab".repeat(32));
        std::fs::write(dir.join(built.path.as_ref().unwrap()), b"12345").unwrap();
        m.upsert(built);
        let mut reused = ManifestEntry::new(
            "purea".parse().unwrap(),
            Some("2.0".parse().unwrap()),
            Status::Reused,
        );
        reused.path = Some("purea-2.0-py3-none-any.whl".into());
        reused.sha256 = Some("cd".repeat(32));
        m.upsert(reused);
        m.upsert(ManifestEntry::new(
            "gone".parse().unwrap(),
            Some("3.0".parse().unwrap()),
            Status::Failed,
        ));
        let mut broken = ManifestEntry::new(
            "bad".parse().unwrap(),
            Some("1.0".parse().unwrap()),
            Status::Broken,
        );
        broken.path = Some("bad-1.0-py3-none-any.whl".into());
        broken.sha256 = Some("ef".repeat(32));
        m.upsert(broken);
        m
    }

    #[test]
    fn locks_name_exactly_the_output_wheels() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let text = render_requirements_lock(&m, &target);
        assert!(text.contains(&format!(
            "fast-add==1.0 \\\n    --hash=sha256:{}\n",
            "ab".repeat(32)
        )));
        assert!(text.contains(&format!(
            "purea==2.0 \\\n    --hash=sha256:{}\n",
            "cd".repeat(32)
        )));
        assert!(text.contains("# not locked: gone 3.0 (failed)"));
        assert!(text.contains("# not locked: bad 1.0 (broken)"));
        assert!(!text.contains(&"ef".repeat(32)));

        let lock: toml::Table = render_pylock(dir.path(), &m, &target).parse().unwrap();
        assert_eq!(lock["lock-version"].as_str(), Some("1.0"));
        assert_eq!(lock["requires-python"].as_str(), Some("==3.11.*"));
        assert!(lock["environments"][0]
            .as_str()
            .unwrap()
            .contains("platform_machine == 's390x'"));
        let packages = lock["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0]["name"].as_str(), Some("fast-add"));
        let wheel = &packages[0]["wheels"][0];
        assert_eq!(
            wheel["path"].as_str(),
            Some("./fast_add-1.0-cp311-cp311-manylinux2014_s390x.whl")
        );
        assert_eq!(wheel["size"].as_integer(), Some(5));
        assert_eq!(
            wheel["hashes"]["sha256"].as_str(),
            Some("ab".repeat(32).as_str())
        );
        // The reused wheel is not in the folder here: no size, still locked.
        assert!(packages[1]["wheels"][0].get("size").is_none());
        let refinery = &lock["tool"]["refinery"];
        assert_eq!(refinery["not-locked"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_read_only_output_is_named() {
        let err = write_locks(
            Path::new("/proc/refinery-no-such-dir"),
            &Manifest::new("3.11", "manylinux2014_s390x"),
            &Target::new("3.11", "manylinux2014_s390x").unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot write the lock /proc/refinery-no-such-dir/pylock.toml"),
            "{err}"
        );
    }
}
