//! A rebuilt wheel never takes the name of another file with other bytes: when the index
//! lists the same wheel (same project, version, build tag and tag set, however the name
//! spells them; e.g. PyPI's own s390x wheel, refused with `--no-binary`), or this cache
//! published the name for other bytes before (a `--no-strip` rebuild, another pack), ours
//! gets the next free build number (PEP 427: `name-version-1-python-abi-platform.whl`,
//! and `Build: 1` in its WHEEL), so that the two never pass for each other and pip
//! prefers ours where both are seen (a higher build tag wins among equal tags).

use std::path::{Path, PathBuf};

use refinery_index::DistFile;
use refinery_pep::WheelFilename;

/// The most build numbers tried before giving up (each one a name taken by other bytes).
const MAX_BUILD_NUMBERS: u64 = 99;

/// `name-version[-build]-python-abi-platform.whl` with the build tag `number`; `None` for
/// no wheel name.
pub fn with_build_number(filename: &str, number: u64) -> Option<String> {
    filename.parse::<WheelFilename>().ok()?;
    // A parsed wheel name has five or six `-`-separated parts (names escape `-` to `_`).
    let parts: Vec<&str> = filename.strip_suffix(".whl")?.split('-').collect();
    let (name_version, tags) = (&parts[..2], &parts[parts.len() - 3..]);
    Some(format!(
        "{}-{number}-{}.whl",
        name_version.join("-"),
        tags.join("-")
    ))
}

/// True when `a` and `b` name the same wheel for an installer: the same project (PEP 503
/// normalized), version (PEP 440), build tag and sets of python, ABI and platform tags,
/// whatever the order of the compressed tag sets.
pub fn same_wheel(a: &WheelFilename, b: &WheelFilename) -> bool {
    let set = |tags: &[String]| {
        let mut tags = tags.to_vec();
        tags.sort();
        tags.dedup();
        tags
    };
    a.name == b.name
        && a.version == b.version
        && a.build_tag == b.build_tag
        && set(&a.python_tags) == set(&b.python_tags)
        && set(&a.abi_tags) == set(&b.abi_tags)
        && set(&a.platform_tags) == set(&b.platform_tags)
}

/// Why a rebuilt wheel could not take a name distinct from the others.
#[derive(Debug, thiserror::Error)]
pub enum NamingError {
    #[error(
        "{MAX_BUILD_NUMBERS} build numbers after {filename}'s are taken by other bytes; \
         remove old artifacts from the cache's history or use another cache"
    )]
    Exhausted { filename: String },
    #[error("cannot rename {filename} to {renamed}: {source}")]
    Rename {
        filename: String,
        renamed: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where names are taken: the index's files of the project, and the sha256s this cache
/// already published under a file name.
pub struct TakenNames<'a> {
    pub index_files: &'a [DistFile],
    pub published: &'a dyn Fn(&str) -> Vec<String>,
}

impl TakenNames<'_> {
    /// True when `filename` (or the same wheel spelled otherwise, in the index) holds
    /// bytes other than `sha256`'s; an index file without a hash counts as other bytes.
    fn taken(&self, filename: &str, sha256: &str) -> bool {
        let other = |s: Option<&str>| s.is_none_or(|s| !s.eq_ignore_ascii_case(sha256));
        let ours: Option<WheelFilename> = filename.parse().ok();
        let in_index = self.index_files.iter().any(|f| {
            let same = f.filename == filename
                || f.filename
                    .parse::<WheelFilename>()
                    .ok()
                    .zip(ours.as_ref())
                    .is_some_and(|(theirs, ours)| same_wheel(&theirs, ours));
            same && other(f.sha256.as_deref())
        });
        in_index
            || (self.published)(filename)
                .iter()
                .any(|s| other(Some(s.as_str())))
    }
}

/// If `wheel`'s name is taken by other bytes (see [`TakenNames`]), writes it under the
/// next free build number (its WHEEL gets `Build: N`, RECORD follows) in the same folder,
/// removes the original and returns the new path and the name it avoided.
///
/// # Errors
/// [`NamingError::Exhausted`] when the next 99 build numbers are taken,
/// [`NamingError::Rename`] when the copy cannot be written.
pub fn avoid_taken_name(
    wheel: &Path,
    sha256: &str,
    taken: &TakenNames<'_>,
) -> Result<Option<(PathBuf, String)>, NamingError> {
    let Some(filename) = wheel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    if !taken.taken(&filename, sha256) {
        return Ok(None);
    }
    let first = filename
        .parse::<WheelFilename>()
        .ok()
        .and_then(|w| w.build_tag)
        .map_or(1, |b| b.number.saturating_add(1));
    for number in first..=first.saturating_add(MAX_BUILD_NUMBERS - 1) {
        let Some(renamed) = with_build_number(&filename, number) else {
            break;
        };
        let dest = wheel.with_file_name(&renamed);
        let edit = |text: &str| {
            let mut lines: String = text
                .lines()
                .filter(|l| !l.starts_with("Build:"))
                .map(|l| format!("{l}\n"))
                .collect();
            lines.push_str(&format!("Build: {number}\n"));
            lines
        };
        let rename_error = |source: Box<dyn std::error::Error + Send + Sync>| NamingError::Rename {
            filename: filename.clone(),
            renamed: renamed.clone(),
            source,
        };
        crate::wheel_rewrite::rewrite_wheel_file(wheel, &dest, &edit)
            .map_err(|e| rename_error(Box::new(e)))?;
        let new_sha = match refinery_store::sha256_file(&dest) {
            Ok(sha) => sha,
            Err(e) => {
                let _ = std::fs::remove_file(&dest);
                return Err(rename_error(Box::new(e)));
            }
        };
        if taken.taken(&renamed, &new_sha) {
            let _ = std::fs::remove_file(&dest);
            continue;
        }
        let _ = std::fs::remove_file(wheel);
        return Ok(Some((dest, filename)));
    }
    Err(NamingError::Exhausted { filename })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    const OURS: &str = "fast_add-1.0-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl";

    fn dist_file(filename: &str, sha256: Option<&str>) -> DistFile {
        DistFile {
            filename: filename.into(),
            url: format!("https://example.invalid/{filename}"),
            sha256: sha256.map(str::to_string),
            requires_python: None,
            yanked: false,
            has_metadata: false,
            index: "https://example.invalid/simple".into(),
        }
    }

    fn wheel(dir: &Path, filename: &str) -> PathBuf {
        let path = dir.join(filename);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, text) in [
            ("fast_add/__init__.py", "x = 1\n"),
            (
                "fast_add-1.0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n",
            ),
            (
                "fast_add-1.0.dist-info/RECORD",
                "fast_add-1.0.dist-info/WHEEL,sha256=x,1\n",
            ),
        ] {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn wheel_text(path: &Path) -> String {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut text = String::new();
        archive
            .by_name("fast_add-1.0.dist-info/WHEEL")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn a_build_number_goes_after_the_version_or_replaces_the_old_one() {
        assert_eq!(
            with_build_number(OURS, 1).as_deref(),
            Some("fast_add-1.0-1-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl")
        );
        assert_eq!(
            with_build_number("a-1.0-2abc-py3-none-any.whl", 3).as_deref(),
            Some("a-1.0-3-py3-none-any.whl")
        );
        assert_eq!(with_build_number("not-a-wheel.tar.gz", 1), None);
        let tagged: WheelFilename = with_build_number("a-1.0-py3-none-any.whl", 1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(tagged.build_tag.unwrap().number, 1);
    }

    #[test]
    fn the_same_wheel_spelled_otherwise_is_the_same_wheel() {
        let ours: WheelFilename = OURS.parse().unwrap();
        let pypi: WheelFilename =
            "Fast_Add-1.0-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                .parse()
                .unwrap();
        assert!(same_wheel(&ours, &pypi));
        let other_tags: WheelFilename = "fast_add-1.0-cp311-cp311-manylinux_2_17_s390x.whl"
            .parse()
            .unwrap();
        assert!(!same_wheel(&ours, &other_tags));
        let built: WheelFilename = with_build_number(OURS, 1).unwrap().parse().unwrap();
        assert!(!same_wheel(&ours, &built));
    }

    #[test]
    fn a_name_free_or_holding_the_same_bytes_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path(), OURS);
        let sha = refinery_store::sha256_file(&path).unwrap();
        let index = [dist_file(OURS, Some(&sha.to_uppercase()))];
        let published = |name: &str| {
            if name == OURS {
                vec![sha.clone()]
            } else {
                vec![]
            }
        };
        let taken = TakenNames {
            index_files: &index,
            published: &published,
        };
        assert!(avoid_taken_name(&path, &sha, &taken).unwrap().is_none());
        assert!(path.is_file());
    }

    #[test]
    fn the_index_spelling_the_same_wheel_otherwise_gives_build_1_with_its_build_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path(), OURS);
        let sha = refinery_store::sha256_file(&path).unwrap();
        let index = [dist_file(
            "Fast_Add-1.0-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            Some(&"ab".repeat(32)),
        )];
        let taken = TakenNames {
            index_files: &index,
            published: &|_: &str| Vec::new(),
        };
        let (renamed, avoided) = avoid_taken_name(&path, &sha, &taken).unwrap().unwrap();
        assert_eq!(avoided, OURS);
        assert_eq!(
            renamed.file_name().unwrap(),
            "fast_add-1.0-1-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl"
        );
        assert!(!path.exists());
        assert_eq!(
            wheel_text(&renamed),
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nBuild: 1\n"
        );
    }

    #[test]
    fn names_this_cache_gave_other_bytes_are_skipped_to_the_next_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path(), OURS);
        let sha = refinery_store::sha256_file(&path).unwrap();
        let build1 = with_build_number(OURS, 1).unwrap();
        // The cache holds other bytes under the plain name and under build 1.
        let published = |name: &str| {
            if name == OURS || name == build1 {
                vec!["cd".repeat(32)]
            } else {
                vec![]
            }
        };
        let taken = TakenNames {
            index_files: &[],
            published: &published,
        };
        let (renamed, _) = avoid_taken_name(&path, &sha, &taken).unwrap().unwrap();
        assert_eq!(
            renamed.file_name().unwrap().to_string_lossy(),
            with_build_number(OURS, 2).unwrap()
        );
        assert!(wheel_text(&renamed).ends_with("Build: 2\n"));

        // Every number taken: a clear error, and the wheel is left where it was.
        let path = wheel(dir.path(), OURS);
        let everything = |_: &str| vec!["cd".repeat(32)];
        let taken = TakenNames {
            index_files: &[],
            published: &everything,
        };
        let error = avoid_taken_name(&path, &sha, &taken).unwrap_err();
        assert!(error.to_string().contains("99 build numbers"), "{error}");
        assert!(path.is_file());
    }
}
