//! The target's numpy for a native meson-python build.
//!
//! The native frontend installs build dependencies for the host, so the numpy a
//! meson-python build finds by running Python is x86_64: its headers serve (both are LP64),
//! but its static `libnpymath.a` does not, and scipy 1.16.3 then stops at configure
//! (`C shared or static library 'npymath' not found`: meson searches it for the s390x host
//! machine). scipy's and scikit-learn's `meson.build` read numpy's place from the cross
//! file first (`meson.get_external_property('numpy-include-dir', ...)`, scipy's "Cross
//! compilation" notes) and derive `npymath`'s folder (`<include>/../lib`) and f2py's
//! sources (`<include>/../../f2py/src`) from it. So when the run has already built numpy
//! for the target (its wheel is among the run's wheels, as the plan's build edges order
//! it), the build gets that wheel's headers, static libraries and f2py sources, and the
//! cross file names them.

use std::path::{Path, PathBuf};

use refinery_pep::{Requirement, Target, Version, VersionOrUrl, WheelFilename};

/// The folder (in the attempt's cross folder) the target's numpy is unpacked into.
pub const DIR: &str = "target-numpy";

/// The cross-file property meson builds read numpy's include folder from.
pub const PROPERTY: &str = "numpy-include-dir";

/// Why the target's numpy could not be unpacked; each names the wheel.
#[derive(Debug, thiserror::Error)]
pub enum TargetNumpyError {
    #[error("cannot read the target's numpy {}: {source}", wheel.display())]
    Read {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("cannot unpack the target's numpy {} into {}: {source}", wheel.display(), dest.display())]
    Write {
        wheel: PathBuf,
        dest: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the target's numpy {} has no C headers (numpy/_core/include or numpy/core/include)", wheel.display())]
    NoHeaders { wheel: PathBuf },
}

/// The numpy that `build_requires` (PEP 518 `build-system.requires`) asks for, if any.
/// Markers are not evaluated: a numpy requirement under any marker counts.
pub fn numpy_requirement(build_requires: &[String]) -> Option<Requirement> {
    build_requires
        .iter()
        .filter_map(|r| r.parse::<Requirement>().ok())
        .find(|r| r.name.as_ref() == "numpy")
}

/// The newest numpy wheel in `wheels_dir` that installs on `target` and satisfies
/// `requirement`'s version specifiers (a URL requirement matches none).
pub fn find_wheel(
    wheels_dir: &Path,
    target: &Target,
    requirement: &Requirement,
) -> Option<PathBuf> {
    let entries = std::fs::read_dir(wheels_dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wheel: WheelFilename = name.parse().ok()?;
            let wanted = wheel.name.as_ref() == "numpy"
                && target.compatibility(&wheel).is_compatible()
                && satisfies(requirement, &wheel.version);
            wanted.then(|| (wheel.version, entry.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

fn satisfies(requirement: &Requirement, version: &Version) -> bool {
    match &requirement.version_or_url {
        None => true,
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.contains(version),
        Some(VersionOrUrl::Url(_)) => false,
    }
}

/// The members a build compiles and links against: the C headers and static libraries
/// (with `numpy.pc`) of `numpy/_core` (numpy 2) or `numpy/core` (numpy 1), and f2py's C
/// sources.
fn is_build_member(member: &str) -> bool {
    ["numpy/_core/", "numpy/core/"].iter().any(|core| {
        member
            .strip_prefix(core)
            .is_some_and(|rest| rest.starts_with("include/") || rest.starts_with("lib/"))
    }) || member.starts_with("numpy/f2py/src/")
}

/// Unpacks the build members of the numpy `wheel` into `dest` and returns its include
/// folder's path relative to `dest` (`numpy/_core/include` for numpy 2). Member names
/// that would leave `dest` are skipped (the zip crate's `enclosed_name`).
///
/// # Errors
/// [`TargetNumpyError`] naming the wheel: unreadable, unwritable, or without headers.
pub fn unpack(wheel: &Path, dest: &Path) -> Result<PathBuf, TargetNumpyError> {
    let read = |source| TargetNumpyError::Read {
        wheel: wheel.to_path_buf(),
        source,
    };
    let write = |source| TargetNumpyError::Write {
        wheel: wheel.to_path_buf(),
        dest: dest.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(wheel).map_err(|e| read(e.into()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(read)?;
    for index in 0..archive.len() {
        let mut member = archive.by_index(index).map_err(read)?;
        let Some(relative) = member.enclosed_name() else {
            continue;
        };
        if member.is_dir() || !is_build_member(&relative.to_string_lossy()) {
            continue;
        }
        let target = dest.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        let mut out = std::fs::File::create(&target).map_err(write)?;
        std::io::copy(&mut member, &mut out).map_err(write)?;
    }
    ["numpy/_core/include", "numpy/core/include"]
        .iter()
        .map(PathBuf::from)
        .find(|include| dest.join(include).join("numpy/ndarrayobject.h").is_file())
        .ok_or_else(|| TargetNumpyError::NoHeaders {
            wheel: wheel.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn wheel(dir: &Path, filename: &str, members: &[&str]) -> PathBuf {
        let path = dir.join(filename);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for member in members {
            zip.start_file(*member, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(member.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn requirement(text: &str) -> Requirement {
        numpy_requirement(&["meson-python>=0.15".to_string(), text.to_string()]).unwrap()
    }

    #[test]
    fn picks_the_newest_numpy_for_the_target_that_the_build_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        for name in [
            "numpy-2.4.4-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl",
            "numpy-2.5.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "numpy-2.5.0-cp312-cp312-manylinux2014_s390x.whl",
            "numpy-1.26.4-cp311-cp311-manylinux2014_s390x.whl",
            "scipy-1.16.3-cp311-cp311-manylinux2014_s390x.whl",
        ] {
            wheel(dir.path(), name, &[]);
        }
        let found = |text: &str| {
            find_wheel(dir.path(), &target, &requirement(text))
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        };
        assert_eq!(
            found("numpy>=2.0.0").as_deref(),
            Some("numpy-2.4.4-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl")
        );
        assert_eq!(
            found("numpy<2").as_deref(),
            Some("numpy-1.26.4-cp311-cp311-manylinux2014_s390x.whl")
        );
        assert_eq!(found("numpy>=3"), None);
        assert!(numpy_requirement(&["Cython>=3".to_string()]).is_none());
    }

    #[test]
    fn unpacks_headers_libraries_and_f2py_sources_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(
            dir.path(),
            "numpy-2.4.4-cp311-cp311-manylinux2014_s390x.whl",
            &[
                "numpy/_core/include/numpy/ndarrayobject.h",
                "numpy/_core/lib/libnpymath.a",
                "numpy/_core/lib/pkgconfig/numpy.pc",
                "numpy/f2py/src/fortranobject.c",
                "numpy/_core/_multiarray_umath.cpython-311-s390x-linux-gnu.so",
                "numpy/../../escape/numpy/_core/include/x.h",
            ],
        );
        let dest = dir.path().join("unpacked");
        let include = unpack(&path, &dest).unwrap();
        assert_eq!(include, Path::new("numpy/_core/include"));
        for kept in [
            "numpy/_core/lib/libnpymath.a",
            "numpy/_core/lib/pkgconfig/numpy.pc",
            "numpy/f2py/src/fortranobject.c",
        ] {
            assert!(dest.join(kept).is_file(), "{kept}");
        }
        assert!(!dest
            .join("numpy/_core/_multiarray_umath.cpython-311-s390x-linux-gnu.so")
            .exists());
        assert!(!dir.path().join("escape").exists());

        let headerless = wheel(
            dir.path(),
            "numpy-2.4.3-cp311-cp311-manylinux2014_s390x.whl",
            &["numpy/__init__.py"],
        );
        let e = unpack(&headerless, &dir.path().join("other")).unwrap_err();
        assert!(e.to_string().contains("numpy-2.4.3"), "{e}");
    }
}
