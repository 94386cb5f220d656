//! Read an sdist's PEP 518 `build-system.requires` without unpacking it to disk.

use std::path::Path;

use crate::sdist_files::{member_parts, read_text_members, SdistFilesError};

/// PEP 517's fallback when an sdist has no `pyproject.toml` or no `[build-system]`.
pub const LEGACY_BUILD_REQUIRES: [&str; 2] = ["setuptools>=40.8.0", "wheel"];

/// Why an sdist's build requirements could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BuildRequiresError {
    #[error(transparent)]
    Sdist(#[from] SdistFilesError),
    #[error("pyproject.toml is not valid TOML: {source}")]
    Toml {
        #[source]
        source: toml::de::Error,
    },
    #[error("build-system.requires is not a list")]
    NotAList,
    #[error("build-system.requires holds a non-string")]
    NotAString,
}

/// The build requirements declared by the sdist at `path` (`.tar.gz` or `.zip`).
pub fn read_build_requires(path: &Path) -> Result<Vec<String>, BuildRequiresError> {
    let found = read_text_members(path, &is_top_pyproject)?;
    match found.first() {
        Some((_, text)) => parse_build_requires(text),
        None => Ok(legacy()),
    }
}

fn legacy() -> Vec<String> {
    LEGACY_BUILD_REQUIRES
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `build-system.requires` from the text of a `pyproject.toml`.
pub fn parse_build_requires(text: &str) -> Result<Vec<String>, BuildRequiresError> {
    let value: toml::Table = text
        .parse()
        .map_err(|source| BuildRequiresError::Toml { source })?;
    let Some(requires) = value.get("build-system").and_then(|b| b.get("requires")) else {
        return Ok(legacy());
    };
    let list = requires.as_array().ok_or(BuildRequiresError::NotAList)?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or(BuildRequiresError::NotAString)
        })
        .collect()
}

/// `<top>/pyproject.toml`: exactly one directory level deep.
fn is_top_pyproject(member: &str) -> bool {
    matches!(member_parts(member)[..], [_, "pyproject.toml"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_build_system_requires_or_falls_back() {
        let text = "[build-system]\nrequires = [\"setuptools>=61\", \"cython\"]\nbuild-backend = \"setuptools.build_meta\"\n";
        assert_eq!(
            parse_build_requires(text).unwrap(),
            ["setuptools>=61", "cython"]
        );
        assert_eq!(
            parse_build_requires("[project]\nname='x'\n").unwrap(),
            legacy()
        );
        assert!(parse_build_requires("[build-system\n").is_err());
    }

    #[test]
    fn only_the_top_level_pyproject_counts() {
        assert!(is_top_pyproject("regex-2024.11.6/pyproject.toml"));
        assert!(!is_top_pyproject("regex-2024.11.6/sub/pyproject.toml"));
        assert!(!is_top_pyproject("pyproject.toml"));
    }
}
