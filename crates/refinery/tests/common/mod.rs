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
    /// `Requires-Python` written into METADATA.
    pub requires_python: Option<&'a str>,
    /// `Wheel-Version` of WHEEL (default `1.0`).
    pub wheel_version: &'a str,
    /// Write a RECORD (default true).
    pub with_record: bool,
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
            requires_python: None,
            wheel_version: "1.0",
            with_record: true,
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

    /// Write the wheel into `dir`, returning its path: the module, METADATA, WHEEL, the
    /// extra members and a RECORD listing them all (unless `with_record` is off).
    pub fn write(&self, dir: &Path) -> PathBuf {
        let module = self.name.replace('-', "_");
        let dist_info = format!("{}-{}.dist-info", module, self.version);
        let mut members: Vec<(String, Vec<u8>)> =
            vec![(format!("{module}/__init__.py"), b"VALUE = 1\n".to_vec())];
        if self.with_metadata {
            let mut metadata = format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                self.metadata_name.unwrap_or(self.name),
                self.metadata_version.unwrap_or(self.version)
            );
            if let Some(spec) = self.requires_python {
                metadata.push_str(&format!("Requires-Python: {spec}\n"));
            }
            for requirement in self.requires {
                metadata.push_str(&format!("Requires-Dist: {requirement}\n"));
            }
            members.push((format!("{dist_info}/METADATA"), metadata.into_bytes()));
        }
        members.push((
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: {}\nRoot-Is-Purelib: true\nTag: {}\n",
                self.wheel_version, self.tag
            )
            .into_bytes(),
        ));
        members.extend(self.members.iter().cloned());
        // A test that brings its own RECORD among the members keeps it.
        let record_name = format!("{dist_info}/RECORD");
        if self.with_record && !members.iter().any(|(name, _)| *name == record_name) {
            use sha2::Digest;
            let mut record = String::new();
            for (name, bytes) in &members {
                let digest = refinery_index::base64_encode(&sha2::Sha256::digest(bytes), true);
                record.push_str(&format!("{name},sha256={digest},{}\n", bytes.len()));
            }
            record.push_str(&format!("{record_name},,\n"));
            members.push((record_name, record.into_bytes()));
        }
        let path = dir.join(self.filename());
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = SimpleFileOptions::default();
        for (name, bytes) in &members {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }
}

/// Write `<dir>/<base>.tar.gz` with each member under `<base>/`, as an sdist is laid out.
pub fn write_tar_gz(
    dir: &Path,
    base: &str,
    members: impl IntoIterator<Item = (String, String)>,
) -> PathBuf {
    let path = dir.join(format!("{base}.tar.gz"));
    let file = std::fs::File::create(&path).unwrap();
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(encoder);
    for (member, text) in members {
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

/// A minimal sdist with static PKG-INFO (Metadata 2.2) and a pyproject.toml.
pub fn write_sdist(
    dir: &Path,
    name: &str,
    version: &str,
    requires: &[&str],
    build_requires: &[&str],
) -> PathBuf {
    let base = format!("{}-{}", name.replace('-', "_"), version);
    let mut pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    for requirement in requires {
        pkg_info.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    let quoted: Vec<String> = build_requires.iter().map(|r| format!("\"{r}\"")).collect();
    let pyproject = format!(
        "[build-system]\nrequires = [{}]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n",
        quoted.join(", ")
    );
    write_tar_gz(
        dir,
        &base,
        [
            ("PKG-INFO".to_string(), pkg_info),
            ("pyproject.toml".to_string(), pyproject),
        ],
    )
}

/// Run the real `refinery` binary.
pub fn refinery(args: &[&str], envs: &[(&str, &str)]) -> Output {
    refinery_command(args, envs)
        .output()
        .expect("the refinery binary runs")
}

/// The command [`refinery`] runs: the binary with `args`, the variables that would make it
/// read the developer's own setup removed, and `envs`.
pub fn refinery_command(args: &[&str], envs: &[(&str, &str)]) -> Command {
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
        // A run records its plan and packages there (else `<cache>/queue.db`).
        "DATABASE_URL",
        "COMPILER_MEMORY",
        "REFINERY_STRIP",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
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

/// C source of a tiny extension module `NAME` with `add(a, b)`; `use_getrandom` makes it
/// need glibc 2.25 (for auditwheel rejection tests).
pub fn extension_source(module: &str, use_getrandom: bool) -> String {
    let (include, call) = if use_getrandom {
        (
            "#include <sys/random.h>\n",
            "    char buf[4]; if (getrandom(buf, sizeof buf, 0) < 0) return NULL;\n",
        )
    } else {
        ("", "")
    };
    format!(
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
{include}
static PyObject *add(PyObject *self, PyObject *args) {{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
{call}    return PyLong_FromLong(a + b);
}}
static PyMethodDef methods[] = {{{{"add", add, METH_VARARGS, "add"}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{module}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{module}(void) {{ return PyModule_Create(&module); }}
"#
    )
}

/// A buildable sdist of a C extension `name` (setuptools). Its setup.py sleeps when the
/// build env has `SLOW=1`, fails when `FAIL=1`, prints a flood when `FLOOD=1`, and tries to
/// write outside its build folder when `ESCAPE=1`.
pub fn write_extension_sdist(
    dir: &Path,
    name: &str,
    version: &str,
    use_getrandom: bool,
) -> PathBuf {
    write_extension_sdist_requiring(dir, name, version, use_getrandom, &["setuptools"])
}

/// [`write_extension_sdist`] with its own PEP 518 `build-system.requires`.
pub fn write_extension_sdist_requiring(
    dir: &Path,
    name: &str,
    version: &str,
    use_getrandom: bool,
    build_requires: &[&str],
) -> PathBuf {
    let setup_py = format!(
        r#"import os, sys, time
from setuptools import setup, Extension
if os.environ.get("SLOW"):
    print("refinery-test: slow build started", flush=True)
    time.sleep(600)
if os.environ.get("FAIL"):
    raise SystemExit("refinery-test: this package cannot be built")
if os.environ.get("FLOOD"):
    line = "x" * 1000
    for _ in range(40000):
        print(line)
if os.environ.get("FILL"):
    with open("fill.bin", "wb") as f:
        while True:
            f.write(b"\\0" * 1048576)
if os.environ.get("ESCAPE"):
    with open("/usr/lib/refinery-escape", "w") as f:
        f.write("escaped")
setup(ext_modules=[Extension("{name}", ["{name}.c"])])
"#
    );
    write_setuptools_sdist(
        dir,
        name,
        version,
        build_requires,
        setup_py,
        [(format!("{name}.c"), extension_source(name, use_getrandom))],
    )
}

/// A setuptools sdist `<name>-<version>.tar.gz`: static PKG-INFO, a pyproject.toml with
/// `build_requires`, `setup_py` and the source files (name, text).
pub fn write_setuptools_sdist(
    dir: &Path,
    name: &str,
    version: &str,
    build_requires: &[&str],
    setup_py: String,
    sources: impl IntoIterator<Item = (String, String)>,
) -> PathBuf {
    let requires = build_requires
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let pyproject = format!(
        "[build-system]\nrequires = [{requires}]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"
    );
    let pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    write_tar_gz(
        dir,
        &format!("{name}-{version}"),
        [
            ("PKG-INFO".to_string(), pkg_info),
            ("pyproject.toml".to_string(), pyproject),
            ("setup.py".to_string(), setup_py),
        ]
        .into_iter()
        .chain(sources),
    )
}

/// The s390x rootfs environment the build tests use (`$REFINERY_ENVS_DIR`).
pub fn envs_dir() -> PathBuf {
    std::env::var_os("REFINERY_ENVS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/refinery/envs")
        })
}

/// The bookworm rootfs under [`envs_dir`], if it was created.
pub fn bookworm_rootfs() -> Option<PathBuf> {
    std::fs::read_dir(envs_dir().join("v1"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with("rootfs-bookworm-s390x-py3.11")
            }) && p.join("refinery-env.json").is_file()
        })
}

/// Run python3 of the s390x rootfs with `dir` mounted at /tmp/w and on sys.path.
pub fn run_s390x_python(rootfs: &Path, dir: &Path, code: &str) -> Output {
    Command::new("bwrap")
        .arg("--ro-bind")
        .arg(rootfs)
        .arg("/")
        .args([
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--unshare-net",
            "--unshare-pid",
            "--die-with-parent",
        ])
        .arg("--ro-bind")
        .arg(dir)
        .arg("/tmp/w")
        .args(["--setenv", "PYTHONPATH", "/tmp/w", "python3", "-c", code])
        .output()
        .unwrap()
}

/// Run `code` with python3 of the s390x rootfs over `dir` (see [`run_s390x_python`]) and
/// assert that it prints exactly `expected`; the failure shows the interpreter's stderr.
pub fn assert_s390x_python_prints(rootfs: &Path, dir: &Path, code: &str, expected: &str) {
    let run = run_s390x_python(rootfs, dir, code);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        expected,
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Extract a wheel (a zip) into `dest`.
pub fn unzip(wheel: &Path, dest: &Path) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    archive.extract(dest).unwrap();
}

/// binutils' `readelf args` (any ELF machine) of every shared object under `dir` (an
/// unpacked wheel: ELF files named `*.so*`), as (file name, output) pairs.
pub fn readelf_shared_objects(dir: &Path, args: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_elf = || {
            use std::io::Read;
            let mut magic = [0u8; 4];
            std::fs::File::open(entry.path())
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok_and(|()| &magic == b"\x7fELF")
        };
        if !name.contains(".so") || !is_elf() {
            continue;
        }
        let out = Command::new("readelf")
            .args(args)
            .arg(entry.path())
            .output()
            .expect("readelf (binutils)");
        assert!(
            out.status.success(),
            "readelf {args:?} {}",
            entry.path().display()
        );
        found.push((name, String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    found
}

/// Asserts that no ELF file of `sections` ([`elf_sections`]) carries debug information
/// (a `.debug_*` section), naming the ones that do.
pub fn assert_no_debug_sections(sections: &[(String, String)]) {
    let debug: Vec<_> = sections
        .iter()
        .filter(|(_, s)| s.starts_with(".debug_"))
        .collect();
    assert!(debug.is_empty(), "debug sections left: {debug:?}");
}

/// The section names of every shared object under `dir` (an unpacked wheel), as
/// (file name, section) pairs, from `readelf -S -W`.
pub fn elf_sections(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (name, text) in readelf_shared_objects(dir, &["-S", "-W"]) {
        for line in text.lines() {
            // "  [12] .text  PROGBITS ...": the name follows the index.
            let section = line
                .trim_start()
                .strip_prefix('[')
                .and_then(|l| l.split_once(']'))
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .filter(|s| s.starts_with('.'));
            if let Some(section) = section {
                found.push((name.clone(), section.to_string()));
            }
        }
    }
    found
}

/// ELF machine numbers of the shared objects in a wheel.
pub fn elf_machines(wheel: &Path) -> Vec<(String, u16)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut found = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).unwrap();
        let name = member.name().to_string();
        let mut header = [0u8; 20];
        if (name.ends_with(".so") || name.contains(".so."))
            && member.read_exact(&mut header).is_ok()
            && &header[..4] == b"\x7fELF"
        {
            let machine = if header[5] == 2 {
                u16::from_be_bytes([header[18], header[19]])
            } else {
                u16::from_le_bytes([header[18], header[19]])
            };
            found.push((name, machine));
        }
    }
    found
}

/// The manifest of an output folder, as JSON.
pub fn manifest(output: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(output.join("manifest.json")).unwrap()).unwrap()
}

/// The manifest entry of `name`.
pub fn entry<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no manifest entry for {name}: {manifest}"))
}

/// An sdist whose core metadata is static: `PKG-INFO` with Metadata-Version 2.2 and nothing
/// `Dynamic`, and a `pyproject.toml` with only `[build-system]` (no `[project]` table, which
/// resolvers would prefer over PKG-INFO). uv reads such an sdist without building it.
pub fn write_static_sdist(
    dir: &Path,
    name: &str,
    version: &str,
    requires: &[&str],
    build_requires: &[&str],
) -> PathBuf {
    let base = format!("{}-{}", name.replace('-', "_"), version);
    let mut pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    for requirement in requires {
        pkg_info.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    let quoted: Vec<String> = build_requires.iter().map(|r| format!("\"{r}\"")).collect();
    let pyproject = format!(
        "[build-system]\nrequires = [{}]\nbuild-backend = \"setuptools.build_meta\"\n",
        quoted.join(", ")
    );
    write_tar_gz(
        dir,
        &base,
        [
            ("PKG-INFO".to_string(), pkg_info),
            ("pyproject.toml".to_string(), pyproject),
        ],
    )
}

/// Run `refinery plan --json` and parse the plan it prints (None when stdout is no JSON).
pub fn plan_json(args: &[&str], envs: &[(&str, &str)]) -> (Output, Option<serde_json::Value>) {
    let mut all = vec!["plan", "--python", "3.11", "--json"];
    all.extend_from_slice(args);
    let out = refinery(&all, envs);
    let plan = serde_json::from_slice(&out.stdout).ok();
    (out, plan)
}

/// The plan node of package `name` (panics with the plan when there is none).
pub fn plan_node<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {name} in the plan:\n{plan:#}"))
}

/// A buildable sdist whose C extension includes `<yaml.h>` and links libyaml: it fails
/// without the libyaml headers, which the hint catalog knows.
pub fn write_libyaml_sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    let source = format!(
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>
static PyObject *version(PyObject *self, PyObject *args) {{ return PyUnicode_FromString(yaml_get_version_string()); }}
static PyMethodDef methods[] = {{{{"version", version, METH_NOARGS, "libyaml version"}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&module); }}
"#
    );
    let setup_py = format!("from setuptools import setup, Extension\nsetup(ext_modules=[Extension(\"{name}\", [\"{name}.c\"], libraries=[\"yaml\"])])\n");
    write_setuptools_sdist(
        dir,
        name,
        version,
        &["setuptools"],
        setup_py,
        [(format!("{name}.c"), source)],
    )
}

/// Every path under `root` with its kind, mode and content digest: equal maps mean a
/// byte-for-byte equal tree (the dpkg database included).
pub fn tree_digest(root: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let mode = meta.permissions().mode();
            let what = if meta.is_symlink() {
                format!("link {}", std::fs::read_link(e.path()).unwrap().display())
            } else if meta.is_file() {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                format!("file {mode:o} {}", hex::encode(sha2::Sha256::digest(bytes)))
            } else {
                format!("other {mode:o}")
            };
            (rel, what)
        })
        .collect()
}

/// The paths whose entries differ between two [`tree_digest`]s (at most 20).
pub fn tree_changes(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| format!("changed or gone: {k}"))
        .chain(
            after
                .keys()
                .filter(|k| !before.contains_key(*k))
                .map(|k| format!("new: {k}")),
        )
        .take(20)
        .collect()
}

/// An input folder under `work` holding a `requirements.txt` of `text`.
pub fn requirements(work: &Path, text: &str) -> PathBuf {
    let input = work.join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), text).unwrap();
    input
}

/// The main job over `input` with the embedded defaults, the shared environments
/// ([`envs_dir`]) and a cache in `work`: `refinery --input … --output <work>/out --cache
/// <work>/cache` plus `extra` arguments. Returns the output and the output folder.
pub fn main_job(input: &Path, work: &Path, extra: &[&str]) -> (Output, PathBuf) {
    main_job_with_env(input, work, extra, &[])
}

/// The main job over `requirement` for `manylinux2014_s390x` with one attempt per variant
/// (hints add theirs) in `work`; asserts the run succeeded and `name` ended `built`, and
/// returns its manifest entry and the output folder.
pub fn built_for_manylinux2014(
    work: &Path,
    requirement: &str,
    name: &str,
) -> (serde_json::Value, PathBuf) {
    let input = requirements(work, requirement);
    let (output, out) = main_job(
        &input,
        work,
        &[
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&manifest(&out), name).clone();
    assert_eq!(e["status"], "built", "{e}");
    (e, out)
}

/// [`main_job`] with more environment variables for the refinery process.
pub fn main_job_with_env(
    input: &Path,
    work: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Output, PathBuf) {
    let out = work.join("out");
    let mut args = vec![
        "--input".to_string(),
        input.to_string_lossy().into_owned(),
        "--output".to_string(),
        out.to_string_lossy().into_owned(),
        "--cache".to_string(),
        work.join("cache").to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envs = envs_dir();
    let mut all_env = vec![("REFINERY_ENVS_DIR", envs.to_str().unwrap())];
    all_env.extend_from_slice(env);
    let output = refinery(&args, &all_env);
    (output, out)
}

/// A pure-Python sdist whose in-tree backend needs nothing from an index; its
/// `build_wheel` prints a line every half second for `ticks` ticks. Every build writes a
/// fresh random build id into the wheel, so two builds of it never have the same bytes
/// (zip member times alone tie within the format's 2-second resolution).
pub fn write_tiny_sdist(dir: &Path, name: &str, version: &str, ticks: u32) -> PathBuf {
    let metadata = format!(
        "Metadata-Version: 2.2\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
    );
    let backend = format!(
        r#"import base64, hashlib, os, sys, time, zipfile
NAME, VERSION, TICKS = {name:?}, {version:?}, {ticks}
METADATA = {metadata:?}
DIST_INFO = NAME + "-" + VERSION + ".dist-info"
WHEEL = "Wheel-Version: 1.0\nGenerator: tinybackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_sdist(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "w") as f:
        f.write(METADATA)
    with open(os.path.join(target, "WHEEL"), "w") as f:
        f.write(WHEEL)
    return DIST_INFO

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    for i in range(TICKS):
        print("tinybackend tick", i, file=sys.stderr, flush=True)
        time.sleep(0.5)
    files = {{
        NAME + "/__init__.py": "VALUE = 42\n",
        NAME + "/_build_id.py": "BUILD_ID = " + repr(os.urandom(16).hex()) + "\n",
        DIST_INFO + "/METADATA": METADATA,
        DIST_INFO + "/WHEEL": WHEEL,
    }}
    record = []
    filename = NAME + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:
        for member, text in files.items():
            data = text.encode()
            z.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(member + ",sha256=" + digest + "," + str(len(data)))
        record.append(DIST_INFO + "/RECORD,,")
        z.writestr(DIST_INFO + "/RECORD", "\n".join(record) + "\n")
    return filename

def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("tinybackend builds wheels only")
"#
    );
    let pyproject =
        "[build-system]\nrequires = []\nbuild-backend = \"tinybackend\"\nbackend-path = [\".\"]\n";
    write_tar_gz(
        dir,
        &format!("{name}-{version}"),
        [
            ("PKG-INFO".to_string(), metadata),
            ("pyproject.toml".to_string(), pyproject.to_string()),
            ("tinybackend.py".to_string(), backend),
        ],
    )
}
