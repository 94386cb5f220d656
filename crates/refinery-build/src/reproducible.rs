//! The time a rebuilt wheel records: `SOURCE_DATE_EPOCH`
//! (<https://reproducible-builds.org/specs/source-date-epoch/>).
//!
//! Without it a wheel's zip members carry the build's clock time, so two builds of one
//! sdist with the same toolchain differ in bytes (and sha256) though every file is the
//! same. Build backends (`wheel`'s `bdist_wheel`, meson-python, maturin, flit, hatchling)
//! and auditwheel's repair honour the variable, so the build step and the repair get it.

use std::path::Path;

/// The variable's name, as the specification spells it.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// 1980-01-01T00:00:00Z: the earliest time a zip member can carry (MS-DOS dates).
pub const ZIP_EPOCH: u64 = 315_532_800;

/// 2107-12-31T23:59:58Z: the latest time a zip member can carry.
pub const ZIP_LAST: u64 = 4_354_819_198;

/// Where [`for_sdist`]'s time came from, for the build log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochSource {
    /// The caller's own `SOURCE_DATE_EPOCH` (the specification: a tool must honour it).
    Environment,
    /// The newest member of the sdist: the last modification of the source.
    NewestSdistFile,
    /// The sdist could not be read (or has no member): the zip epoch, and why.
    Fallback(String),
}

/// The `SOURCE_DATE_EPOCH` (seconds since 1970-01-01 UTC) for building `sdist`: the
/// environment's value when it is a number, else the newest modification time of the
/// sdist's members; either kept within what a zip can record ([`ZIP_EPOCH`] to
/// [`ZIP_LAST`]). The same sdist gives the same
/// value on every machine, so a rebuild gives the same bytes.
pub fn for_sdist(sdist: &Path) -> (u64, EpochSource) {
    choose(std::env::var(SOURCE_DATE_EPOCH).ok().as_deref(), sdist)
}

/// [`for_sdist`] with the environment's value given.
fn choose(environment: Option<&str>, sdist: &Path) -> (u64, EpochSource) {
    let in_zip_range = |t: u64| t.clamp(ZIP_EPOCH, ZIP_LAST);
    if let Some(value) = environment.and_then(|v| v.trim().parse::<u64>().ok()) {
        return (in_zip_range(value), EpochSource::Environment);
    }
    match refinery_plan::sdist_files::newest_mtime(sdist) {
        Ok(Some(mtime)) => (in_zip_range(mtime), EpochSource::NewestSdistFile),
        Ok(None) => (
            ZIP_EPOCH,
            EpochSource::Fallback("the sdist has no member".into()),
        ),
        Err(e) => (ZIP_EPOCH, EpochSource::Fallback(e.to_string())),
    }
}

/// The build log's line for `epoch` taken from `source`.
pub fn log_line(epoch: u64, source: &EpochSource) -> String {
    let from = match source {
        EpochSource::Environment => "from the environment".to_string(),
        EpochSource::NewestSdistFile => "the sdist's newest file".to_string(),
        EpochSource::Fallback(why) => format!("1980-01-01: {why}"),
    };
    format!("[refinery] {SOURCE_DATE_EPOCH}={epoch} ({from}): the wheel's file times")
}

/// The attempt's folder meson-python builds in, below the build root: a fixed path, where
/// meson-python's own default is a random `.mesonpy-XXXXXXXX` in the source tree, which
/// numpy's `__config__.py`, contourpy's `_build_config.py` and the debug information of
/// static libraries record.
pub const MESON_BUILD_DIR: &str = "meson-build";

/// `PIP_CONFIG_SETTINGS` with meson-python's `build-dir` set to
/// `<build_root>/`[`MESON_BUILD_DIR`] added, for a meson-python build whose own settings
/// (`env`, the last value of a name wins) do not choose one; `None` otherwise. pip passes
/// it to the backend, and the host's uv gets it as `--config-setting`.
pub fn meson_build_dir(
    env: &[(String, String)],
    meson_python: bool,
    build_root: &str,
) -> Option<(String, String)> {
    if !meson_python {
        return None;
    }
    crate::compile_jobs::add_config_setting(
        env,
        "build-dir",
        &format!("{build_root}/{MESON_BUILD_DIR}"),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meson_python_builds_in_a_fixed_folder_unless_the_build_chose_one() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let others = env(&[("PIP_CONFIG_SETTINGS", "compile-args=-j2")]);
        assert_eq!(
            meson_build_dir(&others, true, "/build"),
            Some((
                "PIP_CONFIG_SETTINGS".into(),
                "compile-args=-j2 build-dir=/build/meson-build".into()
            ))
        );
        assert_eq!(
            meson_build_dir(&[], true, "/build").unwrap().1,
            "build-dir=/build/meson-build"
        );
        assert_eq!(meson_build_dir(&others, false, "/build"), None);
        let own = env(&[(
            "PIP_CONFIG_SETTINGS",
            "build-dir=/tmp/mine setup-args=-Dx=1",
        )]);
        assert_eq!(meson_build_dir(&own, true, "/build"), None);
    }

    #[test]
    fn an_unreadable_sdist_falls_back_to_the_zip_epoch_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("demo-1.0.tar.gz");
        std::fs::write(&sdist, b"not gzip").unwrap();
        let (epoch, source) = choose(None, &sdist);
        assert_eq!(epoch, ZIP_EPOCH);
        let EpochSource::Fallback(why) = &source else {
            panic!("{source:?}");
        };
        assert!(why.contains("demo-1.0.tar.gz"), "{why}");
        assert!(log_line(epoch, &source).contains("SOURCE_DATE_EPOCH=315532800 (1980-01-01: "));
        // Not a number: ignored, as if unset.
        assert_eq!(choose(Some("yesterday"), &sdist).0, ZIP_EPOCH);
    }

    #[test]
    fn the_environment_wins_then_the_newest_file_not_before_1980() {
        let dir = tempfile::tempdir().unwrap();
        let sdist = dir.path().join("demo-1.0.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&sdist).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, mtime) in [("demo-1.0/PKG-INFO", 1_700_000_000), ("demo-1.0/old.c", 1)] {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_mtime(mtime);
            header.set_cksum();
            tar.append_data(&mut header, name, std::io::empty())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        assert_eq!(
            choose(None, &sdist),
            (1_700_000_000, EpochSource::NewestSdistFile)
        );
        assert_eq!(
            choose(Some(" 1234567890\n"), &sdist),
            (1_234_567_890, EpochSource::Environment)
        );

        let ancient = dir.path().join("ancient-1.0.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&ancient).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, "ancient-1.0/PKG-INFO", std::io::empty())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        assert_eq!(
            choose(None, &ancient),
            (ZIP_EPOCH, EpochSource::NewestSdistFile)
        );
        // The caller's value too stays within what a zip records.
        assert_eq!(
            choose(Some("0"), &sdist),
            (ZIP_EPOCH, EpochSource::Environment)
        );
        assert_eq!(
            choose(Some("99999999999"), &sdist),
            (ZIP_LAST, EpochSource::Environment)
        );
    }
}
