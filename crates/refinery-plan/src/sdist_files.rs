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

/// The newest modification time of the archive's members, in seconds since the Unix
/// epoch (UTC); `None` for an archive without members. A `.zip`'s MS-DOS times carry no
/// zone and are read as UTC. This is the "last modification of the source" that the
/// Reproducible Builds `SOURCE_DATE_EPOCH` specification asks a rebuild to use.
///
/// # Errors
///
/// The errors of [`read_text_members`]: the archive's format, opening or reading it.
pub fn newest_mtime(path: &Path) -> Result<Option<u64>, SdistFilesError> {
    let name = path.to_string_lossy();
    if name.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(open(path)?).map_err(not_archive(path, "zip"))?;
        let mut newest = None;
        for index in 0..archive.len() {
            let member =
                archive
                    .by_index_raw(index)
                    .map_err(|source| SdistFilesError::Corrupt {
                        path: path.to_path_buf(),
                        source: Box::new(source),
                    })?;
            let seconds = member.last_modified().map(dos_time_seconds);
            newest = newest.max(seconds);
        }
        Ok(newest)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(open(path)?));
        let entries = archive.entries().map_err(not_archive(path, ".tar.gz"))?;
        let mut newest = None;
        for entry in entries {
            let mtime = entry
                .map_err(corrupt(path))?
                .header()
                .mtime()
                .map_err(corrupt(path))?;
            newest = newest.max(Some(mtime));
        }
        Ok(newest)
    } else {
        Err(SdistFilesError::Format {
            path: path.to_path_buf(),
        })
    }
}

/// Seconds since the Unix epoch of a zip member's MS-DOS date and time (read as UTC).
fn dos_time_seconds(time: zip::DateTime) -> u64 {
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let (month, day) = (i64::from(time.month()), i64::from(time.day()));
    let year = i64::from(time.year()) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400
        + i64::from(time.hour()) * 3_600
        + i64::from(time.minute()) * 60
        + i64::from(time.second());
    u64::try_from(seconds).unwrap_or(0)
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

/// The error for an archive that is not the `kind` its name says.
fn not_archive<'a, E: std::error::Error + Send + Sync + 'static>(
    path: &'a Path,
    kind: &'static str,
) -> impl Fn(E) -> SdistFilesError + 'a {
    move |source| SdistFilesError::NotArchive {
        path: path.to_path_buf(),
        kind,
        source: Box::new(source),
    }
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
    let entries = archive.entries().map_err(not_archive(path, ".tar.gz"))?;
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
    let mut archive = zip::ZipArchive::new(open(path)?).map_err(not_archive(path, "zip"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_gz(path: &Path, members: &[(&str, u64)]) {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, mtime) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(2);
            header.set_mtime(*mtime);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, &b"x\n"[..]).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn the_newest_member_of_a_tar_gz_gives_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("demo-1.0.tar.gz");
        tar_gz(
            &sdist,
            &[
                ("demo-1.0/PKG-INFO", 1_700_000_000),
                ("demo-1.0/setup.py", 1_700_000_123),
                ("demo-1.0/demo.c", 1_600_000_000),
            ],
        );
        assert_eq!(newest_mtime(&sdist).unwrap(), Some(1_700_000_123));
        let empty = dir.path().join("empty-1.0.tar.gz");
        tar_gz(&empty, &[]);
        assert_eq!(newest_mtime(&empty).unwrap(), None);
    }

    #[test]
    fn a_zip_members_dos_time_is_read_as_utc() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("demo-1.0.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&sdist).unwrap());
        for (name, (y, mo, d, h, mi, s)) in [
            ("demo-1.0/PKG-INFO", (2023, 11, 14, 22, 13, 20)),
            ("demo-1.0/setup.py", (2020, 2, 29, 0, 0, 0)),
        ] {
            let time = zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap();
            let options = zip::write::SimpleFileOptions::default().last_modified_time(time);
            zip.start_file(name, options).unwrap();
            zip.write_all(b"x\n").unwrap();
        }
        zip.finish().unwrap();
        // 2023-11-14 22:13:20 UTC is 1,700,000,000 s (`date -u -d @1700000000`).
        assert_eq!(newest_mtime(&sdist).unwrap(), Some(1_700_000_000));
        let time = zip::DateTime::from_date_and_time(2020, 2, 29, 0, 0, 0).unwrap();
        assert_eq!(dos_time_seconds(time), 1_582_934_400);
        let first = zip::DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(dos_time_seconds(first), 315_532_800);
    }

    #[test]
    fn another_format_is_refused_naming_the_file() {
        let error = newest_mtime(Path::new("/tmp/demo-1.0.tar.bz2")).unwrap_err();
        assert!(error.to_string().contains("demo-1.0.tar.bz2"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken-1.0.tar.gz");
        std::fs::write(&broken, b"not gzip").unwrap();
        let error = newest_mtime(&broken).unwrap_err();
        assert!(error.to_string().contains("broken-1.0.tar.gz"), "{error}");
    }
}
