//! Read an sdist's PEP 518 `build-system.requires` without unpacking it to disk.

use std::io::Read;
use std::path::Path;

/// PEP 517's fallback when an sdist has no `pyproject.toml` or no `[build-system]`.
pub const LEGACY_BUILD_REQUIRES: [&str; 2] = ["setuptools>=40.8.0", "wheel"];
const MAX_PYPROJECT_BYTES: u64 = 4 * 1024 * 1024;

/// The build requirements declared by the sdist at `path` (`.tar.gz` or `.zip`).
pub fn read_build_requires(path: &Path) -> Result<Vec<String>, String> {
    let name = path.to_string_lossy();
    let pyproject = if name.ends_with(".zip") {
        pyproject_from_zip(path)?
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        pyproject_from_tar_gz(path)?
    } else {
        return Err(format!("unsupported sdist format: {}", path.display()));
    };
    Ok(match pyproject {
        Some(text) => parse_build_requires(&text)?,
        None => legacy(),
    })
}

fn legacy() -> Vec<String> {
    LEGACY_BUILD_REQUIRES
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// `build-system.requires` from the text of a `pyproject.toml`.
pub fn parse_build_requires(text: &str) -> Result<Vec<String>, String> {
    let value: toml::Table = text
        .parse()
        .map_err(|e| format!("pyproject.toml is not valid TOML: {e}"))?;
    let Some(requires) = value.get("build-system").and_then(|b| b.get("requires")) else {
        return Ok(legacy());
    };
    let list = requires
        .as_array()
        .ok_or("build-system.requires is not a list")?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| "build-system.requires holds a non-string".to_string())
        })
        .collect()
}

/// `<top>/pyproject.toml`: exactly one directory level deep.
fn is_top_pyproject(member: &str) -> bool {
    let mut parts = member.trim_start_matches("./").split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(_), Some("pyproject.toml"), None)
    )
}

fn pyproject_from_tar_gz(path: &Path) -> Result<Option<String>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| format!("{} is not a readable .tar.gz: {e}", path.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{} is corrupt: {e}", path.display()))?;
        let member = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if is_top_pyproject(&member) {
            let mut text = String::new();
            entry
                .take(MAX_PYPROJECT_BYTES)
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read {member}: {e}"))?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

fn pyproject_from_zip(path: &Path) -> Result<Option<String>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a readable zip: {e}", path.display()))?;
    let Some(index) =
        (0..archive.len()).find(|&i| archive.name_for_index(i).is_some_and(is_top_pyproject))
    else {
        return Ok(None);
    };
    let member = archive.by_index(index).map_err(|e| e.to_string())?;
    let mut text = String::new();
    member
        .take(MAX_PYPROJECT_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read pyproject.toml: {e}"))?;
    Ok(Some(text))
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
