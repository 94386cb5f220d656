//! `manifest.json`: one entry per package in the output folder, written atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use refinery_pep::{PackageName, ProjectName, ProjectVersion};
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::time::now_rfc3339;

/// Errors reading or writing a manifest. Each names the manifest file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "manifest {path} is corrupt ({source}); move it away (the next run writes a new one) \
         or restore it from a backup"
    )]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot serialize manifest for {path}: {source}")]
    Serialize {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "cannot write manifest {path}: {source}; check free space and permissions of the \
         output folder"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Outcome of one package in a run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An input wheel already works on the target and was copied as is.
    Reused,
    /// A wheel built earlier was taken from the cache.
    Cached,
    /// Built (and repaired, verified) in this run.
    Built,
    /// Every attempt failed.
    Failed,
    /// Neither a usable wheel nor a source distribution was found.
    Missing,
    /// Not attempted: history says this version fails to build.
    SkippedKnownFailure,
    /// A system package recipe (hint) needed by the build failed to install.
    SystemRecipeFailed,
    /// A wheel that installs but does not work on the target: verification (its imports,
    /// its smoke test, or its own self-test under emulation) failed, or it carries
    /// binaries for another machine. `metadata.verification` holds the evidence; the
    /// wheel is not published.
    Broken,
}

impl Status {
    /// Every status, in declaration (and `Ord`) order.
    pub const ALL: [Status; 8] = [
        Status::Reused,
        Status::Cached,
        Status::Built,
        Status::Failed,
        Status::Missing,
        Status::SkippedKnownFailure,
        Status::SystemRecipeFailed,
        Status::Broken,
    ];

    /// The `snake_case` name used in JSON and in `Display`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Reused => "reused",
            Status::Cached => "cached",
            Status::Built => "built",
            Status::Failed => "failed",
            Status::Missing => "missing",
            Status::SkippedKnownFailure => "skipped_known_failure",
            Status::SystemRecipeFailed => "system_recipe_failed",
            Status::Broken => "broken",
        }
    }

    /// True if the output folder holds a usable wheel: reused, cached or built.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Status::Reused | Status::Cached | Status::Built)
    }

    /// True for outcomes that make a run fail: `failed`, `missing`, `system_recipe_failed`,
    /// `broken`.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Status::Failed | Status::Missing | Status::SystemRecipeFailed | Status::Broken
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Status::from_str`], carrying the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{input}`; expected one of: reused, cached, built, failed, missing, skipped_known_failure, system_recipe_failed, broken")]
pub struct ParseStatusError {
    pub input: String,
}

impl FromStr for Status {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError {
                input: s.to_string(),
            })
    }
}

/// Details of how an entry came to be. Empty fields are left out of the JSON.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ManifestMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// How it was built, e.g. `rootfs:bookworm emulated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_with: Option<String>,
    /// Where it came from: sdist URL or input wheel file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The environment the last attempt ran in: a base (`rootfs-bookworm-s390x-py3.11-…`)
    /// or a base with a layer of system packages (`…+layer-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The system packages of that layer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// What the hints did, one line each (`env CFLAGS=…`, `build constraint setuptools<60`,
    /// `layer libffi-dev`, `variant emulated`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// The platform tags the repaired wheel reached (from auditwheel's file name), e.g.
    /// `manylinux2014_s390x.manylinux_2_17_s390x`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reached_tag: Option<String>,
    /// Per ELF file of the wheel, the newest `GLIBC_*`/`GLIBCXX_*` symbol version it needs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub symbol_versions: BTreeMap<String, Vec<String>>,
    /// For a wheel auditwheel repaired: `stripped` (`auditwheel repair --strip` removed
    /// the debug information of its ELF files; their symbol tables stay) or `kept`
    /// (`--no-strip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug_info: Option<String>,
    /// The Rust toolchain the build step had, for packages with Rust extensions, e.g.
    /// `rustc 1.95.0 (rust-lang.org 2026-04-16, native amd64 → s390x-unknown-linux-gnu)`
    /// or `rustc 1.97.1 (Debian forky, native amd64 → s390x-unknown-linux-gnu)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_toolchain: Option<String>,
    /// Who ran the PEP 517 hooks of the build: `native` (a host `CPython` with the
    /// target's sysconfig) or `emulated` (the environment's Python).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_frontend: Option<String>,
    /// What verification did: modules imported, smoke test and self-test results with
    /// their evidence (see [`crate::verification`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verification::Verification>,
    /// With `--fallback-latest`: the versions asked for or tried before this one whose
    /// reused wheels verified broken on the target, oldest first, with the evidence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub broken_versions: Vec<crate::verification::BrokenVersion>,
    /// In pip's hash-checking mode: which `--hash` the source file (sdist or reused wheel)
    /// matched, and for a rebuilt wheel that its own sha256 is new (not in the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_check: Option<String>,
    /// For a built wheel: its PEP 770 SBOM (`CycloneDX` JSON), as the member path inside the
    /// wheel, e.g. `regex-2024.11.6.dist-info/sboms/refinery.cdx.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<String>,
    /// For a built wheel: its build provenance record (in-toto statement, SLSA provenance
    /// v1) in the cache and the record's sha256: `provenance/v1/<wheel sha256>.intoto.json
    /// sha256:<digest>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// The run was stopped (Ctrl-C, SIGTERM, a cancelled job) before this entry's build
    /// finished or started: its `failed` says nothing about the package, and the same
    /// command run again builds it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// One package in the manifest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    /// The project, spelled as its plan or input spells it (written as such in the JSON).
    pub name: ProjectName,
    /// The version as planned, spelled as the plan, the wheel or the index spells it
    /// (compared as PEP 440 versions); `None`, written `""`, for a missing package that
    /// never resolved.
    #[serde(with = "refinery_pep::project_version::or_empty")]
    pub version: Option<ProjectVersion>,
    pub status: Status,
    /// Wheel file name relative to the output folder.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub metadata: ManifestMetadata,
}

impl ManifestEntry {
    /// An entry with no path, digest, detail or metadata.
    #[must_use]
    pub fn new(name: ProjectName, version: Option<ProjectVersion>, status: Status) -> Self {
        ManifestEntry {
            name,
            version,
            status,
            path: None,
            sha256: None,
            detail: String::new(),
            metadata: ManifestMetadata::default(),
        }
    }

    /// The key entries are unique by: the PEP 503 normalized name.
    #[must_use]
    pub fn key(&self) -> &PackageName {
        self.name.normalized()
    }

    /// The version as spelled, or `""` when there is none (as `manifest.json` has it).
    #[must_use]
    pub fn version_str(&self) -> &str {
        refinery_pep::project_version::spelling_or_empty(self.version.as_ref())
    }
}

/// The manifest of an output folder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Manifest {
    /// RFC 3339 UTC time of the last change (set by [`Manifest::new`] and
    /// [`Manifest::upsert`]).
    pub generated_at: String,
    pub python: String,
    pub platform_tag: String,
    #[serde(default)]
    pub entries: Vec<ManifestEntry>,
    /// Input files the plan refused (a corrupt wheel, a hostile archive path, a file that
    /// is no wheel): each names the file and why. None of them has an entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedFile>,
}

/// An input file the run did not take, and why (the plan's reason, verbatim).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RejectedFile {
    /// The file as the input folder names it.
    pub input: String,
    pub reason: String,
}

/// PEP 503 normalization of a string that may not be a valid name (names read back from
/// the queue and history): lowercase, runs of `-`, `_`, `.` become one `-`. Typed names
/// use [`ProjectName::normalized`].
#[must_use]
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    out
}

/// Entries sort by normalized name, then spelling (so the order never depends on input order).
fn sort_key(entry: &ManifestEntry) -> (&PackageName, &str) {
    (entry.key(), entry.name.as_str())
}

fn sort_entries(entries: &mut [ManifestEntry]) {
    entries.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
}

impl Manifest {
    /// An empty manifest generated now.
    #[must_use]
    pub fn new(python: &str, platform_tag: &str) -> Self {
        Manifest {
            generated_at: now_rfc3339(),
            python: python.to_string(),
            platform_tag: platform_tag.to_string(),
            entries: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Reads a manifest; `Ok(None)` if the file does not exist.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Read`] when the file exists but cannot be read,
    /// [`ManifestError::Parse`] when it is not a manifest (not JSON, a missing field, an
    /// invalid project name or version), each naming the file.
    pub fn load(path: &Path) -> Result<Option<Manifest>, ManifestError> {
        let bytes = match fs_err::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ManifestError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        sort_entries(&mut manifest.entries);
        Ok(Some(manifest))
    }

    /// Inserts the entry, replacing any entry with the same normalized name, and keeps the
    /// entries sorted by normalized name. Updates `generated_at`.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        self.entries
            .retain(|existing| existing.key() != entry.key());
        let at = self
            .entries
            .partition_point(|existing| sort_key(existing) < sort_key(&entry));
        self.entries.insert(at, entry);
        self.generated_at = now_rfc3339();
    }

    /// The entry for `name` (compared after PEP 503 normalization); `None` also when
    /// `name` is not a valid project name, since no entry can have one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ManifestEntry> {
        let key = PackageName::from_str(name.trim()).ok()?;
        self.entries.iter().find(|entry| *entry.key() == key)
    }

    /// Removes and returns the entry for `name` (compared after PEP 503 normalization).
    pub fn remove(&mut self, name: &str) -> Option<ManifestEntry> {
        let key = PackageName::from_str(name.trim()).ok()?;
        let index = self.entries.iter().position(|entry| *entry.key() == key)?;
        self.generated_at = now_rfc3339();
        Some(self.entries.remove(index))
    }

    /// Writes pretty JSON atomically (temp file + fsync + rename), entries sorted by name.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Serialize`] when the manifest cannot be serialized,
    /// [`ManifestError::Write`] when the file cannot be written, each naming the file.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        let mut sorted = self.clone();
        sort_entries(&mut sorted.entries);
        let mut bytes =
            serde_json::to_vec_pretty(&sorted).map_err(|source| ManifestError::Serialize {
                path: path.to_path_buf(),
                source,
            })?;
        bytes.push(b'\n');
        write_atomic(path, &bytes).map_err(|source| ManifestError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Number of entries per status (statuses without entries are left out).
    #[must_use]
    pub fn summary(&self) -> BTreeMap<Status, usize> {
        let mut counts = BTreeMap::new();
        for entry in &self.entries {
            *counts.entry(entry.status).or_insert(0) += 1;
        }
        counts
    }

    /// True if any entry failed, is missing, or its system recipe failed.
    #[must_use]
    pub fn has_failures(&self) -> bool {
        self.entries.iter().any(|entry| entry.status.is_failure())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str, status: Status) -> ManifestEntry {
        let version = refinery_pep::project_version::parse_or_empty(version).unwrap();
        ManifestEntry::new(name.parse().unwrap(), version, status)
    }

    #[test]
    fn status_strings_round_trip() {
        for status in Status::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert_eq!(
            Status::SkippedKnownFailure.to_string(),
            "skipped_known_failure"
        );
        let err = "bulit".parse::<Status>().unwrap_err();
        assert!(err.to_string().contains("bulit"));
        assert!(Status::Reused.is_success());
        assert!(Status::Cached.is_success());
        assert!(Status::Built.is_success());
        assert!(!Status::Failed.is_success());
        assert!(!Status::SkippedKnownFailure.is_success());
        assert!(!Status::SkippedKnownFailure.is_failure());
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_name("Foo.Bar__baz-"), "foo-bar-baz-");
        assert_eq!(normalize_name("ruamel.yaml"), "ruamel-yaml");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
    }

    #[test]
    fn spellings_of_names_and_versions_round_trip_byte_identical() {
        let text = r#"{
  "generated_at": "2026-01-01T00:00:00.000Z",
  "python": "3.11",
  "platform_tag": "manylinux_2_17_s390x",
  "entries": [
    {
      "name": "Foo.Bar_baz",
      "version": "1.0",
      "status": "built",
      "path": null,
      "sha256": null,
      "detail": "",
      "metadata": {}
    },
    {
      "name": "odd",
      "version": "1.0.0-beta1",
      "status": "failed",
      "path": null,
      "sha256": null,
      "detail": "",
      "metadata": {}
    },
    {
      "name": "PyYAML",
      "version": "1.0.post0",
      "status": "reused",
      "path": "PyYAML-1.0.post0-cp311-cp311-manylinux_2_17_s390x.whl",
      "sha256": null,
      "detail": "",
      "metadata": {}
    },
    {
      "name": "regex",
      "version": "2021.10.23",
      "status": "cached",
      "path": null,
      "sha256": null,
      "detail": "",
      "metadata": {}
    },
    {
      "name": "ruamel.yaml",
      "version": "",
      "status": "missing",
      "path": null,
      "sha256": null,
      "detail": "no sdist",
      "metadata": {}
    }
  ]
}
"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs_err::write(&path, text).unwrap();
        let m = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(m.entries[2].name.as_str(), "PyYAML");
        assert_eq!(m.entries[2].key().as_ref(), "pyyaml");
        // Versions keep their spelling and compare as PEP 440 versions.
        let odd = m.get("odd").unwrap();
        assert_eq!(odd.version_str(), "1.0.0-beta1");
        assert_eq!(odd.version, Some("1.0.0b1".parse().unwrap()));
        assert_eq!(m.get("pyyaml").unwrap().version_str(), "1.0.post0");
        assert_eq!(m.get("regex").unwrap().version_str(), "2021.10.23");
        assert_eq!(m.get("foo-bar-baz").unwrap().name.as_str(), "Foo.Bar_baz");
        assert_eq!(m.get("RUAMEL_yaml").unwrap().version, None);
        assert!(m.get("not a name").is_none());
        m.write(&path).unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn an_invalid_name_makes_the_manifest_corrupt_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs_err::write(
            &path,
            br#"{"generated_at":"x","python":"3.11","platform_tag":"manylinux_2_17_s390x",
                "entries":[{"name":"-bad name","version":"1","status":"reused"}]}"#,
        )
        .unwrap();
        let message = Manifest::load(&path).unwrap_err().to_string();
        assert!(
            message.contains("`-bad name` is not a project name"),
            "{message}"
        );
    }

    #[test]
    fn an_invalid_version_makes_the_manifest_corrupt_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs_err::write(
            &path,
            br#"{"generated_at":"x","python":"3.11","platform_tag":"manylinux_2_17_s390x",
                "entries":[{"name":"six","version":"1.0 final","status":"reused"}]}"#,
        )
        .unwrap();
        let err = Manifest::load(&path).unwrap_err();
        assert!(matches!(err, ManifestError::Parse { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("corrupt"), "{message}");
        assert!(
            message.contains("`1.0 final` is not a version"),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn upsert_replaces_by_normalized_name_and_keeps_order() {
        let mut m = Manifest::new("3.11", "manylinux_2_17_s390x");
        m.upsert(entry("zstandard", "0.23.0", Status::Built));
        m.upsert(entry("PyYAML", "6.0.1", Status::Failed));
        m.upsert(entry("charset_normalizer", "3.3.2", Status::Reused));
        m.upsert(entry("Cffi", "1.17.1", Status::Cached));
        let names: Vec<_> = m.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Cffi", "charset_normalizer", "PyYAML", "zstandard"]);

        m.upsert(entry("pyyaml", "6.0.2", Status::Built));
        m.upsert(entry("charset-normalizer", "3.4.0", Status::Built));
        assert_eq!(m.entries.len(), 4);
        let got: Vec<_> = m
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.version_str(), e.status))
            .collect();
        assert_eq!(
            got,
            [
                ("Cffi", "1.17.1", Status::Cached),
                ("charset-normalizer", "3.4.0", Status::Built),
                ("pyyaml", "6.0.2", Status::Built),
                ("zstandard", "0.23.0", Status::Built),
            ]
        );
        assert_eq!(m.get("PYYAML").unwrap().version_str(), "6.0.2");
        assert!(m.get("numpy").is_none());
        assert_eq!(
            m.remove("Charset.Normalizer").unwrap().version_str(),
            "3.4.0"
        );
        assert_eq!(m.entries.len(), 3);
    }

    #[test]
    fn summary_and_failures() {
        let mut m = Manifest::new("3.11", "manylinux_2_17_s390x");
        assert!(!m.has_failures());
        assert!(m.summary().is_empty());
        m.upsert(entry("a", "1", Status::Built));
        m.upsert(entry("b", "1", Status::Built));
        m.upsert(entry("c", "1", Status::Reused));
        m.upsert(entry("d", "1", Status::SkippedKnownFailure));
        assert!(!m.has_failures());
        let summary = m.summary();
        assert_eq!(summary[&Status::Built], 2);
        assert_eq!(summary[&Status::Reused], 1);
        assert_eq!(summary[&Status::SkippedKnownFailure], 1);
        assert_eq!(
            summary.keys().copied().collect::<Vec<_>>(),
            [Status::Reused, Status::Built, Status::SkippedKnownFailure]
        );
        for failing in [Status::Failed, Status::Missing, Status::SystemRecipeFailed] {
            let mut m2 = m.clone();
            m2.upsert(entry("e", "1", failing));
            assert!(m2.has_failures(), "{failing}");
        }
    }

    #[test]
    fn write_then_load_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/manifest.json");
        assert_eq!(Manifest::load(&path).unwrap(), None);

        let mut m = Manifest::new("3.11", "manylinux_2_17_s390x");
        let mut built = entry("regex", "2024.11.6", Status::Built);
        built.path = Some("regex-2024.11.6-cp311-cp311-manylinux_2_17_s390x.whl".into());
        built.sha256 = Some("ab".repeat(32));
        built.metadata = ManifestMetadata {
            variant: Some("default".into()),
            attempt: Some(2),
            log_path: Some("logs/regex.log".into()),
            duration_secs: Some(24.5),
            hints: vec!["libffi-dev".into()],
            platform_tag: Some("manylinux_2_17_s390x".into()),
            python: Some("3.11".into()),
            built_with: Some("rootfs:bookworm emulated".into()),
            source: Some("https://example.invalid/regex-2024.11.6.tar.gz".into()),
            environment: Some("rootfs-bookworm-s390x-py3.11-abc+layer-123".into()),
            system_packages: vec!["libffi-dev".into()],
            actions: vec!["layer libffi-dev".into()],
            reached_tag: Some("manylinux_2_17_s390x".into()),
            symbol_versions: BTreeMap::from([(
                "regex/_regex.so".into(),
                vec!["GLIBC_2.17".into()],
            )]),
            debug_info: Some("stripped".into()),
            rust_toolchain: Some(
                "rustc 1.97.1 (Debian forky, native amd64 → s390x-unknown-linux-gnu)".into(),
            ),
            build_frontend: Some("native".into()),
            verification: Some(crate::verification::Verification {
                level: "smoke".into(),
                imported: vec!["regex".into(), "regex._regex".into()],
                ..Default::default()
            }),
            broken_versions: vec![crate::verification::BrokenVersion {
                version: "2024.11.5".into(),
                file: "regex-2024.11.5-cp311-cp311-manylinux_2_17_s390x.whl".into(),
                detail: "reused wheel … does not work on s390x: smoke:regex failed".into(),
                verification: None,
            }],
            sbom: Some("regex-2024.11.6.dist-info/sboms/refinery.cdx.json".into()),
            provenance: Some(format!(
                "provenance/v1/{}.intoto.json sha256:{}",
                "ab".repeat(32),
                "cd".repeat(32)
            )),
            hash_check: Some(
                "regex-2024.11.6.tar.gz matched sha256:ab (requirements.txt:1)".into(),
            ),
            interrupted: false,
        };
        m.upsert(built);
        m.upsert(entry("aaa", "1.0", Status::Missing));
        let mut stopped = entry("ccc", "1.0", Status::Failed);
        stopped.metadata.interrupted = true;
        m.upsert(stopped);
        m.write(&path).unwrap();
        let first_bytes = fs_err::read_to_string(&path).unwrap();
        assert!(first_bytes.ends_with("}\n"));

        // Overwrite the existing manifest several times: it always parses and no temp
        // files are left next to it.
        for i in 0..5 {
            m.upsert(entry("bbb", &format!("{i}.0"), Status::Built));
            m.write(&path).unwrap();
            let loaded = Manifest::load(&path).unwrap().unwrap();
            assert_eq!(loaded, m);
        }
        let names: Vec<_> = fs_err::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["manifest.json"]);

        // Empty metadata fields are left out of the JSON; the file is stable.
        let text = fs_err::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let aaa = &value["entries"][0];
        assert_eq!(aaa["name"], "aaa");
        assert_eq!(aaa["status"], "missing");
        assert_eq!(aaa["metadata"], serde_json::json!({}));
        m.write(&path).unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn write_sorts_entries_pushed_directly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let mut m = Manifest::new("3.12", "manylinux_2_28_s390x");
        m.entries.push(entry("zeta", "1", Status::Built));
        m.entries.push(entry("Alpha", "1", Status::Built));
        m.write(&path).unwrap();
        let loaded = Manifest::load(&path).unwrap().unwrap();
        let names: Vec<_> = loaded.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "zeta"]);
    }

    #[test]
    fn corrupt_manifest_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs_err::write(
            &path,
            b"{\"generated_at\": \"2024-01-01T00:00:00.000Z\", \"entr",
        )
        .unwrap();
        let err = Manifest::load(&path).unwrap_err();
        assert!(matches!(err, ManifestError::Parse { .. }));
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("corrupt"), "{message}");
    }

    #[test]
    fn minimal_manifest_json_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fs_err::write(
            &path,
            br#"{"generated_at":"x","python":"3.11","platform_tag":"manylinux_2_17_s390x",
                "entries":[{"name":"six","version":"1.16.0","status":"reused","future_field":1}]}"#,
        )
        .unwrap();
        let m = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(m.entries[0].status, Status::Reused);
        assert_eq!(m.entries[0].metadata, ManifestMetadata::default());
        assert_eq!(m.entries[0].detail, "");
    }

    #[test]
    fn unreadable_manifest_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the manifest should be: not NotFound, so an error.
        let path = dir.path().join("manifest.json");
        fs_err::create_dir(&path).unwrap();
        let err = Manifest::load(&path).unwrap_err();
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
