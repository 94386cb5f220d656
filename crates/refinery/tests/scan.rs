//! `refinery scan` on a folder of generated wheels: every decision, every kind of invalid file.

mod common;

use std::collections::HashMap;
use std::io::Write;

use common::{refinery, stderr, stdout, WheelSpec};
use serde_json::Value;

fn scan_json(dir: &std::path::Path, platform: &str) -> HashMap<String, Value> {
    let out = refinery(
        &[
            "scan",
            "--input",
            dir.to_str().unwrap(),
            "--python",
            "3.11",
            "--platform-tag",
            platform,
            "--json",
        ],
        &[],
    );
    let files: HashMap<String, Value> = stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["file"].as_str().unwrap().to_string(), v)
        })
        .collect();
    // Invalid files make the exit status 1, as the run that would reject them.
    let invalid = files.values().any(|v| v["decision"] == "invalid");
    assert_eq!(
        out.status.code(),
        Some(i32::from(invalid)),
        "{}",
        stderr(&out)
    );
    files
}

#[test]
fn every_decision_and_every_invalid_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pure = WheelSpec::new("six", "1.16.0", "py2.py3-none-any")
        .requires(&["foo>=1 ; python_version < \"3.12\""])
        .write(d);
    let abi3 = WheelSpec::new(
        "cffi-abi",
        "1.0",
        "cp37-abi3-manylinux_2_17_s390x.manylinux2014_s390x",
    )
    .write(d);
    let s390 = WheelSpec::new("fast", "2.0", "cp311-cp311-manylinux_2_17_s390x").write(d);
    let newer_glibc = WheelSpec::new("psutil", "6.0", "cp311-cp311-manylinux_2_34_s390x").write(d);
    let x86 = WheelSpec::new(
        "regex",
        "2024.11.6",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    )
    .write(d);
    let other_py = WheelSpec::new("mod312", "1.0", "cp312-cp312-manylinux_2_17_s390x").write(d);
    let win = WheelSpec::new("winonly", "1.0", "cp311-cp311-win_amd64").write(d);
    // Invalid ones.
    std::fs::write(d.join("notazip-1.0-py3-none-any.whl"), b"this is not a zip").unwrap();
    let truncated_src = WheelSpec::new("trunc", "1.0", "py3-none-any").write(d);
    let bytes = std::fs::read(&truncated_src).unwrap();
    std::fs::write(&truncated_src, &bytes[..bytes.len() / 2]).unwrap();
    let mut renamed = WheelSpec::new("liar", "1.0", "py3-none-any");
    renamed.metadata_name = Some("honest");
    renamed.write(d);
    let mut no_meta = WheelSpec::new("nometa", "1.0", "py3-none-any");
    no_meta.with_metadata = false;
    no_meta.write(d);
    let mut hostile = WheelSpec::new("evil", "1.0", "py3-none-any");
    hostile
        .members
        .push(("../../etc/evil".into(), b"x".to_vec()));
    hostile.write(d);
    let mut absolute = WheelSpec::new("abs", "1.0", "py3-none-any");
    absolute.members.push(("/etc/abs".into(), b"x".to_vec()));
    absolute.write(d);
    let mut bomb = WheelSpec::new("bomb", "1.0", "py3-none-any");
    bomb.members
        .push(("bomb/zeros.bin".into(), vec![0u8; 80 * 1024 * 1024]));
    let bomb_path = bomb.write_compressed(d);
    let mut old_python = WheelSpec::new("oldpy", "1.0", "py3-none-any");
    old_python.requires_python = Some("<3.10");
    old_python.write(d);
    let mut any_python = WheelSpec::new("newpy", "1.0", "py3-none-any");
    any_python.requires_python = Some(">=3.8");
    let any_python = any_python.write(d);
    let mut no_record = WheelSpec::new("norecord", "1.0", "py3-none-any");
    no_record.with_record = false;
    no_record.write(d);
    let mut future = WheelSpec::new("future", "1.0", "py3-none-any");
    future.wheel_version = "2.0";
    future.write(d);
    std::fs::write(d.join("bad-name.whl"), b"x").unwrap();
    std::fs::write(d.join("README.md"), b"hello").unwrap();
    let mut f = std::fs::File::create(d.join("requirements.txt")).unwrap();
    writeln!(f, "six").unwrap();

    let results = scan_json(d, "manylinux2014_s390x");
    let decision = |path: &std::path::Path| {
        let v = &results[path.file_name().unwrap().to_str().unwrap()];
        (
            v["decision"].as_str().unwrap().to_string(),
            v["reason"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(decision(&pure).0, "reuse");
    let six = &results[pure.file_name().unwrap().to_str().unwrap()];
    assert_eq!(six["name"], "six");
    assert_eq!(six["version"], "1.16.0");
    assert_eq!(six["tags"].as_array().unwrap().len(), 2);
    assert_eq!(
        six["requires_dist"][0],
        "foo>=1 ; python_version < \"3.12\""
    );
    assert_eq!(decision(&abi3).0, "reuse");
    assert_eq!(decision(&any_python).0, "reuse");
    assert_eq!(decision(&s390).0, "reuse");
    let (d_glibc, r_glibc) = decision(&newer_glibc);
    assert_eq!(d_glibc, "rebuild");
    assert!(
        r_glibc.contains("2.34") || r_glibc.contains("2_34"),
        "{r_glibc}"
    );
    assert_eq!(decision(&x86).0, "rebuild");
    assert_eq!(decision(&other_py).0, "rebuild");
    assert_eq!(decision(&win).0, "rebuild");
    for (file, needle) in [
        ("notazip-1.0-py3-none-any.whl", "zip"),
        ("trunc-1.0-py3-none-any.whl", "zip"),
        ("liar-1.0-py3-none-any.whl", "METADATA says"),
        ("nometa-1.0-py3-none-any.whl", "METADATA"),
        ("evil-1.0-py3-none-any.whl", "outside"),
        ("abs-1.0-py3-none-any.whl", "outside"),
        ("bad-name.whl", "filename"),
        (
            "oldpy-1.0-py3-none-any.whl",
            "Requires-Python <3.10, which excludes CPython 3.11",
        ),
        (
            "norecord-1.0-py3-none-any.whl",
            "no norecord-1.0.dist-info/RECORD",
        ),
        ("future-1.0-py3-none-any.whl", "Wheel-Version 2.0"),
        ("README.md", "not a wheel"),
    ] {
        let v = &results[file];
        assert_eq!(v["decision"], "invalid", "{file}: {v}");
        assert!(
            v["reason"].as_str().unwrap().contains(needle),
            "{file}: {v}"
        );
    }
    let (d_bomb, r_bomb) = decision(&bomb_path);
    assert_eq!(d_bomb, "invalid");
    assert!(r_bomb.contains("zip bomb"), "{r_bomb}");
    assert!(
        !results.contains_key("requirements.txt"),
        "requirements are an input, not a distribution"
    );
    // Nothing was extracted next to the input.
    assert!(!d.join("etc").exists() && !std::path::Path::new("/etc/abs").exists());

    // A newer glibc wheel is fine for a manylinux_2_34 target.
    let newer = scan_json(d, "manylinux_2_34_s390x");
    assert_eq!(
        newer[newer_glibc.file_name().unwrap().to_str().unwrap()]["decision"],
        "reuse"
    );
}

#[test]
fn table_output_ends_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    WheelSpec::new("six", "1.16.0", "py2.py3-none-any").write(dir.path());
    WheelSpec::new("regex", "1.0", "cp311-cp311-linux_x86_64").write(dir.path());
    let out = refinery(&["scan", "--input", dir.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("six-1.16.0-py2.py3-none-any.whl"));
    assert!(
        text.trim_end().ends_with(
            "2 files for CPython 3.11 manylinux2014_s390x: 1 reuse, 1 rebuild, 0 invalid"
        ),
        "{text}"
    );
}

#[test]
fn unreadable_input_and_unknown_flags_are_clear_errors() {
    let out = refinery(&["scan", "--input", "/nonexistent/refinery-input"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("/nonexistent/refinery-input") && err.contains("hint"),
        "{err}"
    );
    let out = refinery(&["scan", "--inptu", "x"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--inptu"));
    let out = refinery(
        &[
            "scan",
            "--input",
            "/tmp",
            "--platform-tag",
            "manylinux2014_x86_64",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("s390x"), "{}", stderr(&out));
    // A package name is parsed before the history is opened.
    let out = refinery(
        &[
            "history",
            "--db",
            "/nonexistent/history.db",
            "--package",
            "not a name",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--package") && err.contains("not a name"),
        "{err}"
    );
}

#[test]
fn control_plane_subcommands_need_a_cache_and_report_an_empty_queue() {
    for sub in ["serve", "worker", "queue"] {
        let out = refinery(&[sub], &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("pass --cache DIR"),
            "{sub}: {}",
            stderr(&out)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // `index` of a folder that is no cache (a typo) writes nothing over an earlier index.
    let static_out = dir.path().join("static");
    let out = refinery(
        &[
            "index",
            "--cache",
            dir.path().join("typo").to_str().unwrap(),
            "--output",
            static_out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a refinery cache"),
        "{}",
        stderr(&out)
    );
    assert!(!static_out.exists());
    let out = refinery(&["queue", "--cache", cache.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("queue length: 0"),
        "{}",
        stdout(&out)
    );
    let out = refinery(&["worker", "--cache", cache.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("0 jobs"), "{}", stdout(&out));
    // --queue-path puts the SQLite queue elsewhere.
    let elsewhere = dir.path().join("shared/queue.sqlite");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    let out = refinery(
        &[
            "queue",
            "--cache",
            cache.to_str().unwrap(),
            "--queue-path",
            elsewhere.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("queue length: 0"),
        "{}",
        stdout(&out)
    );
    assert!(
        elsewhere.is_file(),
        "the queue file is created at --queue-path"
    );
    let out = refinery(
        &[
            "queue",
            "--cache",
            cache.to_str().unwrap(),
            "--queue-path",
            "q.db",
            "--database-url",
            "sqlite:x.db",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "one or the other");
}

#[test]
fn help_explains_flags_and_environment_variables() {
    let out = refinery(&["--help"], &[]);
    let text = stdout(&out);
    for needle in [
        "--platform-tag",
        "--container-preset",
        "--attempt-backoff-base",
        "--skip-known-failures",
        "PLAN_OVERRIDES_JSON",
        "Precedence",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}
