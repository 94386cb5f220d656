//! Hints and system recipes on a real build: a package that needs libyaml's headers fails
//! with the right hint, succeeds with --auto-apply-suggestions on the hint-based attempt,
//! and a later build applies the learned fix up front.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

#[test]
#[ignore = "needs the s390x rootfs environment and Debian's package mirror"]
fn missing_header_gives_a_hint_and_auto_apply_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_libyaml_sdist(&index_dir, "yamluser", "1.0");
    write_libyaml_sdist(&index_dir, "yamluser", "1.1");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let cache = tmp.path().join("cache");
    let run = |requirement: &str, out: &str, flags: &[&str]| {
        std::fs::write(input.join("requirements.txt"), requirement).unwrap();
        let out = tmp.path().join(out);
        let mut args = vec![
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &index.url,
            "--max-attempts",
            "1",
            // The environment's own level: for older targets the hint selects the
            // libyaml pack instead of libyaml-dev (tests/manylinux.rs).
            "--platform-tag",
            "manylinux_2_36_s390x",
        ];
        args.extend_from_slice(flags);
        let output = refinery(
            &args,
            &[
                ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
                (
                    "PLAN_OVERRIDES_JSON",
                    r#"{"yamluser": {"variant": "no-isolation"}}"#,
                ),
            ],
        );
        (output, manifest(&out))
    };

    // Without auto-apply: failed, with the libyaml hint in the output and the manifest.
    let (output, m) = run("yamluser==1.0\n", "out1", &["--dry-run-recipes"]);
    assert_eq!(output.status.code(), Some(1));
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "failed");
    let hints = e["metadata"]["hints"].as_array().unwrap();
    assert!(
        hints
            .iter()
            .any(|h| h.as_str().unwrap().contains("apt: libyaml-dev")),
        "{e}"
    );
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        all.contains("libyaml") && all.contains("would install libyaml-dev"),
        "{all}"
    );

    // With auto-apply: the hint-based attempt installs libyaml-dev and succeeds.
    let (output, m) = run("yamluser==1.0\n", "out2", &["--auto-apply-suggestions"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "built", "{e}");
    assert!(
        e["metadata"]["variant"]
            .as_str()
            .unwrap()
            .ends_with("+hints"),
        "{e}"
    );
    let wheel = tmp.path().join("out2").join(e["path"].as_str().unwrap());
    let machines = elf_machines(&wheel);
    assert!(
        machines.iter().any(|(n, _)| n.contains("libyaml")),
        "auditwheel grafted libyaml: {machines:?}"
    );
    assert!(machines.iter().all(|(_, m)| *m == 22));

    // Later: the learned fix is applied up front; the first attempt succeeds.
    let (output, m) = run("yamluser==1.1\n", "out3", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "built");
    assert_eq!(e["metadata"]["attempt"], 1);
    assert!(
        e["metadata"]["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("libyaml")),
        "{e}"
    );
    assert!(
        stderr(&output).contains("fix learned before"),
        "{}",
        stderr(&output)
    );
}

#[test]
#[ignore = "needs the real PyPI, the s390x rootfs environment and Debian's package mirror"]
fn cffi_without_libffi_headers_is_fixed_by_the_hint_and_works_on_s390x() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    // cffi 1.15.1 publishes no s390x wheel for CPython 3.11: it must be built, and its C
    // extension needs ffi.h, which the bare environment lacks.
    std::fs::write(input.join("requirements.txt"), "cffi==1.15.1\n").unwrap();
    let cache = tmp.path().join("cache");
    let run = |out: &str, flags: &[&str]| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--max-attempts",
            "1",
            // The environment's own level: the hint installs libffi-dev into a layer and
            // auditwheel grafts bookworm's libffi. (For older targets the libffi pack
            // stands in; see tests/manylinux.rs.)
            "--platform-tag",
            "manylinux_2_36_s390x",
        ];
        args.extend_from_slice(flags);
        let output = refinery(&args, &[("REFINERY_ENVS_DIR", envs.to_str().unwrap())]);
        (output, manifest(&out), out)
    };
    let (output, m, _) = run("out1", &[]);
    assert_eq!(output.status.code(), Some(1));
    let e = entry(&m, "cffi");
    assert_eq!(e["status"], "failed", "{e}");
    assert!(e["detail"].as_str().unwrap().contains("libffi"), "{e}");
    assert_eq!(entry(&m, "pycparser")["status"], "reused");

    let (output, m, out) = run("out2", &["--auto-apply-suggestions"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&m, "cffi");
    assert_eq!(e["status"], "built", "{e}");
    assert!(e["metadata"]["variant"]
        .as_str()
        .unwrap()
        .ends_with("+hints"));
    let unpacked = tmp.path().join("unpacked");
    for e in m["entries"].as_array().unwrap() {
        unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    }
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let code = "import cffi, sys\nffi = cffi.FFI()\nffi.cdef('int abs(int);')\nlib = ffi.dlopen(None)\nassert lib.abs(-7) == 7\nprint(sys.byteorder)";
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the s390x rootfs environment and Debian's package mirror"]
fn a_system_recipe_that_fails_ends_as_system_recipe_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_libyaml_sdist(&index_dir, "yamluser", "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    // A catalog entry that suggests a package Debian does not have.
    let hints = tmp.path().join("hints.toml");
    std::fs::write(
        &hints,
        "[[hint]]\nid = \"libyaml\"\npattern = 'yaml\\.h: No such file'\nmessage = \"m\"\napt = [\"refinery-no-such-package\"]\n",
    )
    .unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "yamluser==1.0\n").unwrap();
    let out = tmp.path().join("out");
    let output = refinery(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            tmp.path().join("cache").to_str().unwrap(),
            "--index-url",
            &index.url,
            "--max-attempts",
            "1",
            "--auto-apply-suggestions",
            "--hints-file",
            hints.to_str().unwrap(),
        ],
        &[
            ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
            (
                "PLAN_OVERRIDES_JSON",
                r#"{"yamluser": {"variant": "no-isolation"}}"#,
            ),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "system_recipe_failed", "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("refinery-no-such-package"),
        "{e}"
    );
}

/// A package whose setup.py fails, each with its own log line, unless the build has
/// `FIXIT=1` and a build-constraints file that pins `setuptools<9999`.
fn write_picky_sdist(dir: &std::path::Path, version: &str) -> std::path::PathBuf {
    let setup_py = r#"import os, sys
from setuptools import setup, Extension
problems = []
if os.environ.get("FIXIT") != "1":
    problems.append("refinery-test: FIXIT is not set")
constraints = os.environ.get("PIP_CONSTRAINT", "")
if not constraints or "setuptools<9999" not in open(constraints).read():
    problems.append("refinery-test: setuptools is not constrained")
for p in problems:
    print(p, flush=True)
if problems:
    sys.exit(1)
setup(ext_modules=[Extension("picky", ["picky.c"])])
"#
    .to_string();
    write_setuptools_sdist(
        dir,
        "picky",
        version,
        &["setuptools"],
        setup_py,
        [("picky.c".to_string(), extension_source("picky", false))],
    )
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn env_and_constraint_actions_fix_a_build_and_are_applied_up_front_next_time() {
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_picky_sdist(&index_dir, "1.0");
    write_picky_sdist(&index_dir, "1.1");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let hints = tmp.path().join("hints.toml");
    std::fs::write(
        &hints,
        r#"
[[hint]]
id = "fixit"
pattern = 'FIXIT is not set'
message = "needs FIXIT"
env = { FIXIT = "1" }

[[hint]]
id = "pin-setuptools"
pattern = 'setuptools is not constrained'
message = "needs an older setuptools"
build_constraints = ["setuptools<9999"]
"#,
    )
    .unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let cache = tmp.path().join("cache");
    let run = |requirement: &str, out: &str| {
        std::fs::write(input.join("requirements.txt"), requirement).unwrap();
        let out = tmp.path().join(out);
        let output = refinery(
            &[
                "--input",
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--cache",
                cache.to_str().unwrap(),
                "--index-url",
                &index.url,
                "--max-attempts",
                "1",
                "--hints-file",
                hints.to_str().unwrap(),
            ],
            &[
                ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
                (
                    "PLAN_OVERRIDES_JSON",
                    r#"{"picky": {"variant": "no-isolation"}}"#,
                ),
            ],
        );
        (output, manifest(&out))
    };
    // No system packages involved: the actions apply without --auto-apply-suggestions.
    let (output, m) = run("picky==1.0\n", "out1");
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&m, "picky");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    let actions: Vec<&str> = e["metadata"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["env FIXIT=1", "build constraint setuptools<9999"],
        "{e}"
    );
    // The next version gets the learned actions up front: one attempt.
    let (output, m) = run("picky==1.1\n", "out2");
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&m, "picky");
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["attempt"], 1, "{e}");
    assert!(
        stderr(&output).contains("fix learned before"),
        "{}",
        stderr(&output)
    );
}
