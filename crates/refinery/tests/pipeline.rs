//! The pipeline without builds (hermetic: a local index, no s390x environment needed):
//! reuse, missing, known failures, manifest, history, the static simple index and pip.

mod common;

use std::process::Command;

use common::*;
use refinery_index::testing::LocalIndex;
use refinery_store::{Attempt, History};

fn run(
    index: &LocalIndex,
    input: &std::path::Path,
    out: &std::path::Path,
    cache: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--index-url",
        &index.url,
    ];
    args.extend_from_slice(extra);
    refinery(&args, &[("REFINERY_ENVS_DIR", "/nonexistent/envs")])
}

#[test]
fn reuse_only_run_writes_wheels_manifest_history_and_a_pip_index() {
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&index_dir).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    WheelSpec::new("alpha", "1.0", "py3-none-any")
        .requires(&["beta>=2"])
        .write(&index_dir);
    WheelSpec::new("beta", "2.0", "py3-none-any").write(&index_dir);
    // An input wheel that is reused as is, never renamed.
    let local = WheelSpec::new("gamma", "0.1", "cp311-abi3-manylinux2014_s390x").write(&input);
    std::fs::write(input.join("requirements.txt"), "alpha==1.0\n").unwrap();
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));

    let output = run(&index, &input, &out, &cache, &["--simple-index"]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let m = manifest(&out);
    for (name, file) in [
        ("alpha", "alpha-1.0-py3-none-any.whl"),
        ("beta", "beta-2.0-py3-none-any.whl"),
    ] {
        let e = entry(&m, name);
        assert_eq!(e["status"], "reused");
        assert_eq!(e["path"], file);
        let sha = e["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64);
    }
    assert_eq!(
        entry(&m, "gamma")["path"],
        local.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(
        std::fs::read(out.join(local.file_name().unwrap())).unwrap(),
        std::fs::read(&local).unwrap()
    );

    let history = History::open(&cache.join("history.db")).unwrap();
    let kinds: Vec<String> = history
        .recent_events(50)
        .unwrap()
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert!(
        kinds.iter().filter(|k| *k == "reuse").count() >= 3,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"plan".to_string()) && kinds.contains(&"run_end".to_string()),
        "{kinds:?}"
    );

    // PEP 658: each wheel's METADATA beside it, announced with its sha256 on the page.
    let page = std::fs::read_to_string(out.join("simple/alpha/index.html")).unwrap();
    let metadata = std::fs::read(out.join("alpha-1.0-py3-none-any.whl.metadata")).unwrap();
    assert!(
        String::from_utf8_lossy(&metadata).contains("Requires-Dist: beta>=2"),
        "{}",
        String::from_utf8_lossy(&metadata)
    );
    let digest = refinery_store::sha256_hex(&metadata);
    assert!(
        page.contains(&format!("data-core-metadata=\"sha256={digest}\"")),
        "{page}"
    );

    // Real pip resolves and downloads from the published static index, hash-checked.
    let dl = tmp.path().join("dl");
    let pip = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-cache-dir",
            "--quiet",
            "--dest",
        ])
        .arg(&dl)
        .arg("--index-url")
        .arg(format!("file://{}", out.join("simple").display()))
        .args([
            "--platform",
            "manylinux2014_s390x",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "alpha",
        ])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );
    assert!(
        dl.join("alpha-1.0-py3-none-any.whl").is_file()
            && dl.join("beta-2.0-py3-none-any.whl").is_file()
    );
}

#[test]
fn missing_packages_fail_the_run_and_known_failures_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&index_dir).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    WheelSpec::new("okpkg", "1.0", "py3-none-any").write(&index_dir);
    WheelSpec::new("x86only", "1.0", "cp311-cp311-manylinux_2_17_x86_64").write(&index_dir);
    write_sdist(&index_dir, "brokenpkg", "1.0", &[], &["setuptools"]);
    std::fs::write(
        input.join("requirements.txt"),
        "okpkg\nx86only==1.0\nbrokenpkg==1.0\n",
    )
    .unwrap();
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    // brokenpkg 1.0 failed before.
    History::open(&cache.join("history.db"))
        .unwrap()
        .record_attempt(&Attempt {
            package: "brokenpkg".into(),
            version: "1.0".into(),
            status: refinery_store::AttemptStatus::Failed,
            variant: refinery_store::Variant::default(),
            ..Attempt::default()
        })
        .unwrap();
    let output = run(&index, &input, &out, &cache, &["--skip-known-failures"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let m = manifest(&out);
    assert_eq!(entry(&m, "okpkg")["status"], "reused");
    let x86 = entry(&m, "x86only");
    assert_eq!(x86["status"], "missing");
    assert!(x86["detail"].as_str().unwrap().contains("x86_64"), "{x86}");
    let broken = entry(&m, "brokenpkg");
    assert_eq!(broken["status"], "skipped_known_failure", "{broken}");
    assert_eq!(broken["version"], "1.0");
    // The history lists the recent attempts of every package without --package too.
    let history = refinery(
        &["history", "--cache", cache.to_str().unwrap(), "--json"],
        &[],
    );
    assert!(history.status.success(), "{}", stderr(&history));
    let h: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(h["attempts"][0]["package"], "brokenpkg", "{h}");
    let text = refinery(&["history", "--cache", cache.to_str().unwrap()], &[]);
    assert!(
        stdout(&text).contains("Recent build attempts:\n  brokenpkg 1.0 attempt"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn rejected_input_files_are_named_in_the_output_and_the_manifest() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&index_dir).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    WheelSpec::new("okpkg", "1.0", "py3-none-any").write(&index_dir);
    std::fs::write(input.join("requirements.txt"), "okpkg\n").unwrap();
    // A wheel whose member climbs out of the folder it is unpacked into, and one that is
    // no zip at all.
    let mut zip = zip::ZipWriter::new(
        std::fs::File::create(input.join("evil-1.0-py3-none-any.whl")).unwrap(),
    );
    zip.start_file("../x", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"boo").unwrap();
    zip.finish().unwrap();
    std::fs::write(input.join("broken-1.0-py3-none-any.whl"), b"not a zip").unwrap();
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));

    let output = run(&index, &input, &out, &cache, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(
        said.contains("2 input files rejected")
            && said.contains("evil-1.0-py3-none-any.whl: ")
            && said.contains("broken-1.0-py3-none-any.whl: "),
        "{said}"
    );
    let m = manifest(&out);
    assert_eq!(entry(&m, "okpkg")["status"], "reused");
    let rejected = m["rejected"].as_array().expect("a `rejected` list");
    let inputs: Vec<&str> = rejected
        .iter()
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        ["broken-1.0-py3-none-any.whl", "evil-1.0-py3-none-any.whl"],
        "{rejected:?}"
    );
    let evil = &rejected[1]["reason"];
    assert!(evil.as_str().unwrap().contains("../x"), "{evil}");
    assert!(!out.join("evil-1.0-py3-none-any.whl").exists());
    assert!(!tmp.path().join("x").exists() && !out.parent().unwrap().join("x").exists());
}

#[test]
fn an_output_that_is_a_file_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out) = (tmp.path().join("input"), tmp.path().join("afile"));
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "okpkg\n").unwrap();
    std::fs::write(&out, b"precious").unwrap();
    let index = LocalIndex::serve_dir(tmp.path()).unwrap();
    let output = run(&index, &input, &out, &tmp.path().join("cache"), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "the output {} is a file, not a folder",
            out.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
}
