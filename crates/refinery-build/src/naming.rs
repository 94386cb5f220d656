//! A rebuilt wheel never takes the name of an index file with other bytes: when the index
//! already lists a wheel under the name auditwheel gave ours (e.g. PyPI's own s390x wheel,
//! refused with `--no-binary`), ours gets the build tag `1` (PEP 427:
//! `name-version-1-python-abi-platform.whl`), so that the two never pass for each other and
//! pip prefers ours where both are seen (a higher build tag wins among equal tags).

use std::path::{Path, PathBuf};

use refinery_index::IndexClient;

/// `name-version-rest.whl` → `name-version-1-rest.whl`; `None` when the name already has a
/// build tag or is no wheel name.
pub fn with_build_tag(filename: &str) -> Option<String> {
    let parsed: refinery_pep::WheelFilename = filename.parse().ok()?;
    if parsed.build_tag.is_some() {
        return None;
    }
    let mut parts = filename.splitn(3, '-');
    let (name, version, rest) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{name}-{version}-1-{rest}"))
}

/// Why a rebuilt wheel could not take a name distinct from the index's.
#[derive(Debug, thiserror::Error)]
pub enum NamingError {
    #[error("the index has another file named {filename}, and the name already has a build tag")]
    HasBuildTag { filename: String },
    #[error("cannot rename {filename} to {renamed}: {source}")]
    Rename {
        filename: String,
        renamed: String,
        #[source]
        source: std::io::Error,
    },
}

/// If the index lists a file named like `wheel` (of `project`) whose sha256 differs from
/// `sha256`, rename `wheel` with a build tag and return the new path and the name it
/// avoided. Listing errors leave the name as it is (the store still refuses a second file
/// under a published name).
///
/// # Errors
/// [`NamingError`] when the name already has a build tag or the rename fails.
pub fn avoid_index_name(
    wheel: &Path,
    sha256: &str,
    project: &str,
    client: &IndexClient,
) -> Result<Option<(PathBuf, String)>, NamingError> {
    let Some(filename) = wheel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let Ok(files) = client.project_files(project) else {
        return Ok(None);
    };
    let clash = files.iter().any(|f| {
        f.filename == filename
            && f.sha256
                .as_deref()
                .is_none_or(|s| !s.eq_ignore_ascii_case(sha256))
    });
    if !clash {
        return Ok(None);
    }
    let Some(renamed) = with_build_tag(&filename) else {
        return Err(NamingError::HasBuildTag { filename });
    };
    let dest = wheel.with_file_name(&renamed);
    if let Err(source) = std::fs::rename(wheel, &dest) {
        return Err(NamingError::Rename {
            filename,
            renamed,
            source,
        });
    }
    Ok(Some((dest, filename)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_tag_goes_after_the_version() {
        assert_eq!(
            with_build_tag("fast_add-1.0-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl")
                .as_deref(),
            Some("fast_add-1.0-1-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl")
        );
        assert_eq!(with_build_tag("a-1.0-2-py3-none-any.whl"), None);
        assert_eq!(with_build_tag("not-a-wheel.tar.gz"), None);
        let tagged: refinery_pep::WheelFilename = with_build_tag("a-1.0-py3-none-any.whl")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(tagged.build_tag.unwrap().number, 1);
    }
}
