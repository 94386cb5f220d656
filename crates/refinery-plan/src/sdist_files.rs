//! Read small text files out of an sdist (`.tar.gz` or `.zip`) without unpacking it to
//! disk: `pyproject.toml`, `Cargo.toml` and the like.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most read of one member; larger files are cut (these are configuration files).
pub const MAX_MEMBER_BYTES: u64 = 4 * 1024 * 1024;
/// The most members returned, so a hostile archive cannot make us hold thousands.
pub const MAX_MEMBERS: usize = 64;

/// Why an sdist's members could not be read; each names the archive (and the member).
#[derive(Debug, thiserror::Error)]
pub enum SdistFilesError {
    #[error("unsupported sdist format: {}", path.display())]
    Format { path: PathBuf },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a `.tar.gz` or `.zip` that can be read (`kind` says which was expected).
    #[error("{} is not a readable {kind}: {source}", path.display())]
    NotArchive {
        path: PathBuf,
        kind: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{} is corrupt: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read {member}: {source}")]
    Member {
        member: String,
        #[source]
        source: std::io::Error,
    },
}

/// The member path without a leading `./`, split into its parts.
pub fn member_parts(member: &str) -> Vec<&str> {
    member
        .trim_start_matches("./")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect()
}

/// `(member path, text)` of every member `select` accepts, in archive order, at most
/// [`MAX_MEMBERS`]. Errors name the archive and say what is wrong with it.
pub fn read_text_members(
    path: &Path,
    select: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, SdistFilesError> {
    let name = path.to_string_lossy();
    if name.ends_with(".zip") {
        from_zip(path, select)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        from_tar_gz(path, select)
    } else {
        Err(SdistFilesError::Format {
            path: path.to_path_buf(),
        })
    }
}

fn read_text(reader: impl Read, member: &str) -> Result<String, SdistFilesError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_MEMBER_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|source| SdistFilesError::Member {
            member: member.to_string(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn open(path: &Path) -> Result<std::fs::File, SdistFilesError> {
    std::fs::File::open(path).map_err(|source| SdistFilesError::Open {
        path: path.to_path_buf(),
        source,
    })
}

fn corrupt(path: &Path) -> impl Fn(std::io::Error) -> SdistFilesError + '_ {
    move |source| SdistFilesError::Corrupt {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

fn from_tar_gz(
    path: &Path,
    select: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, SdistFilesError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(open(path)?));
    let entries = archive
        .entries()
        .map_err(|source| SdistFilesError::NotArchive {
            path: path.to_path_buf(),
            kind: ".tar.gz",
            source: Box::new(source),
        })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(corrupt(path))?;
        let member = entry
            .path()
            .map_err(corrupt(path))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type().is_file() && select(&member) {
            let text = read_text(entry, &member)?;
            found.push((member, text));
            if found.len() >= MAX_MEMBERS {
                break;
            }
        }
    }
    Ok(found)
}

fn from_zip(
    path: &Path,
    select: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, SdistFilesError> {
    let mut archive =
        zip::ZipArchive::new(open(path)?).map_err(|source| SdistFilesError::NotArchive {
            path: path.to_path_buf(),
            kind: "zip",
            source: Box::new(source),
        })?;
    let wanted: Vec<usize> = (0..archive.len())
        .filter(|&i| {
            archive
                .name_for_index(i)
                .is_some_and(|n| !n.ends_with('/') && select(n))
        })
        .take(MAX_MEMBERS)
        .collect();
    let mut found = Vec::new();
    for index in wanted {
        let member = archive
            .by_index(index)
            .map_err(|source| SdistFilesError::Corrupt {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
        let name = member.name().to_string();
        let text = read_text(member, &name)?;
        found.push((name, text));
    }
    Ok(found)
}
