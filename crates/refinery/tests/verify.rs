//! Verification proves that a wheel works on s390x (big-endian), not only that it
//! imports: the package's own self-test (`--verify tests`), the smoke-test catalog for
//! reused wheels (`broken`), nothing pure from a compiled sdist, nothing foreign in a pure
//! wheel.

mod common;

use std::path::Path;

use common::*;

/// An ELF header (64-bit) for `machine` in the byte order of that machine, padded to 64
/// bytes: enough for every ELF check of the refinery.
fn elf_header(machine: u16, big_endian: bool) -> Vec<u8> {
    let mut bytes = vec![0u8; 64];
    bytes[..4].copy_from_slice(b"\x7fELF");
    bytes[4] = 2; // 64-bit
    bytes[5] = if big_endian { 2 } else { 1 };
    bytes[6] = 1;
    let m = if big_endian {
        machine.to_be_bytes()
    } else {
        machine.to_le_bytes()
    };
    bytes[18..20].copy_from_slice(&m);
    bytes
}

fn scan(dir: &Path) -> Vec<serde_json::Value> {
    let out = refinery(
        &[
            "scan",
            "--input",
            dir.to_str().unwrap(),
            "--python",
            "3.11",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_pure_wheel_carrying_an_x86_64_shared_object_is_scanned_rebuild_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut foreign = WheelSpec::new("fastpkg", "1.0", "py3-none-any");
    foreign.members.push((
        "fastpkg/_speedups.cpython-311-x86_64-linux-gnu.so".into(),
        elf_header(62, false),
    ));
    foreign.write(dir.path());
    let mut native = WheelSpec::new("nativepkg", "1.0", "py3-none-any");
    native
        .members
        .push(("nativepkg/_speedups.so".into(), elf_header(22, true)));
    native.write(dir.path());
    let plain = WheelSpec::new("plainpkg", "1.0", "py3-none-any");
    plain.write(dir.path());

    let scanned = scan(dir.path());
    let by_name = |name: &str| {
        scanned
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} not scanned: {scanned:?}"))
            .clone()
    };
    let fast = by_name("fastpkg");
    assert_eq!(fast["decision"], "rebuild", "{fast}");
    let reason = fast["reason"].as_str().unwrap();
    assert!(
        reason.contains("fastpkg/_speedups.cpython-311-x86_64-linux-gnu.so (x86_64)"),
        "{reason}"
    );
    assert!(reason.contains("py3-none-any"), "{reason}");
    assert_eq!(by_name("nativepkg")["decision"], "reuse");
    assert_eq!(by_name("plainpkg")["decision"], "reuse");
}

/// The checks of a manifest entry's verification, as `name outcome`.
fn checks(entry: &serde_json::Value) -> Vec<String> {
    entry["metadata"]["verification"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no verification in {entry}"))
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["name"].as_str().unwrap(),
                c["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

fn requirements_job(requirements: &str, extra: &[&str]) -> (tempfile::TempDir, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), requirements).unwrap();
    let (output, out) = main_job(&input, tmp.path(), extra);
    let m = manifest(&out);
    assert!(
        m["entries"].as_array().is_some_and(|e| !e.is_empty()),
        "{}",
        stderr(&output)
    );
    (tmp, m)
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn bitarray_2_3_4_fails_its_own_self_test_on_s390x_and_2_3_5_passes() {
    let (_tmp, m) = requirements_job(
        "bitarray==2.3.4\n",
        &["--verify", "tests", "--max-attempts", "1"],
    );
    let e = entry(&m, "bitarray");
    assert_eq!(e["status"], "failed", "{e}");
    let got = checks(e);
    assert!(
        got.contains(&"tests:bitarray failed".to_string()),
        "{got:?}"
    );
    // The smoke test's shifts across a 64-bit word boundary catch the same bug.
    assert!(
        got.contains(&"smoke:bitarray failed".to_string()),
        "{got:?}"
    );
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("verify failed: smoke:bitarray failed"),
        "{detail}"
    );
    let tests = e["metadata"]["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tests:bitarray")
        .unwrap();
    // unittest's summary is the evidence.
    let evidence = tests["evidence"].to_string();
    assert!(evidence.contains("FAILED"), "{evidence}");

    let (_tmp, m) = requirements_job("bitarray==2.3.5\n", &["--verify", "tests"]);
    let e = entry(&m, "bitarray");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        checks(e),
        [
            "install passed",
            "import passed",
            "smoke:bitarray passed",
            "tests:bitarray passed"
        ]
    );
    assert_eq!(e["metadata"]["verification"]["level"], "tests");
    assert_native_install(e);
}

/// The install check ran natively: the host's uv installed the wheel for the target.
fn assert_native_install(entry: &serde_json::Value) {
    let install = &entry["metadata"]["verification"]["checks"][0];
    assert_eq!(install["name"], "install", "{entry}");
    let detail = install["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("native: the host's uv installed it for s390x-manylinux_2_"),
        "{install}"
    );
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn orjson_wheels_that_serialize_ints_byte_swapped_on_s390x_are_broken() {
    // PyPI's own manylinux2014_s390x wheels. Measured under emulation with CPython 3.11:
    // 3.10.8 to 3.10.11 serialize every int above 2**24 byte-swapped
    // (`dumps(2**63) == b'128'`); 3.10.12 is right again.
    let (tmp, m) = requirements_job("orjson==3.10.9\n", &[]);
    let e = entry(&m, "orjson");
    assert_eq!(e["status"], "broken", "{e}");
    assert!(e["path"].is_null(), "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("smoke:orjson failed"), "{detail}");
    let evidence = e["metadata"]["verification"]["checks"].to_string();
    assert!(evidence.contains("gave b'549755813888'"), "{evidence}");
    let published: Vec<String> = std::fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".whl"))
        .collect();
    assert!(published.is_empty(), "{published:?}");

    let (_tmp, m) = requirements_job("orjson==3.10.10\n", &[]);
    assert_eq!(entry(&m, "orjson")["status"], "broken");

    let (_tmp, m) = requirements_job("orjson==3.10.12\n", &[]);
    let e = entry(&m, "orjson");
    assert_eq!(e["status"], "reused", "{e}");
    assert_eq!(
        checks(e),
        ["install passed", "import passed", "smoke:orjson passed"]
    );
    let imported = e["metadata"]["verification"]["imported"].to_string();
    assert!(imported.contains("orjson.orjson"), "{imported}");
    assert_native_install(e);
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn orjson_3_10_9_with_fallback_latest_ends_with_the_nearest_version_that_passes() {
    // 3.10.9 to 3.10.11 serialize ints byte-swapped on s390x (see above); 3.10.12 is the
    // nearest newer version whose s390x wheel passes.
    let (tmp, m) = requirements_job("orjson==3.10.9\n", &["--fallback-latest"]);
    let e = entry(&m, "orjson");
    assert_eq!(e["status"], "reused", "{e}");
    assert_eq!(e["version"], "3.10.12", "{e}");
    assert_eq!(
        checks(e),
        ["install passed", "import passed", "smoke:orjson passed"]
    );
    let broken = e["metadata"]["broken_versions"].as_array().unwrap();
    let versions: Vec<&str> = broken
        .iter()
        .map(|b| b["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3.10.9", "3.10.10", "3.10.11"], "{e}");
    let first = &broken[0];
    assert!(
        first["file"]
            .as_str()
            .unwrap()
            .starts_with("orjson-3.10.9-"),
        "{first}"
    );
    let detail = first["detail"].as_str().unwrap();
    assert!(detail.contains("smoke:orjson failed"), "{detail}");
    let evidence = first["verification"]["checks"].to_string();
    assert!(evidence.contains("gave b'549755813888'"), "{evidence}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("--fallback-latest: orjson 3.10.9 is broken on s390x"),
        "{detail}"
    );
    // Only the wheel that passed is published.
    let published: Vec<String> = std::fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".whl"))
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].starts_with("orjson-3.10.12-"), "{published:?}");
}

/// The check named `name` of a manifest entry's verification.
fn check_named<'a>(entry: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    entry["metadata"]["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {entry}"))
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn markupsafe_2_1_5_built_from_its_sdist_passes_the_sdists_tests_with_pytest() {
    // The catalog has a smoke test but no self-test for markupsafe: `--verify tests` runs
    // the sdist's tests/ folder with pytest against the built wheel.
    let (_tmp, m) = requirements_job(
        "markupsafe==2.1.5\n",
        &["--verify", "tests", "--no-binary", "markupsafe"],
    );
    let e = entry(&m, "markupsafe");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        checks(e),
        [
            "install passed",
            "import passed",
            "smoke:markupsafe passed",
            "tests:install-pytest passed",
            "tests:pytest passed"
        ]
    );
    // The host's uv installed pytest beside the wheel: no emulated pip (issue 18).
    let install = check_named(e, "tests:install-pytest");
    assert!(
        install["detail"].as_str().unwrap().starts_with("native:"),
        "{install}"
    );
    let pytest = check_named(e, "tests:pytest");
    let detail = pytest["detail"].as_str().unwrap();
    let passed: u32 = regex_lite_number(detail, " passed").unwrap_or_else(|| panic!("{pytest}"));
    assert!(passed >= 50, "{pytest}");
    eprintln!(
        "markupsafe 2.1.5 tests:install-pytest {} s, tests:pytest: {detail} ({} s)",
        install["duration_secs"], pytest["duration_secs"]
    );
    assert!(!detail.contains("failed"), "{pytest}");
    // Both implementations ran: the C speedups and the pure Python one.
    let imported = e["metadata"]["verification"]["imported"].to_string();
    assert!(imported.contains("markupsafe._speedups"), "{imported}");
}

/// The number just before `suffix` in `text` (`"123 passed in 4s"`, `" passed"` → 123).
fn regex_lite_number(text: &str, suffix: &str) -> Option<u32> {
    let before = &text[..text.find(suffix)?];
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// A pure sdist whose tests/ folder has a test that passes and one that assumes a
/// little-endian machine; its pyproject.toml asks pytest for a coverage plugin it does not
/// install.
fn write_endian_sdist(input: &Path, name: &str, version: &str) {
    write_tar_gz(
        input,
        &format!("{name}-{version}"),
        [
            (
                "PKG-INFO".to_string(),
                format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"),
            ),
            (
                "pyproject.toml".to_string(),
                format!("[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n\n[tool.setuptools]\npackages = [\"{name}\"]\n\n[tool.pytest.ini_options]\naddopts = \"--cov={name}\"\n"),
            ),
            (
                format!("{name}/__init__.py"),
                "import sys\n\ndef order():\n    return sys.byteorder\n".to_string(),
            ),
            (
                "tests/test_order.py".to_string(),
                format!("import {name}\n\ndef test_imports():\n    assert {name}.order()\n\ndef test_little_endian():\n    assert {name}.order() == \"little\"\n"),
            ),
        ],
    );
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn a_generated_sdist_whose_tests_fail_on_big_endian_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let name = "endiantests";
    write_endian_sdist(&input, name, "1.0");
    let (output, out) = main_job(
        &input,
        tmp.path(),
        &["--verify", "tests", "--max-attempts", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, name);
    assert_eq!(e["status"], "failed", "{e}");
    let pytest = check_named(e, "tests:pytest");
    assert_eq!(pytest["outcome"], "failed", "{pytest}");
    // The sdist's pytest options (a coverage plugin it does not install) are left behind.
    let detail = pytest["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 failed, 1 passed in "), "{detail}");
    let evidence = pytest["evidence"].to_string();
    assert!(evidence.contains("test_little_endian"), "{evidence}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("tests:pytest failed"),
        "{e}"
    );
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn a_cached_wheel_is_verified_again_when_a_stricter_level_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let name = "endiancache";
    write_endian_sdist(&input, name, "1.0");
    let run = |level: &str| {
        let (output, out) = main_job(
            &input,
            tmp.path(),
            &["--verify", level, "--max-attempts", "1"],
        );
        let m = manifest(&out);
        (output, entry(&m, name).clone())
    };
    // Built and verified at smoke: the suite that fails on big-endian does not run.
    let (output, e) = run("smoke");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(e["status"], "built", "{e}");
    // Taken from the cache, verified again at tests: the suite runs and fails.
    let (output, e) = run("tests");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(e["status"], "broken", "{e}");
    assert!(e["path"].is_null(), "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("cached wheel endiancache-1.0-py3-none-any.whl does not work on s390x: tests:pytest failed"),
        "{detail}"
    );
    assert_eq!(check_named(&e, "tests:pytest")["outcome"], "failed");
    // At smoke again, the record of the build covers it: cached, not verified again.
    let (output, e) = run("smoke");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(e["status"], "cached", "{e}");
    assert_eq!(e["metadata"]["verification"]["level"], "smoke", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(!detail.contains("verified again"), "{detail}");
    assert!(tmp
        .path()
        .join("out")
        .join(e["path"].as_str().unwrap())
        .is_file());
    // A record removed (a cache from before records): verified again, and passes.
    std::fs::remove_dir_all(tmp.path().join("cache/verifications")).unwrap();
    let (output, e) = run("import");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(e["status"], "cached", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("no record of its verification: verified again"),
        "{detail}"
    );
    assert_eq!(checks(&e), ["install passed", "import passed"]);
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn a_wheel_built_pure_but_carrying_an_s390x_library_is_retagged_and_repaired() {
    // setup.py declares no extension: it compiles a plain shared library with the
    // environment's compiler into the package, which ctypes loads. setuptools tags that
    // wheel py3-none-any; the refinery must publish it as the platform wheel it is.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let (name, version) = ("retagpkg", "1.0");
    let setup_py = r#"import os, shlex, subprocess, sysconfig
from setuptools import setup
from setuptools.command.build_py import build_py

class build_with_library(build_py):
    def run(self):
        super().run()
        cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
        target = os.path.join(self.build_lib, "retagpkg", "libanswer.so")
        subprocess.check_call(shlex.split(cc) + ["-shared", "-fPIC", "-O2", "-o", target, "csrc/answer.c"])

setup(packages=["retagpkg"], cmdclass={"build_py": build_with_library})
"#;
    write_tar_gz(
        &input,
        &format!("{name}-{version}"),
        [
            (
                "PKG-INFO".to_string(),
                format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"),
            ),
            (
                "pyproject.toml".to_string(),
                format!("[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"),
            ),
            ("setup.py".to_string(), setup_py.to_string()),
            (
                "csrc/answer.c".to_string(),
                "unsigned int answer(void) { return 0x01020304u; }\n".to_string(),
            ),
            (
                format!("{name}/__init__.py"),
                "import ctypes, os\n_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), \"libanswer.so\"))\n_lib.answer.restype = ctypes.c_uint\nANSWER = _lib.answer()\nassert ANSWER == 0x01020304, hex(ANSWER)\n".to_string(),
            ),
        ],
    );
    let (output, out) = main_job(&input, tmp.path(), &["--max-attempts", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, name);
    assert_eq!(e["status"], "built", "{e}");
    let file = e["path"].as_str().unwrap();
    assert!(
        file.starts_with("retagpkg-1.0-cp311-cp311-manylinux") && file.ends_with("_s390x.whl"),
        "{file}"
    );
    let published: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".whl"))
        .collect();
    assert_eq!(published, [file.to_string()]);
    // The import loaded the library under emulation (its assertion ran).
    assert_eq!(checks(e)[..2], ["install passed", "import passed"]);
    let log = std::fs::read_to_string(e["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("the wheel is tagged pure but carries s390x ELF files: retagged retagpkg-1.0-cp311-cp311-linux_s390x.whl for repair"),
        "{log}"
    );
}

/// An sdist whose C extension cannot compile and whose setup.py then builds it without
/// the extension, as MarkupSafe's and simplejson's do.
fn write_fallback_sdist(dir: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let setup_py = format!(
        r#"from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext

class optional_build_ext(build_ext):
    def build_extension(self, ext):
        try:
            build_ext.build_extension(self, ext)
        except Exception as error:
            print("WARNING: The C extension could not be compiled, speedups are not enabled.", flush=True)
            print("Failure information, if any, is above:", error, flush=True)

setup(
    packages=["{name}"],
    ext_modules=[Extension("{name}._speedups", ["{name}/_speedups.c"])],
    cmdclass={{"build_ext": optional_build_ext}},
)
"#
    );
    let pyproject = format!(
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"
    );
    write_tar_gz(
        dir,
        &format!("{name}-{version}"),
        [
            (
                "PKG-INFO".to_string(),
                format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"),
            ),
            ("pyproject.toml".to_string(), pyproject),
            ("setup.py".to_string(), setup_py),
            (format!("{name}/__init__.py"), "VALUE = 1\n".to_string()),
            (
                format!("{name}/_speedups.c"),
                "#error this extension does not compile\n".to_string(),
            ),
        ],
    )
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn a_build_that_falls_back_to_pure_python_fails_with_the_fallback_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    write_fallback_sdist(&input, "fallbackpkg", "1.0");
    let (output, out) = main_job(&input, tmp.path(), &["--max-attempts", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "fallbackpkg");
    assert_eq!(e["status"], "failed", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("fell back to pure Python"), "{detail}");
    assert!(detail.contains("speedups are not enabled"), "{detail}");
    // The hint is the catalog's entry, matched like any other.
    assert!(
        detail.contains("hints: pure-python-fallback: the compiled extension did not build"),
        "{detail}"
    );
    let hints = e["metadata"]["hints"].to_string();
    assert!(hints.contains("pure-python-fallback"), "{hints}");
    assert!(e["path"].is_null(), "{e}");
}

#[test]
fn a_smoke_test_catalog_entry_that_does_not_parse_stops_the_run_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "six==1.16.0\n").unwrap();
    let catalog = tmp.path().join("mine.toml");
    std::fs::write(
        &catalog,
        "[[smoke]]\nid = \"mypkg-ints\"\npackage = \"mypkg\"\nversions = \">=1.0,<<2\"\nsnippet = \"import mypkg\"\n",
    )
    .unwrap();
    let out = refinery(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            tmp.path().join("out").to_str().unwrap(),
            "--cache",
            tmp.path().join("cache").to_str().unwrap(),
            "--smoke-tests",
            catalog.to_str().unwrap(),
            "--offline",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("mine.toml"), "{err}");
    assert!(err.contains("smoke test \"mypkg-ints\""), "{err}");
    assert!(err.contains("PEP 440"), "{err}");
}

/// Ctrl-C while a reused wheel's smoke test runs under emulation: the run stops at once,
/// the wheel stays `reused` but says it was not verified and is `interrupted`, and no
/// verification (a stop-skipped check would read as passed) is kept for it.
#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn ctrl_c_during_a_reused_wheels_check_leaves_it_unverified_and_says_so() {
    bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    // PyPI has PyYAML 6.0.2 for cp311 manylinux2014 s390x: reused, then checked.
    std::fs::write(input.join("requirements.txt"), "pyyaml==6.0.2\n").unwrap();
    let catalog = tmp.path().join("slow.toml");
    std::fs::write(
        &catalog,
        "[[smoke]]\nid = \"pyyaml-slow\"\npackage = \"pyyaml\"\nsnippet = \"\"\"\nimport time\nprint('slow smoke started', flush=True)\ntime.sleep(600)\n\"\"\"\n",
    )
    .unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refinery"))
        .args(["--input", input.to_str().unwrap()])
        .args(["--output", out.to_str().unwrap()])
        .args(["--cache", cache.to_str().unwrap()])
        .args([
            "--python",
            "3.11",
            "--smoke-tests",
            catalog.to_str().unwrap(),
        ])
        .env("REFINERY_ENVS_DIR", envs_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = cache.join("logs/pyyaml-6.0.2-verify.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("slow smoke started")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the smoke test never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let started = std::time::Instant::now();
    let sigint = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sigint.success());
    let done = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    // The snippet sleeps 600 s: only the stop ends it this soon.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "{said}"
    );
    assert_eq!(done.status.code(), Some(130), "{said}");
    assert!(
        said.contains("interrupted: 1 package stopped or not started"),
        "{said}"
    );
    let e = entry(&manifest(&out), "pyyaml").clone();
    assert_eq!(e["status"], "reused", "{e}");
    assert_eq!(e["metadata"]["interrupted"], true, "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("not verified: the run was stopped"),
        "{e}"
    );
    assert!(e["metadata"].get("verification").is_none(), "{e}");
}
