//! Every CPython a reachable Debian suite ships for s390x builds end to end: a small C
//! extension is built, repaired, verified on s390x and tagged for that Python. CPython 3.9
//! (bullseye, whose s390x binaries left the mirrors) is built from its source package.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

/// Returns the built wheel's file name.
fn c_extension_builds_for(python: &str, tag: &str) -> String {
    let envs = envs_dir();
    let envs_var = ("REFINERY_ENVS_DIR", envs.to_str().unwrap());
    let created = refinery(&["env", "create", "--python", python], &[envs_var]);
    assert!(created.status.success(), "{}", stderr(&created));
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "fastadd==1.0\n").unwrap();
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
            "--python",
            python,
            "--max-attempts",
            "1",
        ],
        &[
            envs_var,
            (
                "PLAN_OVERRIDES_JSON",
                r#"{"fastadd": {"variant": "no-isolation"}}"#,
            ),
        ],
    );
    let m = manifest(&out);
    let e = entry(&m, "fastadd");
    // A failed build shows its log: the cause is there, not in the summary.
    let log_of = |e: &serde_json::Value| {
        e["metadata"]["log_path"]
            .as_str()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    assert!(
        output.status.success(),
        "{}\n{}",
        stderr(&output),
        log_of(e)
    );
    assert_eq!(e["status"], "built", "{e}");
    let file = e["path"].as_str().unwrap();
    assert!(
        file.contains(&format!("{tag}-{tag}")) && file.ends_with("s390x.whl"),
        "{file}"
    );
    let machines = elf_machines(&out.join(file));
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
    let log = std::fs::read_to_string(e["metadata"]["log_path"].as_str().unwrap()).unwrap();
    assert!(log.contains("[refinery-verify] ok"), "{log}");
    file.to_string()
}

#[test]
#[ignore = "needs Debian's mirror and emulation; builds CPython 3.9 once (about 15 minutes)"]
fn cpython_3_9_from_bullseye_sources_builds_end_to_end() {
    let file = c_extension_builds_for("3.9", "cp39");
    // The default target, manylinux2014, is reached from bookworm's glibc 2.36 through the
    // glibc-targeted compiler, as for the suites' own Pythons.
    assert!(file.contains("manylinux2014_s390x"), "{file}");
    // The environment's python3.9 has what builds and users expect of a CPython.
    let v1 = envs_dir().join("v1");
    let env = std::fs::read_dir(&v1)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with("rootfs-bookworm-s390x-py3.9-")
            }) && p.join("refinery-env.json").is_file()
        })
        .expect("the 3.9 environment");
    let run = std::process::Command::new("bwrap")
        .arg("--ro-bind")
        .arg(&env)
        .arg("/")
        .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-all"])
        .args([
            "sh",
            "-c",
            "python3.9 -m venv /tmp/v && /tmp/v/bin/python -c 'import ssl, ctypes, zlib, sqlite3, decimal, sys; \
             print(sys.version_info[:2], sys.byteorder, ssl.OPENSSL_VERSION.split()[0], decimal.Decimal(1) / 3 > 0, \
             ctypes.sizeof(ctypes.c_void_p), zlib.decompress(zlib.compress(b\"ok\")).decode(), \
             sqlite3.connect(\":memory:\").execute(\"select 41+1\").fetchone()[0])'",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "(3, 9) big OpenSSL True 8 ok 42",
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
#[ignore = "needs the s390x trixie environment (made on first use) and Debian's mirror"]
fn cpython_3_13_from_trixie_builds_end_to_end() {
    c_extension_builds_for("3.13", "cp313");
}

#[test]
#[ignore = "needs the s390x forky environment (made on first use) and Debian's mirror"]
fn cpython_3_14_from_forky_builds_end_to_end() {
    c_extension_builds_for("3.14", "cp314");
}
