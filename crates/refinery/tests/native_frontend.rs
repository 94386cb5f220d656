//! The native build frontend (`--build-frontend`): a host CPython of the target's X.Y
//! with the environment's sysconfig runs the PEP 517 hooks; its wheels must equal the
//! emulated frontend's, and a package whose build looks at the host falls back to the
//! emulated frontend, which the history remembers. These need the s390x environment,
//! the host's cross compilers, uv and CPython 3.11 (pyenv on CI), and PyPI.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use refinery_index::testing::LocalIndex;

const NEEDS: &str = "needs network and emulation";

/// Build `requirement` with `--build-frontend frontend` in `work`; the package's
/// manifest entry and its wheel.
fn build_with(
    work: &Path,
    requirement: &str,
    name: &str,
    frontend: &str,
    extra: &[&str],
) -> (serde_json::Value, PathBuf) {
    let input = requirements(work, requirement);
    let mut args = vec![
        "--python",
        "3.11",
        "--build-frontend",
        frontend,
        "--max-attempts",
        "1",
        "--verify",
        "import",
        // PyPI has s390x wheels of some: build them anyway.
        "--no-binary",
        name,
    ];
    args.extend_from_slice(extra);
    let (output, out) = main_job(&input, work, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&manifest(&out), name).clone();
    assert_eq!(e["status"], "built", "{frontend}: {e}");
    let wheel = out.join(e["path"].as_str().unwrap());
    (e, wheel)
}

/// The member names of a wheel, without the RECORD's hashes (they differ when the
/// compilers' output does).
fn members(wheel: &Path) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_string())
        .collect();
    names.sort();
    names
}

/// The native frontend's manifest entry and wheel, in a folder that lives as long as this.
struct NativeBuild {
    entry: serde_json::Value,
    wheel: PathBuf,
    _work: tempfile::TempDir,
}

/// The native frontend's wheel of a real sdist has the emulated frontend's name (tags),
/// members and ELF machines; the log shows which frontend built it.
fn assert_native_equals_emulated(requirement: &str, name: &str, extra: &[&str]) -> NativeBuild {
    let native_work = tempfile::tempdir().unwrap();
    let emulated_work = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (native, native_wheel) = build_with(native_work.path(), requirement, name, "native", extra);
    let native_secs = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let (emulated, emulated_wheel) =
        build_with(emulated_work.path(), requirement, name, "emulated", extra);
    let emulated_secs = started.elapsed().as_secs_f64();
    eprintln!("{requirement}: native frontend run {native_secs:.1}s, emulated frontend run {emulated_secs:.1}s");
    assert_eq!(native["metadata"]["build_frontend"], "native", "{native}");
    assert_eq!(
        emulated["metadata"]["build_frontend"], "emulated",
        "{emulated}"
    );
    assert_eq!(
        native["metadata"]["built_with"], emulated["metadata"]["built_with"],
        "the same compilers"
    );
    let log = std::fs::read_to_string(native["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("[refinery] frontend: native (host CPython 3.11"),
        "{log}"
    );
    assert_eq!(
        native_wheel.file_name(),
        emulated_wheel.file_name(),
        "same tags"
    );
    assert_eq!(members(&native_wheel), members(&emulated_wheel));
    let machines = elf_machines(&native_wheel);
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
    assert_eq!(machines, elf_machines(&emulated_wheel));
    // Big-endian, as the emulated build's.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&native_wheel).unwrap()).unwrap();
    let mut header = [0u8; 6];
    zip.by_name(&machines[0].0)
        .unwrap()
        .read_exact(&mut header)
        .unwrap();
    assert_eq!(header[5], 2, "ELFDATA2MSB");
    NativeBuild {
        entry: native,
        wheel: native_wheel,
        _work: native_work,
    }
}

#[test]
#[ignore = "needs network and emulation"]
fn markupsafe_2_1_5_native_frontend_wheel_equals_the_emulated_one() {
    bookworm_rootfs().expect(NEEDS);
    assert_native_equals_emulated("markupsafe==2.1.5\n", "markupsafe", &[]);
}

/// A meson-python sdist whose configure fails unless meson knows the host machine is
/// big-endian s390x, runs a compiled probe program (binfmt, no exe wrapper), and bakes
/// what meson saw into its extension.
fn write_meson_probe_sdist(dir: &Path) -> PathBuf {
    let meson_build = r#"project('mesonprobe', 'c', version: '1.0')
cpu = host_machine.cpu_family()
endian = host_machine.endian()
if cpu != 's390x' or endian != 'big'
  error('the host machine is ' + cpu + ' ' + endian + ', not big-endian s390x')
endif
cc = meson.get_compiler('c')
first_byte = cc.run('''#include <stdio.h>
int main(void) { unsigned int one = 1; printf("%d", *(unsigned char *)&one); return 0; }''',
  name: 'first byte of 1')
if first_byte.stdout() != '0'
  error('the probe program ran little-endian: ' + first_byte.stdout())
endif
conf = configuration_data()
conf.set_quoted('HOST_CPU', cpu)
conf.set_quoted('HOST_ENDIAN', endian)
configure_file(output: 'probe_config.h', configuration: conf)
py = import('python').find_installation(pure: false)
py.extension_module('_probe', 'src/probe.c', install: true, subdir: 'mesonprobe')
py.install_sources('mesonprobe/__init__.py', subdir: 'mesonprobe')
"#;
    let probe_c = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "probe_config.h"
static PyObject *host(PyObject *self, PyObject *unused) {
    return Py_BuildValue("(ss)", HOST_CPU, HOST_ENDIAN);
}
static PyMethodDef methods[] = {{"host", host, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_probe", NULL, -1, methods};
PyMODINIT_FUNC PyInit__probe(void) { return PyModule_Create(&module); }
"#;
    let pyproject = "[build-system]\nrequires = [\"meson-python\"]\nbuild-backend = \"mesonpy\"\n\n[project]\nname = \"mesonprobe\"\nversion = \"1.0\"\n";
    write_tar_gz(
        dir,
        "mesonprobe-1.0",
        [
            (
                "PKG-INFO".to_string(),
                "Metadata-Version: 2.2\nName: mesonprobe\nVersion: 1.0\n".to_string(),
            ),
            ("pyproject.toml".to_string(), pyproject.to_string()),
            ("meson.build".to_string(), meson_build.to_string()),
            ("src/probe.c".to_string(), probe_c.to_string()),
            ("mesonprobe/__init__.py".to_string(), String::new()),
        ],
    )
}

#[test]
#[ignore = "needs network and emulation"]
fn a_meson_python_build_gets_a_cross_file_for_big_endian_s390x_and_equals_the_emulated_one() {
    let rootfs = bookworm_rootfs().expect(NEEDS);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_meson_probe_sdist(&index_dir);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let native = assert_native_equals_emulated(
        "mesonprobe==1.0\n",
        "mesonprobe",
        &[
            "--index-url",
            &index.url,
            "--extra-index-url",
            "https://pypi.org/simple",
        ],
    );
    let log =
        std::fs::read_to_string(native.entry["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("meson cross file for big-endian s390x"),
        "{log}"
    );
    // What meson saw on the native side is in the extension.
    let unpacked = tmp.path().join("unpacked");
    unzip(&native.wheel, &unpacked);
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import mesonprobe._probe as p; print(*p.host())",
        "s390x big",
    );
}

#[test]
#[ignore = "needs network and emulation"]
fn kiwisolver_cxx_native_frontend_wheel_equals_the_emulated_one() {
    bookworm_rootfs().expect(NEEDS);
    assert_native_equals_emulated("kiwisolver==1.4.7\n", "kiwisolver", &[]);
}

/// A C extension whose setup.py bundles a "helper" built for the machine it runs on: on
/// a host that is not s390x it copies the running interpreter (an x86_64 ELF file) into
/// the package, as builds that detect the host architecture do.
fn write_host_detecting_sdist(dir: &Path, version: &str) -> PathBuf {
    let setup_py = r#"import os, platform, shutil, sys
from setuptools import setup, Extension
package_data = {}
if platform.machine() != "s390x":
    shutil.copy(sys.executable, os.path.join("archpkg", "helper.bin"))
    package_data = {"archpkg": ["helper.bin"]}
setup(
    packages=["archpkg"],
    package_data=package_data,
    ext_modules=[Extension("archpkg._fast", ["archpkg/_fast.c"])],
)
"#;
    let pyproject = format!("[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"archpkg\"\nversion = \"{version}\"\n");
    write_tar_gz(
        dir,
        &format!("archpkg-{version}"),
        [
            (
                "PKG-INFO".to_string(),
                format!("Metadata-Version: 2.2\nName: archpkg\nVersion: {version}\n"),
            ),
            ("pyproject.toml".to_string(), pyproject),
            ("setup.py".to_string(), setup_py.to_string()),
            (
                "archpkg/__init__.py".to_string(),
                "from ._fast import add\n".to_string(),
            ),
            (
                "archpkg/_fast.c".to_string(),
                extension_source("_fast", false),
            ),
        ],
    )
}

#[test]
#[ignore = "needs network and emulation"]
fn a_build_that_detects_the_host_falls_back_to_the_emulated_frontend_and_is_remembered() {
    bookworm_rootfs().expect(NEEDS);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_host_detecting_sdist(&index_dir, "1.0");
    write_host_detecting_sdist(&index_dir, "1.1");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(tmp.path(), "archpkg==1.0\n");
    let args = [
        "--python",
        "3.11",
        "--index-url",
        &index.url,
        "--extra-index-url",
        "https://pypi.org/simple",
        "--max-attempts",
        "1",
        "--verify",
        "import",
    ];
    let (output, out) = main_job(&input, tmp.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&manifest(&out), "archpkg").clone();
    assert_eq!(e["status"], "built", "{e}");
    // The native wheel carried an x86_64 file: the check caught it, the emulated one built.
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("native frontend fell back to emulated")
            && detail.contains("archpkg/helper.bin is not a big-endian s390x binary"),
        "{detail}"
    );
    assert_eq!(e["metadata"]["build_frontend"], "emulated", "{e}");
    let wheel = out.join(e["path"].as_str().unwrap());
    assert!(
        !members(&wheel).iter().any(|m| m.ends_with("helper.bin")),
        "the emulated build saw s390x: {:?}",
        members(&wheel)
    );
    // The history remembers; the next build of the package goes straight to the
    // emulated frontend.
    let history = refinery(
        &[
            "history",
            "--cache",
            tmp.path().join("cache").to_str().unwrap(),
            "--package",
            "archpkg",
            "--json",
        ],
        &[],
    );
    let text = stdout(&history);
    assert!(text.contains("native_frontend_failed"), "{text}");
    let input = requirements(tmp.path(), "archpkg==1.1\n");
    let (again, out) = main_job(&input, tmp.path(), &args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(
            "archpkg 1.1: emulated build frontend: the native frontend failed for this package before"
        ),
        "{}",
        stderr(&again)
    );
    let e = entry(&manifest(&out), "archpkg").clone();
    assert_eq!(e["status"], "built", "{e}");
}

/// Whether the host has a CPython `version` of its own (pyenv or `PATH`), which the
/// native frontend prefers to a tree it makes.
fn host_has_python(version: &str) -> bool {
    let pyenv = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".pyenv/versions"))
        .and_then(|d| std::fs::read_dir(d).ok())
        .is_some_and(|mut entries| {
            entries.any(|e| {
                e.is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{version}."))
                })
            })
        });
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| d.join(format!("python{version}")).is_file())
    });
    pyenv || on_path
}

#[test]
#[ignore = "needs network and emulation"]
fn without_a_host_cpython_3_14_one_is_made_from_debian_amd64_packages_and_builds_natively() {
    let envs = envs_dir();
    let envs_var = ("REFINERY_ENVS_DIR", envs.to_str().unwrap());
    let created = refinery(&["env", "create", "--python", "3.14"], &[envs_var]);
    assert!(created.status.success(), "{}", stderr(&created));
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(tmp.path(), "fastadd==1.0\n");
    // forky's GCC 16 is not the host cross's 12: acceleration (and so the native
    // frontend) is asked for explicitly; the gcc cross then builds for forky's glibc.
    let (output, out) = main_job(
        &input,
        tmp.path(),
        &[
            "--python",
            "3.14",
            "--platform-tag",
            "manylinux_2_43_s390x",
            "--accelerate",
            "cross",
            "--build-frontend",
            "native",
            "--index-url",
            &index.url,
            "--extra-index-url",
            "https://pypi.org/simple",
            "--max-attempts",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&manifest(&out), "fastadd").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["build_frontend"], "native", "{e}");
    let wheel = e["path"].as_str().unwrap();
    assert!(wheel.contains("cp314-cp314"), "{wheel}");
    let machines = elf_machines(&out.join(wheel));
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
    let log = std::fs::read_to_string(e["metadata"]["log_path"].as_str().unwrap()).unwrap();
    let tree = envs.join("v1/toolchains/host-python-amd64-forky-3.14");
    if host_has_python("3.14") {
        eprintln!("this host has a CPython 3.14 of its own: the native frontend used it");
        assert!(log.contains("frontend: native (host CPython 3.14"), "{log}");
        return;
    }
    assert!(
        log.contains(&format!(
            "frontend: native (host CPython 3.14 {}/usr/bin/python3.14",
            tree.display()
        )),
        "{log}"
    );
    // The tree's interpreter runs on the host with its own glibc, whatever the host's.
    let run = std::process::Command::new(tree.join("usr/bin/python3.14"))
        .args(["-c", "import ssl, zlib; print('ok')"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "ok");
}

#[test]
#[ignore = "needs network and emulation"]
fn a_trixie_environment_for_manylinux2014_accelerates_by_default_because_zig_compiles() {
    // trixie's GCC 14 is not the host cross's 12, which alone turns `--accelerate auto`
    // off. For manylinux2014 Zig compiles C and C++, so the defaults accelerate and build
    // with the native frontend (the host has a CPython 3.13 or one is made).
    let envs = envs_dir();
    let envs_var = ("REFINERY_ENVS_DIR", envs.to_str().unwrap());
    let created = refinery(&["env", "create", "--python", "3.13"], &[envs_var]);
    assert!(created.status.success(), "{}", stderr(&created));
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(tmp.path(), "fastadd==1.0\n");
    let (output, out) = main_job(
        &input,
        tmp.path(),
        &[
            "--python",
            "3.13",
            "--platform-tag",
            "manylinux2014_s390x",
            "--index-url",
            &index.url,
            "--extra-index-url",
            "https://pypi.org/simple",
            "--max-attempts",
            "1",
        ],
    );
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(
            "the environment's compiler is GCC 14, not GCC 12: C and C++ compile with Zig"
        ),
        "{err}"
    );
    let e = entry(&manifest(&out), "fastadd").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["build_frontend"], "native", "{e}");
    let built_with = e["metadata"]["built_with"].as_str().unwrap_or_default();
    assert!(built_with.contains("zig(glibc 2.17)"), "{e}");
    let wheel = e["path"].as_str().unwrap();
    assert!(
        wheel.contains("cp313-cp313-manylinux2014_s390x.manylinux_2_17_s390x"),
        "{wheel}"
    );
    let machines = elf_machines(&out.join(wheel));
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
}
