//! Writing a copy of a wheel whose `.dist-info/WHEEL` says something else (other tags, a
//! build number), with RECORD's line for WHEEL updated to the new digest and size
//! (binary distribution format: RECORD lists every file with its sha256 and size).
//!
//! Every other member is copied raw (its compressed bytes, times and attributes as they
//! were), so a large wheel is not recompressed; WHEEL and RECORD are written last, with
//! the zip's earliest time so that the copy's bytes depend only on its content.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

/// Why a wheel could not be rewritten; each names the wheel.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The wheel has no `<name>.dist-info/WHEEL` at its top.
    #[error("cannot rewrite {}: it has no .dist-info/WHEEL", wheel.display())]
    NoWheelFile { wheel: PathBuf },
    #[error("cannot rewrite {}: {source}", wheel.display())]
    Io {
        wheel: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot rewrite {}: {source}", wheel.display())]
    Zip {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
}

/// True for `<something>.dist-info/<file>` at the wheel's top.
fn is_top_dist_info(member: &str, file: &str) -> bool {
    member
        .strip_suffix(file)
        .and_then(|dir| dir.strip_suffix(".dist-info/"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// Writes a copy of `wheel` to `dest` whose WHEEL is `edit(old WHEEL text)` and whose
/// RECORD names the new WHEEL's sha256 (URL-safe base64, no padding) and size.
///
/// # Errors
///
/// [`RewriteError`] naming `wheel`: no WHEEL, not a zip, or a read or write failure
/// (`dest` is then removed).
pub fn rewrite_wheel_file(
    wheel: &Path,
    dest: &Path,
    edit: &dyn Fn(&str) -> String,
) -> Result<(), RewriteError> {
    let result = write_copy(wheel, dest, edit);
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

fn write_copy(
    wheel: &Path,
    dest: &Path,
    edit: &dyn Fn(&str) -> String,
) -> Result<(), RewriteError> {
    let io_err = |source| RewriteError::Io {
        wheel: wheel.to_path_buf(),
        source,
    };
    let zip_err = |source| RewriteError::Zip {
        wheel: wheel.to_path_buf(),
        source,
    };
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(wheel).map_err(io_err)?).map_err(zip_err)?;
    let read = |archive: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .map_err(zip_err)?
            .read_to_string(&mut text)
            .map_err(io_err)?;
        Ok::<_, RewriteError>(text)
    };
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let wheel_member = names
        .iter()
        .find(|n| is_top_dist_info(n, "WHEEL"))
        .cloned()
        .ok_or_else(|| RewriteError::NoWheelFile {
            wheel: wheel.to_path_buf(),
        })?;
    let record_member = names
        .iter()
        .find(|n| is_top_dist_info(n, "RECORD"))
        .cloned();
    let new_wheel = edit(&read(&mut archive, &wheel_member)?);
    let record_line = format!(
        "{wheel_member},sha256={},{}",
        refinery_index::base64_encode(&sha2::Sha256::digest(new_wheel.as_bytes()), true),
        new_wheel.len()
    );
    let new_record = match &record_member {
        Some(member) => Some(
            read(&mut archive, member)?
                .lines()
                .map(|l| {
                    if l.starts_with(&format!("{wheel_member},")) {
                        format!("{record_line}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect::<String>(),
        ),
        None => None,
    };

    let mut out = zip::ZipWriter::new(std::fs::File::create(dest).map_err(io_err)?);
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_err)?;
        if entry.name() == wheel_member || Some(entry.name()) == record_member.as_deref() {
            continue;
        }
        copy_member(&mut out, entry).map_err(zip_err)?;
    }
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    out.start_file(wheel_member.as_str(), options)
        .map_err(zip_err)?;
    out.write_all(new_wheel.as_bytes()).map_err(io_err)?;
    if let (Some(member), Some(text)) = (&record_member, &new_record) {
        out.start_file(member.as_str(), options).map_err(zip_err)?;
        out.write_all(text.as_bytes()).map_err(io_err)?;
    }
    out.finish().map_err(zip_err)?;
    Ok(())
}

/// Copies `entry` into `out` as it is: a file raw (its compressed bytes), a directory as a
/// directory with its mode and time (the zip crate's raw copy writes a directory entry's
/// attributes as a regular file's, which auditwheel's and pip's do not).
///
/// # Errors
/// The zip writer's error.
pub fn copy_member<W, R>(
    out: &mut zip::ZipWriter<W>,
    entry: zip::read::ZipFile<'_, R>,
) -> zip::result::ZipResult<()>
where
    W: Write + std::io::Seek,
    R: Read,
{
    if entry.is_dir() {
        let mut options = zip::write::SimpleFileOptions::default()
            .last_modified_time(entry.last_modified().unwrap_or_default());
        if let Some(mode) = entry.unix_mode() {
            options = options.unix_permissions(mode & 0o7777);
        }
        return out.add_directory(entry.name(), options);
    }
    out.raw_copy_file(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel of `members` (name, text), stored in that order.
    pub(crate) fn write_wheel(path: &Path, members: &[(&str, &str)]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, text) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }

    fn member(wheel: &Path, name: &str) -> String {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn wheel_changes_and_record_follows_the_rest_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
        write_wheel(
            &wheel,
            &[
                ("demo/__init__.py", "x = 1\n"),
                ("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n"),
                (
                    "demo-1.0.dist-info/RECORD",
                    "demo/__init__.py,sha256=abc,6\ndemo-1.0.dist-info/WHEEL,sha256=old,36\ndemo-1.0.dist-info/RECORD,,\n",
                ),
            ],
        );
        let dest = dir.path().join("demo-1.0-1-py3-none-any.whl");
        rewrite_wheel_file(&wheel, &dest, &|text| format!("{text}Build: 1\n")).unwrap();
        let text = member(&dest, "demo-1.0.dist-info/WHEEL");
        assert_eq!(text, "Wheel-Version: 1.0\nTag: py3-none-any\nBuild: 1\n");
        let digest = refinery_index::base64_encode(&sha2::Sha256::digest(text.as_bytes()), true);
        assert_eq!(
            member(&dest, "demo-1.0.dist-info/RECORD"),
            format!(
                "demo/__init__.py,sha256=abc,6\ndemo-1.0.dist-info/WHEEL,sha256={digest},{}\ndemo-1.0.dist-info/RECORD,,\n",
                text.len()
            )
        );
        assert_eq!(member(&dest, "demo/__init__.py"), "x = 1\n");
        // The same rewrite of the same wheel gives the same bytes.
        let again = dir.path().join("again.whl");
        rewrite_wheel_file(&wheel, &again, &|text| format!("{text}Build: 1\n")).unwrap();
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }

    #[test]
    fn a_directory_entry_stays_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.add_directory("demo/", options).unwrap();
        zip.start_file("demo-1.0.dist-info/WHEEL", options).unwrap();
        zip.write_all(b"Wheel-Version: 1.0\n").unwrap();
        zip.finish().unwrap();
        let dest = dir.path().join("out.whl");
        rewrite_wheel_file(&wheel, &dest, &|t| t.to_string()).unwrap();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&dest).unwrap()).unwrap();
        let entry = archive.by_name("demo/").unwrap();
        assert!(entry.is_dir());
        assert_eq!(entry.unix_mode().map(|m| m & 0o170_000), Some(0o040_000));
    }

    #[test]
    fn a_wheel_without_wheel_file_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
        write_wheel(
            &wheel,
            &[("demo/sub.dist-info/WHEEL", "nested, not the top\n")],
        );
        let dest = dir.path().join("out.whl");
        let error = rewrite_wheel_file(&wheel, &dest, &|t| t.to_string()).unwrap_err();
        assert!(
            error.to_string().contains("demo-1.0-py3-none-any.whl")
                && error.to_string().contains("no .dist-info/WHEEL"),
            "{error}"
        );
        assert!(!dest.exists());
    }
}
