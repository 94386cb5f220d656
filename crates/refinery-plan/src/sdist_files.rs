//! Read small text files out of an sdist (`.tar.gz` or `.zip`) without unpacking it to
//! disk: `pyproject.toml`, `Cargo.toml` and the like.

use std::io::Read;
use std::path::Path;

/// The most read of one member; larger files are cut (these are configuration files).
pub const MAX_MEMBER_BYTES: u64 = 4 * 1024 * 1024;
/// The most members returned, so a hostile archive cannot make us hold thousands.
pub const MAX_MEMBERS: usize = 64;

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
) -> Result<Vec<(String, String)>, String> {
    let name = path.to_string_lossy();
    if name.ends_with(".zip") {
        from_zip(path, select)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        from_tar_gz(path, select)
    } else {
        Err(format!("unsupported sdist format: {}", path.display()))
    }
}

fn read_text(reader: impl Read, member: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_MEMBER_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {member}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn from_tar_gz(
    path: &Path,
    select: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| format!("{} is not a readable .tar.gz: {e}", path.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{} is corrupt: {e}", path.display()))?;
        let member = entry
            .path()
            .map_err(|e| e.to_string())?
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

fn from_zip(path: &Path, select: &dyn Fn(&str) -> bool) -> Result<Vec<(String, String)>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a readable zip: {e}", path.display()))?;
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
        let member = archive.by_index(index).map_err(|e| e.to_string())?;
        let name = member.name().to_string();
        let text = read_text(member, &name)?;
        found.push((name, text));
    }
    Ok(found)
}
