//! Generators of wheels and sdists for the integration tests, and a runner of the real binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;

/// A wheel to generate.
pub struct WheelSpec<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub tag: &'a str,
    pub requires: &'a [&'a str],
    /// Name and version written into METADATA (default: the file's).
    pub metadata_name: Option<&'a str>,
    pub metadata_version: Option<&'a str>,
    /// Extra members (name, bytes).
    pub members: Vec<(String, Vec<u8>)>,
    pub with_metadata: bool,
}

impl<'a> WheelSpec<'a> {
    pub fn new(name: &'a str, version: &'a str, tag: &'a str) -> Self {
        WheelSpec {
            name,
            version,
            tag,
            requires: &[],
            metadata_name: None,
            metadata_version: None,
            members: Vec::new(),
            with_metadata: true,
        }
    }

    pub fn requires(mut self, requires: &'a [&'a str]) -> Self {
        self.requires = requires;
        self
    }

    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.whl",
            self.name.replace('-', "_"),
            self.version,
            self.tag
        )
    }

    /// Write the wheel into `dir`, returning its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        let file = std::fs::File::create(&path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = SimpleFileOptions::default();
        let module = self.name.replace('-', "_");
        zip.start_file(format!("{module}/__init__.py"), options)
            .unwrap();
        zip.write_all(b"VALUE = 1\n").unwrap();
        let dist_info = format!("{}-{}.dist-info", module, self.version);
        if self.with_metadata {
            let mut metadata = format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                self.metadata_name.unwrap_or(self.name),
                self.metadata_version.unwrap_or(self.version)
            );
            for requirement in self.requires {
                metadata.push_str(&format!("Requires-Dist: {requirement}\n"));
            }
            zip.start_file(format!("{dist_info}/METADATA"), options)
                .unwrap();
            zip.write_all(metadata.as_bytes()).unwrap();
        }
        zip.start_file(format!("{dist_info}/WHEEL"), options)
            .unwrap();
        zip.write_all(
            format!(
                "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {}\n",
                self.tag
            )
            .as_bytes(),
        )
        .unwrap();
        for (name, bytes) in &self.members {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }
}

/// A minimal sdist with static PKG-INFO (Metadata 2.2) and a pyproject.toml.
pub fn write_sdist(
    dir: &Path,
    name: &str,
    version: &str,
    requires: &[&str],
    build_requires: &[&str],
) -> PathBuf {
    let base = format!("{}-{}", name.replace('-', "_"), version);
    let path = dir.join(format!("{base}.tar.gz"));
    let file = std::fs::File::create(&path).unwrap();
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(encoder);
    let mut pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    for requirement in requires {
        pkg_info.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    let quoted: Vec<String> = build_requires.iter().map(|r| format!("\"{r}\"")).collect();
    let pyproject = format!(
        "[build-system]\nrequires = [{}]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n",
        quoted.join(", ")
    );
    for (member, text) in [("PKG-INFO", pkg_info), ("pyproject.toml", pyproject)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{base}/{member}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path
}

/// Run the real `refinery` binary.
pub fn refinery(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refinery"));
    cmd.args(args);
    for name in [
        "INDEX_URL",
        "EXTRA_INDEX_URL",
        "REQUIREMENTS_PATH",
        "CONSTRAINTS_PATH",
        "PLAN_OVERRIDES_JSON",
        "MAX_DEPS",
        "HISTORY_DB",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("the refinery binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

impl WheelSpec<'_> {
    /// Like [`WheelSpec::write`] but with deflate compression for the extra members
    /// (a highly compressible member makes a zip bomb).
    pub fn write_compressed(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        let file = std::fs::File::create(&path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let deflated =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let dist_info = format!("{}-{}.dist-info", self.name.replace('-', "_"), self.version);
        zip.start_file(format!("{dist_info}/METADATA"), deflated)
            .unwrap();
        zip.write_all(
            format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                self.name, self.version
            )
            .as_bytes(),
        )
        .unwrap();
        for (name, bytes) in &self.members {
            zip.start_file(name.as_str(), deflated).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }
}
