//! Every CPython a reachable Debian suite ships for s390x builds end to end: a small C
//! extension is built, repaired, verified on s390x and tagged for that Python.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

fn c_extension_builds_for(python: &str, tag: &str) {
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
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "fastadd");
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
