//! Cross-accelerated builds: the host's s390x cross compilers run natively inside the
//! emulated rootfs; the wheels they make pass the same repair and import checks, and a
//! toolchain failure falls back to the fully emulated variant. These need the s390x
//! environment and the host's `gcc-s390x-linux-gnu` (CI installs both) and run with
//! `--ignored`.

mod common;

use std::path::Path;

use common::*;
use refinery_index::testing::LocalIndex;

const NEEDS_ENV: &str = "needs the s390x rootfs environment";

/// Run the pipeline against a local index with `requirements` as the input.
fn run_local(
    index: &LocalIndex,
    requirements: &str,
    tmp: &Path,
    overrides: &str,
    extra_env: &[(&str, &str)],
    extra_args: &[&str],
) -> std::process::Output {
    let input = tmp.join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), requirements).unwrap();
    let (out, cache) = (tmp.join("out"), tmp.join("cache"));
    let mut args = vec![
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--index-url",
        &index.url,
        "--python",
        "3.11",
        "--attempt-backoff-base",
        "0",
    ];
    args.extend_from_slice(extra_args);
    let envs = envs_dir().to_string_lossy().into_owned();
    let mut env = vec![
        ("REFINERY_ENVS_DIR", envs.as_str()),
        ("PLAN_OVERRIDES_JSON", overrides),
    ];
    env.extend_from_slice(extra_env);
    refinery(&args, &env)
}

/// Every ELF file of `wheel` is s390x, and `code` run by the environment's Python with
/// the wheel unpacked into `unpacked` prints `expected`.
fn assert_s390x_wheel_prints(
    rootfs: &Path,
    wheel: &Path,
    unpacked: &Path,
    code: &str,
    expected: &str,
) {
    let machines = elf_machines(wheel);
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
    unzip(wheel, unpacked);
    assert_s390x_python_prints(rootfs, unpacked, code, expected);
}

fn history_attempts(tmp: &Path, package: &str) -> Vec<serde_json::Value> {
    let cache = tmp.join("cache");
    let out = refinery(
        &[
            "history",
            "--cache",
            cache.to_str().unwrap(),
            "--package",
            package,
            "--json",
        ],
        &[],
    );
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut attempts = h["attempts"].as_array().unwrap().clone();
    attempts.sort_by_key(|a| {
        (
            a["version"].as_str().unwrap_or("").to_string(),
            a["attempt"].as_u64(),
        )
    });
    attempts
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn accelerated_c_extension_is_s390x_and_imports_under_emulation() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastcross", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let run = run_local(
        &index,
        "fastcross==1.0\n",
        tmp.path(),
        r#"{"fastcross": {"variant": "no-isolation"}}"#,
        &[],
        &["--accelerate", "cross", "--max-attempts", "1"],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(stderr(&run).contains("run natively"), "{}", stderr(&run));
    let out = tmp.path().join("out");
    let m = manifest(&out);
    let e = entry(&m, "fastcross");
    assert_eq!(e["status"], "built", "{e}");
    let built_with = e["metadata"]["built_with"].as_str().unwrap();
    assert!(built_with.contains("cross"), "{built_with}");
    assert_eq!(built_with, "rootfs:bookworm emulated+cross");
    let log = std::fs::read_to_string(e["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(log.contains("with rootfs:bookworm emulated+cross"), "{log}");
    // With a uv binary on the host, it prepares the build natively (pip otherwise).
    if refinery_build::accelerate::find_host_uv().is_some() {
        assert!(log.contains("[refinery] frontend: the host's uv"), "{log}");
    }
    assert!(log.contains("[refinery-verify] ok"), "{log}");

    assert_s390x_wheel_prints(
        &rootfs,
        &out.join(e["path"].as_str().unwrap()),
        &tmp.path().join("unpacked"),
        "import fastcross, sys; print(fastcross.add(40, 2), sys.byteorder)",
        "42 big",
    );

    // --accelerate off builds the same package fully emulated, and says so.
    let tmp2 = tempfile::tempdir().unwrap();
    let run = run_local(
        &index,
        "fastcross==1.0\n",
        tmp2.path(),
        r#"{"fastcross": {"variant": "no-isolation"}}"#,
        &[],
        &["--accelerate", "off", "--max-attempts", "1"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let m = manifest(&tmp2.path().join("out"));
    assert_eq!(
        entry(&m, "fastcross")["metadata"]["built_with"],
        "rootfs:bookworm emulated"
    );
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn a_broken_cross_toolchain_falls_back_to_the_emulated_variant() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "brokencc", "1.0", false);
    write_extension_sdist(&index_dir, "brokencc", "1.1", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    // pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation: every variant builds
    // offline against the rootfs's setuptools.
    let overrides = r#"{"brokencc": {"env": {"PIP_NO_BUILD_ISOLATION": "0"}}}"#;
    let broken = [("REFINERY_TEST_BREAK_CROSS", "1")];
    let run = run_local(
        &index,
        "brokencc==1.0\n",
        tmp.path(),
        overrides,
        &broken,
        &["--accelerate", "cross", "--max-attempts", "2"],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(
        stderr(&run).contains("the next attempt runs fully emulated"),
        "{}",
        stderr(&run)
    );
    let out = tmp.path().join("out");
    let m = manifest(&out);
    let e = entry(&m, "brokencc");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["variant"], "emulated", "{e}");
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    assert_eq!(
        e["metadata"]["built_with"], "rootfs:bookworm emulated",
        "{e}"
    );

    let attempts = history_attempts(tmp.path(), "brokencc");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["variant"], "default");
    assert_eq!(attempts[0]["status"], "failed");
    let first_log = std::fs::read_to_string(attempts[0]["log_path"].as_str().unwrap()).unwrap();
    assert!(first_log.contains("emulated+cross"), "{first_log}");
    assert!(first_log.contains("cannot execute 'cc1'"), "{first_log}");
    let second_log = std::fs::read_to_string(attempts[1]["log_path"].as_str().unwrap()).unwrap();
    assert!(
        !second_log.contains("emulated+cross") && !second_log.contains("frontend: the host's uv"),
        "{second_log}"
    );
    assert_eq!(attempts[1]["variant"], "emulated");
    assert_eq!(attempts[1]["status"], "success");

    assert_s390x_wheel_prints(
        &rootfs,
        &out.join(e["path"].as_str().unwrap()),
        &tmp.path().join("unpacked"),
        "import brokencc; print(brokencc.add(1, 2))",
        "3",
    );

    // The history remembers which way works for this package: the next version goes
    // straight to the emulated variant, in one attempt.
    let run = run_local(
        &index,
        "brokencc==1.1\n",
        tmp.path(),
        overrides,
        &broken,
        &["--accelerate", "cross", "--max-attempts", "2"],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let e = entry(&manifest(&out), "brokencc").clone();
    assert_eq!(e["version"], "1.1");
    assert_eq!(e["metadata"]["variant"], "emulated", "{e}");
    assert_eq!(e["metadata"]["attempt"], 1, "{e}");
}

/// An sdist whose setup.py does what autoconf does, compiling a probe with the configured
/// compiler and running it (a target binary), then builds a C++ extension that uses the
/// environment's libstdc++ headers (`<string>`, `<vector>`, `<numeric>`).
fn write_configure_cpp_sdist(dir: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let setup_py = format!(
        r#"import subprocess, sysconfig
from setuptools import setup, Extension
# A configure test: build a probe with the compiler Python was configured with and run it.
cc = sysconfig.get_config_var("CC").split()
with open("probe.c", "w") as f:
    f.write('#include <stdio.h>\nint main(void) {{ unsigned x = 1; puts(*(char *)&x ? "little" : "big"); return 0; }}\n')
subprocess.run(cc + ["probe.c", "-o", "probe"], check=True)
order = subprocess.run(["./probe"], check=True, capture_output=True, text=True).stdout.strip()
print("refinery-test: the probe says", order, flush=True)
with open("config.h", "w") as f:
    f.write('#define PROBED_BYTEORDER "%s"\n' % order)
setup(ext_modules=[Extension("{name}", ["{name}.cpp"], include_dirs=["."], language="c++")])
"#
    );
    let source = format!(
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numeric>
#include <string>
#include <vector>
#include "config.h"
static PyObject *describe(PyObject *, PyObject *args) {{
    long n;
    if (!PyArg_ParseTuple(args, "l", &n)) return NULL;
    std::vector<long> values(n);
    std::iota(values.begin(), values.end(), 1L);
    std::string text = std::string(PROBED_BYTEORDER) + " " +
        std::to_string(std::accumulate(values.begin(), values.end(), 0L));
    return PyUnicode_FromString(text.c_str());
}}
static PyMethodDef methods[] = {{{{"describe", describe, METH_VARARGS, "describe"}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&module); }}
"#
    );
    write_setuptools_sdist(
        dir,
        name,
        version,
        &["setuptools"],
        setup_py,
        [(format!("{name}.cpp"), source)],
    )
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn configure_tests_run_target_binaries_and_cpp_uses_the_environment_headers() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_configure_cpp_sdist(&index_dir, "probecpp", "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let run = run_local(
        &index,
        "probecpp==1.0\n",
        tmp.path(),
        r#"{"probecpp": {"variant": "no-isolation"}}"#,
        &[],
        // C++ from bookworm's libstdc++ needs glibc 2.34 symbols.
        &[
            "--accelerate",
            "cross",
            "--max-attempts",
            "1",
            "--platform-tag",
            "manylinux_2_36_s390x",
        ],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let out = tmp.path().join("out");
    let m = manifest(&out);
    let e = entry(&m, "probecpp");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        e["metadata"]["built_with"],
        "rootfs:bookworm emulated+cross"
    );
    // The probe was an s390x binary, run under emulation during the build: big-endian.
    let log = std::fs::read_to_string(e["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(log.contains("refinery-test: the probe says big"), "{log}");

    assert_s390x_wheel_prints(
        &rootfs,
        &out.join(e["path"].as_str().unwrap()),
        &tmp.path().join("unpacked"),
        "import probecpp; print(probecpp.describe(4))",
        "big 10",
    );
}
