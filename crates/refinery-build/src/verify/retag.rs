//! Never publish compiled code as `any`: a built wheel tagged pure (`py3-none-any`) that
//! carries s390x ELF files is retagged as the platform wheel it is
//! (`cp311-cp311-linux_s390x`), so that auditwheel repairs it to a manylinux tag.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

/// Why a wheel could not be retagged; each names the wheel (or the folder).
#[derive(Debug, thiserror::Error)]
pub enum RetagError {
    /// The wheel's name or content is not what a wheel has (`reason` says what).
    #[error("cannot retag {}: {reason}", wheel.display())]
    Invalid {
        wheel: PathBuf,
        reason: &'static str,
    },
    #[error("cannot retag {}: {source}", wheel.display())]
    Io {
        wheel: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot retag {}: {source}", wheel.display())]
    Zip {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Write a copy of `wheel` into `out_dir` tagged `<python>-<abi>-linux_s390x`: its WHEEL
/// file gets `Root-Is-Purelib: false` and that one `Tag`, its RECORD the new digest and
/// size of WHEEL, its file name the new tags. Returns the new wheel's path. Errors name
/// the wheel.
///
/// # Errors
/// [`RetagError`] naming the wheel.
pub fn retag_as_platform(
    wheel: &Path,
    out_dir: &Path,
    python: &str,
    abi: &str,
) -> Result<PathBuf, RetagError> {
    let what = |reason| RetagError::Invalid {
        wheel: wheel.to_path_buf(),
        reason,
    };
    let io_err = |source| RetagError::Io {
        wheel: wheel.to_path_buf(),
        source,
    };
    let zip_err = |source| RetagError::Zip {
        wheel: wheel.to_path_buf(),
        source,
    };
    let file_name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file_name
        .strip_suffix(".whl")
        .ok_or_else(|| what("not a .whl file"))?;
    // name-version[-build]-python-abi-platform: the last three parts are the tags.
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return Err(what("its file name has no tags"));
    }
    let head = parts[..parts.len() - 3].join("-");
    let tag = format!("{python}-{abi}-linux_s390x");
    let dest = out_dir.join(format!("{head}-{tag}.whl"));

    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(wheel).map_err(io_err)?).map_err(zip_err)?;
    let mut members: Vec<(String, Vec<u8>)> = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(zip_err)?;
        if member.is_dir() {
            continue;
        }
        let mut bytes = Vec::with_capacity(member.size() as usize);
        member.read_to_end(&mut bytes).map_err(io_err)?;
        members.push((member.name().to_string(), bytes));
    }
    let wheel_member = members
        .iter()
        .position(|(n, _)| n.ends_with(".dist-info/WHEEL") && n.matches('/').count() == 1)
        .ok_or_else(|| what("it has no .dist-info/WHEEL"))?;
    let text = String::from_utf8_lossy(&members[wheel_member].1).into_owned();
    let mut rewritten: String = text
        .lines()
        .filter(|l| !l.starts_with("Tag:"))
        .map(|l| {
            if l.starts_with("Root-Is-Purelib:") {
                "Root-Is-Purelib: false\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    rewritten.push_str(&format!("Tag: {tag}\n"));
    let wheel_name = members[wheel_member].0.clone();
    members[wheel_member].1 = rewritten.into_bytes();
    let record_line = format!(
        "{wheel_name},sha256={},{}",
        urlsafe_b64(&sha2::Sha256::digest(&members[wheel_member].1)),
        members[wheel_member].1.len()
    );
    if let Some((_, record)) = members
        .iter_mut()
        .find(|(n, _)| n.ends_with(".dist-info/RECORD") && n.matches('/').count() == 1)
    {
        let text = String::from_utf8_lossy(record).into_owned();
        *record = text
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{wheel_name},")) {
                    format!("{record_line}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>()
            .into_bytes();
    }
    let mut out = zip::ZipWriter::new(std::fs::File::create(&dest).map_err(io_err)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in &members {
        out.start_file(name.as_str(), options).map_err(zip_err)?;
        out.write_all(bytes).map_err(io_err)?;
    }
    out.finish().map_err(zip_err)?;
    Ok(dest)
}

/// [`retag_as_platform`] for `target` (`cp311-cp311-linux_s390x`) into `<dir>/retagged`.
///
/// # Errors
/// As [`retag_as_platform`], or [`RetagError::CreateDir`].
pub fn retag_into(
    wheel: &Path,
    dir: &Path,
    target: &refinery_pep::Target,
) -> Result<PathBuf, RetagError> {
    let out = dir.join("retagged");
    std::fs::create_dir_all(&out).map_err(|source| RetagError::CreateDir {
        path: out.clone(),
        source,
    })?;
    retag_as_platform(wheel, &out, &target.cpython_tag(), &target.abi_tag())
}

/// Base64 with the URL-safe alphabet and no padding, as RECORD files spell digests.
fn urlsafe_b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_record_spelling() {
        assert_eq!(urlsafe_b64(b""), "");
        assert_eq!(urlsafe_b64(b"f"), "Zg");
        assert_eq!(urlsafe_b64(b"fo"), "Zm8");
        assert_eq!(urlsafe_b64(b"foo"), "Zm9v");
        assert_eq!(urlsafe_b64(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn a_pure_tagged_wheel_becomes_a_platform_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fast_pkg-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, text) in [
            ("fast_pkg/_x.so", "\x7fELF"),
            (
                "fast_pkg-1.0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            ),
            (
                "fast_pkg-1.0.dist-info/RECORD",
                "fast_pkg/_x.so,sha256=abc,4\nfast_pkg-1.0.dist-info/WHEEL,sha256=old,70\nfast_pkg-1.0.dist-info/RECORD,,\n",
            ),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let retagged = retag_as_platform(&path, &out, "cp311", "cp311").unwrap();
        assert_eq!(
            retagged.file_name().unwrap(),
            "fast_pkg-1.0-cp311-cp311-linux_s390x.whl"
        );
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&retagged).unwrap()).unwrap();
        let mut text = String::new();
        archive
            .by_name("fast_pkg-1.0.dist-info/WHEEL")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("Root-Is-Purelib: false\n"), "{text}");
        assert!(text.ends_with("Tag: cp311-cp311-linux_s390x\n"), "{text}");
        assert!(!text.contains("py3-none-any"), "{text}");
        let digest = urlsafe_b64(&sha2::Sha256::digest(text.as_bytes()));
        let mut record = String::new();
        archive
            .by_name("fast_pkg-1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        assert!(
            record.contains(&format!(
                "fast_pkg-1.0.dist-info/WHEEL,sha256={digest},{}\n",
                text.len()
            )),
            "{record}"
        );
        assert!(record.contains("fast_pkg/_x.so,sha256=abc,4"));
    }
}
