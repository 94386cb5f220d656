//! Never publish compiled code as `any`: a built wheel tagged pure (`py3-none-any`) that
//! carries s390x ELF files is retagged as the platform wheel it is
//! (`cp311-cp311-linux_s390x`), so that auditwheel repairs it to a manylinux tag.

use std::path::{Path, PathBuf};

/// Why a wheel could not be retagged; each names the wheel (or the folder).
#[derive(Debug, thiserror::Error)]
pub enum RetagError {
    /// The wheel's name or content is not what a wheel has (`reason` says what).
    #[error("cannot retag {}: {reason}", wheel.display())]
    Invalid {
        wheel: PathBuf,
        reason: &'static str,
    },
    /// The copy could not be written (it names the wheel).
    #[error("cannot retag: {0}")]
    Rewrite(#[from] crate::wheel_rewrite::RewriteError),
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

    let edit = |text: &str| {
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
        rewritten
    };
    crate::wheel_rewrite::rewrite_wheel_file(wheel, &dest, &edit)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use std::io::{Read, Write};

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
        let digest = refinery_index::base64_encode(&sha2::Sha256::digest(text.as_bytes()), true);
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
