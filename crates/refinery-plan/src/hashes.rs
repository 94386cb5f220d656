//! pip's hash-checking mode for the plan: every file the plan takes (an sdist to build, a
//! wheel to reuse, from the index or the input folder) must match one of the `--hash`
//! values of its requirement, before anything is built.
//!
//! As in pip (`pip/_internal/req/req_install.py`, `operations/prepare.py`): the mode is on
//! when `--require-hashes` is given (flag or file option) or when any requirement carries a
//! `--hash`; in that mode a package without a hash (a dependency too) is an error that
//! prints the hash to add; algorithms are sha256, sha384 and sha512 (md5 is refused by the
//! requirements parser); a file matches when any one of its requirement's hashes matches.
//! Build-system requirements (PEP 518) are not hash-checked, as in pip.

use std::collections::BTreeMap;
use std::path::Path;

use refinery_pep::{PackageName, RequirementEntry};
use sha2::{Sha256, Sha384, Sha512};

/// The allowed hashes of one package, from the requirements (and constraints) files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinnedHashes {
    /// `algorithm:hexdigest`, hex in lower case.
    pub hashes: Vec<String>,
    /// Where they were written: `path:line`, one per line that gave some.
    pub origins: Vec<String>,
}

/// Hashes by normalized package name, and whether hash-checking mode is on.
#[derive(Debug, Clone, Default)]
pub struct ExpectedHashes {
    pub by_name: BTreeMap<String, PinnedHashes>,
    pub required: bool,
}

impl ExpectedHashes {
    /// Collect the `--hash` values of `entries`.
    pub fn add_entries<'a>(&mut self, entries: impl IntoIterator<Item = &'a RequirementEntry>) {
        for entry in entries {
            if entry.hashes.is_empty() {
                continue;
            }
            let hashes: Vec<String> = entry.hashes.iter().map(|h| normalize(h)).collect();
            let name = entry.requirement.name.to_string();
            let first = !self.by_name.contains_key(&name);
            let pinned = self.by_name.entry(name).or_default();
            if first {
                for hash in hashes {
                    if !pinned.hashes.contains(&hash) {
                        pinned.hashes.push(hash);
                    }
                }
            } else {
                // Several lines of one package: a file must match every line, so only
                // the hashes they share remain (pip's `Hashes.__and__`).
                pinned.hashes.retain(|h| hashes.contains(h));
            }
            pinned
                .origins
                .push(format!("{}:{}", entry.file.display(), entry.line));
        }
    }

    /// Whether any file is to be checked.
    pub fn active(&self) -> bool {
        self.required || !self.by_name.is_empty()
    }
}

/// `sha256:ABCD` → `sha256:abcd`.
fn normalize(hash: &str) -> String {
    match hash.split_once(':') {
        Some((algo, digest)) => format!(
            "{}:{}",
            algo.to_ascii_lowercase(),
            digest.to_ascii_lowercase()
        ),
        None => hash.to_ascii_lowercase(),
    }
}

/// The hex digest of `path` with `algorithm` (sha256, sha384 or sha512).
pub fn file_digest(path: &Path, algorithm: &str) -> std::io::Result<String> {
    match algorithm {
        "sha256" => refinery_store::digest_file::<Sha256>(path),
        "sha384" => refinery_store::digest_file::<Sha384>(path),
        "sha512" => refinery_store::digest_file::<Sha512>(path),
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("hash algorithm {other} is not supported"),
        )),
    }
}

/// The outcome of checking one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    /// Matched this `algorithm:hexdigest` of the requirement written at `origin`.
    Matched { hash: String, origin: String },
    /// No hash matched: what the file has, in the algorithms asked for.
    Mismatch { got: Vec<String> },
    /// Hash-checking mode is on and the package has no hash; `sha256` is the file's.
    NoHash { sha256: String },
    /// Nothing to check (the mode is off).
    Unchecked,
}

/// Check `path`, a file of package `name`.
pub fn check_file(
    expected: &ExpectedHashes,
    name: &PackageName,
    path: &Path,
) -> std::io::Result<FileCheck> {
    let Some(pinned) = expected.by_name.get(name.as_ref()) else {
        // pip: one `--hash` anywhere turns hash-checking on for every package.
        if expected.active() {
            return Ok(FileCheck::NoHash {
                sha256: file_digest(path, "sha256")?,
            });
        }
        return Ok(FileCheck::Unchecked);
    };
    let mut algorithms: Vec<&str> = pinned
        .hashes
        .iter()
        .filter_map(|h| h.split_once(':').map(|(a, _)| a))
        .collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    let mut got = Vec::new();
    for algorithm in algorithms {
        let hash = format!("{algorithm}:{}", file_digest(path, algorithm)?);
        if pinned.hashes.contains(&hash) {
            return Ok(FileCheck::Matched {
                hash,
                origin: pinned.origins.join(", "),
            });
        }
        got.push(hash);
    }
    Ok(FileCheck::Mismatch { got })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entry(line: &str, hashes: &[&str]) -> RequirementEntry {
        RequirementEntry {
            requirement: refinery_pep::parse_requirement(line).unwrap(),
            hashes: hashes.iter().map(ToString::to_string).collect(),
            file: PathBuf::from("requirements.txt"),
            line: 3,
        }
    }

    #[test]
    fn several_lines_of_one_package_allow_only_the_hashes_they_share() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a-1.0.tar.gz");
        std::fs::write(&path, b"abc").unwrap();
        let right = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let name = PackageName::new("a".into()).unwrap();
        // pip intersects the lines: a second line cannot widen what the first allows.
        let mut expected = ExpectedHashes::default();
        expected.add_entries(&[entry("a==1.0", &["sha256:00"]), entry("a==1.0", &[right])]);
        assert!(matches!(
            check_file(&expected, &name, &path).unwrap(),
            FileCheck::Mismatch { .. }
        ));
        let mut shared = ExpectedHashes::default();
        shared.add_entries(&[
            entry("a==1.0", &["sha256:00", right]),
            entry("a==1.0", &[right]),
            entry("a==1.0", &[]),
        ]);
        assert!(matches!(
            check_file(&shared, &name, &path).unwrap(),
            FileCheck::Matched { .. }
        ));
    }

    #[test]
    fn matches_any_allowed_hash_in_any_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a-1.0.tar.gz");
        std::fs::write(&path, b"abc").unwrap();
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let sha512 = file_digest(&path, "sha512").unwrap();
        assert!(sha512.starts_with("ddaf35a193617aba"), "{sha512}");
        let name = PackageName::new("A".into()).unwrap();

        let mut expected = ExpectedHashes::default();
        expected.add_entries(&[entry(
            "A==1.0",
            &["sha512:00", &format!("sha256:{}", sha256.to_uppercase())],
        )]);
        assert!(expected.active());
        match check_file(&expected, &name, &path).unwrap() {
            FileCheck::Matched { hash, origin } => {
                assert_eq!(hash, format!("sha256:{sha256}"));
                assert_eq!(origin, "requirements.txt:3");
            }
            other => panic!("{other:?}"),
        }

        let mut wrong = ExpectedHashes::default();
        wrong.add_entries(&[entry("a==1.0", &["sha384:00", "sha256:00"])]);
        match check_file(&wrong, &name, &path).unwrap() {
            FileCheck::Mismatch { got } => {
                assert_eq!(got.len(), 2);
                assert!(got.contains(&format!("sha256:{sha256}")));
            }
            other => panic!("{other:?}"),
        }

        let other = PackageName::new("b".into()).unwrap();
        assert_eq!(
            check_file(&ExpectedHashes::default(), &other, &path).unwrap(),
            FileCheck::Unchecked
        );
        assert_eq!(
            check_file(&wrong, &other, &path).unwrap(),
            FileCheck::NoHash {
                sha256: sha256.to_string()
            }
        );
    }
}
