//! The build engine end to end: real s390x builds in the emulated rootfs, repair with
//! auditwheel, import verification, manifest, history, cache, failures and interruptions.
//! These need the s390x environment (`refinery env create`, `REFINERY_ENVS_DIR`) and run in
//! CI with `--ignored`; the e2e test also needs the real PyPI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use refinery_index::testing::LocalIndex;

const NEEDS_ENV: &str = "needs the s390x rootfs environment";

fn envs() -> String {
    envs_dir().to_string_lossy().into_owned()
}

/// Run the pipeline with a local index serving `index_dir` and `requirements` in the input.
fn run_local(
    index: &LocalIndex,
    requirements: &str,
    out: &Path,
    cache: &Path,
    extra_env: &[(&str, &str)],
    extra_args: &[&str],
) -> std::process::Output {
    let input = cache.parent().unwrap().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), requirements).unwrap();
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
    ];
    if !extra_args.contains(&"--max-attempts") {
        args.extend_from_slice(&["--max-attempts", "1"]);
    }
    args.extend_from_slice(extra_args);
    let envs = envs();
    let mut env = vec![
        ("REFINERY_ENVS_DIR", envs.as_str()),
        (
            "PLAN_OVERRIDES_JSON",
            r#"{"fastadd": {"variant": "no-isolation"}, "randuser": {"variant": "no-isolation"}, "slowpkg": {"variant": "no-isolation"}}"#,
        ),
    ];
    env.extend_from_slice(extra_env);
    refinery(&args, &env)
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn c_extension_builds_repairs_verifies_and_is_cached_on_rerun() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));

    let first = run_local(
        &index,
        "fastadd==1.0\n",
        &out,
        &cache,
        &[],
        &["--simple-index"],
    );
    assert!(
        first.status.success(),
        "{}\n{}",
        stdout(&first),
        stderr(&first)
    );
    let m = manifest(&out);
    let e = entry(&m, "fastadd");
    assert_eq!(e["status"], "built", "{e}");
    let file = e["path"].as_str().unwrap();
    assert!(
        file.contains("manylinux_2_17_s390x") && file.contains("cp311-cp311"),
        "{file}"
    );
    let wheel = out.join(file);
    let machines = elf_machines(&wheel);
    assert!(
        !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
        "{machines:?}"
    );
    let log = e["metadata"]["log_path"].as_str().unwrap();
    assert!(
        log.ends_with("fastadd-1.0-attempt1-no-isolation.log"),
        "{log}"
    );
    assert!(std::fs::read_to_string(log)
        .unwrap()
        .contains("[refinery-verify] ok"));
    assert!(out.join("simple/fastadd/index.html").is_file());
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("[refinery] SOURCE_DATE_EPOCH="),
        "the log says which time the wheel's files carry"
    );

    // Reproducible: the same sdist built again, in another cache, gives the same bytes.
    let (again_out, again_cache) = (tmp.path().join("out-again"), tmp.path().join("cache-again"));
    let again = run_local(&index, "fastadd==1.0\n", &again_out, &again_cache, &[], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    let m_again = manifest(&again_out);
    let e_again = entry(&m_again, "fastadd");
    assert_eq!(e_again["status"], "built", "{e_again}");
    assert_eq!(e_again["path"], e["path"], "{e_again}");
    assert_eq!(
        e_again["sha256"], e["sha256"],
        "a rebuild gives other bytes"
    );

    // The wheel works under emulation, on a big-endian machine.
    let unpacked = tmp.path().join("unpacked");
    unzip(&wheel, &unpacked);
    // Repair removed the debug information setuptools' `-g` compiled in; the symbol
    // table stays (gdb, perf and py-spy name functions), and the manifest says so.
    let sections = elf_sections(&unpacked);
    assert!(sections.iter().any(|(_, s)| s == ".symtab"), "{sections:?}");
    assert_no_debug_sections(&sections);
    assert_eq!(e["metadata"]["debug_info"], "stripped", "{e}");
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import fastadd, sys; print(fastadd.add(40, 2), sys.byteorder)",
        "42 big",
    );

    // History: one successful attempt; the second run takes it from the cache.
    let history = refinery(
        &[
            "history",
            "--cache",
            cache.to_str().unwrap(),
            "--package",
            "fastadd",
            "--json",
        ],
        &[],
    );
    let h: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(h["attempts"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["attempts"][0]["status"], "success");
    let second = run_local(&index, "fastadd==1.0\n", &out, &cache, &[], &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    let m_cached = manifest(&out);
    let cached = entry(&m_cached, "fastadd");
    assert_eq!(cached["status"], "cached");
    // It says how it was built, as the build did (the build record kept in the cache).
    for field in ["built_with", "reached_tag", "debug_info", "log_path"] {
        assert_eq!(
            cached["metadata"][field], e["metadata"][field],
            "{field}: {cached}"
        );
    }
    let history = refinery(
        &[
            "history",
            "--cache",
            cache.to_str().unwrap(),
            "--package",
            "fastadd",
            "--json",
        ],
        &[],
    );
    let h: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        h["attempts"].as_array().unwrap().len(),
        1,
        "no new attempt: {h}"
    );

    // --no-strip: the stripped wheel in the cache does not serve; the new one keeps its
    // symbols and debug information.
    let debug_out = tmp.path().join("out-debug");
    let third = run_local(
        &index,
        "fastadd==1.0\n",
        &debug_out,
        &cache,
        &[],
        &["--no-strip"],
    );
    assert!(third.status.success(), "{}", stderr(&third));
    let m = manifest(&debug_out);
    let e = entry(&m, "fastadd");
    assert_eq!(e["status"], "built", "{e}");
    // Other bytes than the name's in this cache: the next build number, never the same
    // name (the cache's index would list the stripped one under it).
    assert_eq!(
        e["path"],
        format!("fastadd-1.0-1-{}", file.split_once("-1.0-").unwrap().1),
        "{e}"
    );
    assert!(
        stderr(&third).contains("is already another file (in the index or this cache)"),
        "{}",
        stderr(&third)
    );
    let kept = tmp.path().join("unpacked-debug");
    unzip(&debug_out.join(e["path"].as_str().unwrap()), &kept);
    assert_eq!(e["metadata"]["debug_info"], "kept", "{e}");
    let sections = elf_sections(&kept);
    for wanted in [".symtab", ".debug_info"] {
        assert!(
            sections.iter().any(|(_, s)| s == wanted),
            "{wanted}: {sections:?}"
        );
    }
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn auditwheel_rejection_names_the_glibc_and_a_newer_tag_accepts_it() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "randuser", "1.0", true);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    // Three attempts allowed, a long backoff: a policy failure ends after the first.
    let failed = run_local(
        &index,
        "randuser==1.0\n",
        &out,
        &cache,
        &[],
        // The gcc cross links against the environment's glibc 2.36 (the glibc-targeted
        // compiler would refuse getrandom at compile time instead).
        &[
            "--max-attempts",
            "3",
            "--attempt-backoff-base",
            "600",
            "--accelerate",
            "cross",
        ],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let e = entry(&manifest(&out), "randuser").clone();
    assert_eq!(e["status"], "failed");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("glibc") && detail.contains("2.17") && detail.contains("not retried"),
        "{detail}"
    );
    let history = refinery_store::History::open(&cache.join("history.db")).unwrap();
    assert_eq!(
        history
            .attempts_for(&"randuser".parse().unwrap(), 10)
            .unwrap()
            .len(),
        1
    );
    let ok = run_local(
        &index,
        "randuser==1.0\n",
        &out,
        &cache,
        &[],
        &["--platform-tag", "manylinux_2_28_s390x"],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let e = entry(&manifest(&out), "randuser").clone();
    assert_eq!(e["status"], "built");
    assert!(e["path"].as_str().unwrap().contains("manylinux_2_2"), "{e}");
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn failing_escaping_and_flooding_builds_end_cleanly() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    for (var, needle) in [
        ("FAIL", "cannot be built"),
        ("ESCAPE", "Read-only file system"),
        ("FLOOD", ""),
    ] {
        let (out, cache) = (
            tmp.path().join(format!("out-{var}")),
            tmp.path().join(format!("cache-{var}")),
        );
        let overrides =
            format!(r#"{{"fastadd": {{"variant": "no-isolation", "env": {{"{var}": "1"}}}}}}"#);
        let run = run_local(
            &index,
            "fastadd==1.0\n",
            &out,
            &cache,
            &[("PLAN_OVERRIDES_JSON", &overrides)],
            &[],
        );
        let e = entry(&manifest(&out), "fastadd").clone();
        let log = e["metadata"]["log_path"].as_str().unwrap().to_string();
        let log_size = std::fs::metadata(&log).unwrap().len();
        assert!(
            log_size <= 16 * 1024 * 1024 + 4096,
            "{var}: log {log_size} bytes is not capped"
        );
        if var == "FLOOD" {
            assert!(
                std::fs::read_to_string(&log)
                    .unwrap()
                    .contains("log cut at"),
                "{var}"
            );
            continue;
        }
        assert_eq!(run.status.code(), Some(1), "{var}: {}", stderr(&run));
        assert_eq!(e["status"], "failed", "{var}: {e}");
        assert!(
            std::fs::read_to_string(&log).unwrap().contains(needle),
            "{var}: log lacks {needle}"
        );
    }
    assert!(
        !rootfs.join("usr/lib/refinery-escape").exists(),
        "a build wrote into the environment"
    );
}

/// The 100 newest events of the history in `cache` (`refinery history --json`).
fn recent_history(cache: &Path) -> Vec<serde_json::Value> {
    let history = refinery(
        &[
            "history",
            "--cache",
            cache.to_str().unwrap(),
            "--json",
            "--recent",
            "100",
        ],
        &[],
    );
    let h: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    h["recent"].as_array().unwrap().clone()
}

/// Asserts that the history of the run in `cache` holds a `kind` event of `package`.
fn assert_history_has(cache: &Path, kind: &str, package: &str) {
    let recent = recent_history(cache);
    assert!(
        recent
            .iter()
            .any(|e| e["kind"] == kind && e["package"] == package),
        "{recent:?}"
    );
}

/// The same run again (without the slow setting) finishes: slowpkg is built.
fn rerun_builds_slowpkg(index: &LocalIndex, out: &Path, cache: &Path) {
    let rerun = run_local(index, "slowpkg==1.0\npuredep==1.0\n", out, cache, &[], &[]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert_eq!(entry(&manifest(out), "slowpkg")["status"], "built");
}

/// A run of `slowpkg` (an extension whose build waits) and `puredep` (a wheel), under
/// `root`, returned once the slow build really runs (its log says so): the run, the
/// index, the output and cache folders.
fn start_slow_run(
    root: &Path,
    stderr: Stdio,
) -> (std::process::Child, LocalIndex, PathBuf, PathBuf) {
    bookworm_rootfs().expect(NEEDS_ENV);
    let index_dir = root.join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "slowpkg", "1.0", false);
    WheelSpec::new("puredep", "1.0", "py3-none-any").write(&index_dir);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (root.join("out"), root.join("cache"));
    let input = root.join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("requirements.txt"),
        // nosuchpkg: a `missing` entry, which no stop has anything to do with.
        "slowpkg==1.0\npuredep==1.0\nnosuchpkg==1.0\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_refinery"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ])
        .args(["--index-url", &index.url, "--max-attempts", "1"])
        .env("REFINERY_ENVS_DIR", envs())
        .env(
            "PLAN_OVERRIDES_JSON",
            r#"{"slowpkg": {"variant": "no-isolation", "env": {"SLOW": "1"}}}"#,
        )
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    // Wait until the build is really running (its log says so).
    let log = cache.join("logs/slowpkg-1.0-attempt1-no-isolation.log");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("slow build started")
    {
        assert!(Instant::now() < deadline, "the slow build never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was stopped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (child, index, out, cache)
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn an_interrupted_run_leaves_a_valid_manifest_and_the_rerun_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, index, out, cache) = start_slow_run(tmp.path(), Stdio::null());
    // kill -9: nothing of the run can react.
    child.kill().unwrap();
    child.wait().unwrap();
    // What completed is recorded; the manifest is whole.
    let m = manifest(&out);
    assert_eq!(entry(&m, "puredep")["status"], "reused");
    assert_history_has(&cache, "reuse", "puredep");
    // The rerun picks up: puredep again, slowpkg built now.
    rerun_builds_slowpkg(&index, &out, &cache);
}

/// Ctrl-C (SIGINT) stops the running build at once: the run says so, exits 130, writes
/// the manifest with what was done and what was stopped, leaves no build folder or build
/// process behind, and the same command again finishes.
#[test]
#[ignore = "needs the s390x environment"]
fn ctrl_c_stops_the_running_build_and_the_run_says_what_was_done() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, index, out, cache) = start_slow_run(tmp.path(), Stdio::piped());
    let started = Instant::now();
    let sigint = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sigint.success());
    let done = child.wait_with_output().unwrap();
    let said = stderr(&done);
    // The build sleeps 600 s: only the stop ends it this soon.
    assert!(started.elapsed() < Duration::from_secs(120), "{said}");
    assert_eq!(done.status.code(), Some(130), "{said}");
    assert!(said.contains("refinery: stopping:"), "{said}");
    assert!(
        said.contains("interrupted: 1 package stopped or not started"),
        "{said}"
    );
    let m = manifest(&out);
    assert_eq!(entry(&m, "puredep")["status"], "reused");
    let slow = entry(&m, "slowpkg");
    assert_eq!(slow["status"], "failed", "{slow}");
    assert_eq!(slow["metadata"]["interrupted"], true, "{slow}");
    let missing = entry(&m, "nosuchpkg");
    assert_eq!(missing["status"], "missing", "{missing}");
    assert!(
        missing["metadata"].get("interrupted").is_none(),
        "{missing}"
    );
    assert!(out.join(refinery_build::lock::REQUIREMENTS_LOCK).is_file());
    // No build folder and no build process is left.
    let builds = cache.join("builds").join("v1");
    let left: Vec<_> = std::fs::read_dir(&builds)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains(cache.to_str().unwrap())),
        "{ps}"
    );
    // The history calls it cancelled, not a failure of the package.
    assert_history_has(&cache, "cancelled", "slowpkg");
    rerun_builds_slowpkg(&index, &out, &cache);
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn e2e_six_regex_markupsafe_from_pypi() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("requirements.txt"),
        "six==1.16.0\nregex==2021.10.23\nmarkupsafe==2.1.5\n",
    )
    .unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--python",
        "3.11",
        "--platform-tag",
        "manylinux2014_s390x",
    ];
    let envs = envs();
    let first = refinery(&args, &[("REFINERY_ENVS_DIR", &envs)]);
    assert!(
        first.status.success(),
        "{}\n{}",
        stdout(&first),
        stderr(&first)
    );
    let m = manifest(&out);
    assert_eq!(entry(&m, "six")["status"], "reused");
    assert_eq!(entry(&m, "six")["path"], "six-1.16.0-py2.py3-none-any.whl");
    let unpacked = tmp.path().join("unpacked");
    for name in ["regex", "markupsafe"] {
        let e = entry(&m, name);
        assert_eq!(e["status"], "built", "{e}");
        let file = e["path"].as_str().unwrap();
        assert!(
            file.contains("manylinux") && file.ends_with("s390x.whl"),
            "{file}"
        );
        let machines = elf_machines(&out.join(file));
        assert!(
            !machines.is_empty() && machines.iter().all(|(_, m)| *m == 22),
            "{name}: {machines:?}"
        );
        // --accelerate auto (the default) compiles natively; for a manylinux2014 target
        // from bookworm (glibc 2.36) with the glibc-targeted compiler (CI installs Zig).
        if Path::new("/usr/bin/s390x-linux-gnu-gcc").exists() {
            assert_eq!(
                e["metadata"]["built_with"], "rootfs:bookworm emulated+zig(glibc 2.17)",
                "{e}"
            );
            assert!(file.contains("manylinux2014_s390x"), "{file}");
        }
        unzip(&out.join(file), &unpacked);
    }
    let code = "import regex, markupsafe, sys\nassert regex.match(r'(\\w+) (\\w+)', 'hello world').group(2) == 'world'\nassert str(markupsafe.escape('<b>')) == '&lt;b&gt;'\nprint(sys.byteorder)";
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
    let second = refinery(&args, &[("REFINERY_ENVS_DIR", &envs)]);
    assert!(second.status.success(), "{}", stderr(&second));
    let m2 = manifest(&out);
    assert_eq!(entry(&m2, "regex")["status"], "cached");
    assert_eq!(entry(&m2, "markupsafe")["status"], "cached");
    assert_eq!(entry(&m2, "six")["status"], "reused");

    // Reproducible: markupsafe built again from PyPI's sdist in a fresh cache gives the
    // same bytes (SOURCE_DATE_EPOCH from the sdist, the same toolchain and environment).
    std::fs::write(input.join("requirements.txt"), "markupsafe==2.1.5\n").unwrap();
    let (out_again, cache_again) = (tmp.path().join("out-again"), tmp.path().join("cache-again"));
    let mut again_args = args;
    again_args[3] = out_again.to_str().unwrap();
    again_args[5] = cache_again.to_str().unwrap();
    let again = refinery(&again_args, &[("REFINERY_ENVS_DIR", &envs)]);
    assert!(again.status.success(), "{}", stderr(&again));
    let m3 = manifest(&out_again);
    let rebuilt = entry(&m3, "markupsafe");
    assert_eq!(rebuilt["status"], "built", "{rebuilt}");
    assert_eq!(
        rebuilt["sha256"],
        entry(&m, "markupsafe")["sha256"],
        "{rebuilt}"
    );
}

#[test]
#[ignore = "needs the real PyPI (a setuptools wheel) and the s390x rootfs environment"]
fn a_build_dependency_without_a_wheel_is_built_first_then_the_build_is_requeued() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    // The index has setuptools as a wheel, helperdep only as an sdist, and needsdep's
    // build needs helperdep: pip finds no wheel for it, so the refinery builds it first.
    let pip = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "setuptools==75.8.0",
            "-d",
        ])
        .arg(&index_dir)
        .status()
        .unwrap();
    assert!(pip.success());
    write_extension_sdist(&index_dir, "helperdep", "1.0", false);
    write_extension_sdist_requiring(
        &index_dir,
        "needsdep",
        "1.0",
        false,
        &["setuptools", "helperdep"],
    );
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let run = run_local(
        &index,
        "needsdep==1.0\n",
        &out,
        &cache,
        &[("PLAN_OVERRIDES_JSON", "{}")],
        &[],
    );
    let logs: Vec<String> = std::fs::read_dir(cache.join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        run.status.success(),
        "{}\n{}\n{}",
        stdout(&run),
        stderr(&run),
        logs.join("\n-----\n")
    );
    let m = manifest(&out);
    assert_eq!(entry(&m, "needsdep")["status"], "built");
    assert_eq!(entry(&m, "helperdep")["status"], "built");
    // Accelerated (CI has the cross compilers and uv): uv's own message drives the
    // expansion, and the requeued attempt stays accelerated.
    if Path::new("/usr/bin/s390x-linux-gnu-gcc").exists()
        && refinery_build::accelerate::find_host_uv().is_some()
    {
        let e = entry(&m, "needsdep");
        assert_eq!(e["metadata"]["attempt"], 2, "{e}");
        assert_eq!(
            e["metadata"]["built_with"], "rootfs:bookworm emulated+zig(glibc 2.17)",
            "{e}"
        );
    }
    let recent = recent_history(&cache);
    assert!(
        recent.iter().any(|e| e["kind"] == "dependency_expansion"),
        "{recent:?}"
    );
}

#[test]
#[ignore = "needs the s390x rootfs environment and root (mounts a small tmpfs)"]
fn a_build_that_fills_the_disk_fails_with_the_reason_and_the_rest_is_unaffected() {
    bookworm_rootfs().expect(NEEDS_ENV);
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_extension_sdist(&index_dir, "fastadd", "1.0", false);
    WheelSpec::new("puredep", "1.0", "py3-none-any").write(&index_dir);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    // The cache (with the build folders) on a 64 MiB filesystem; the output elsewhere.
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&cache)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(cache.clone());
    let out = tmp.path().join("out");
    let overrides = r#"{"fastadd": {"variant": "no-isolation", "env": {"FILL": "1"}}}"#;
    let run = run_local(
        &index,
        "fastadd==1.0\npuredep==1.0\n",
        &out,
        &cache,
        &[("PLAN_OVERRIDES_JSON", overrides)],
        &[],
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let m = manifest(&out);
    assert_eq!(entry(&m, "puredep")["status"], "reused");
    let e = entry(&m, "fastadd");
    assert_eq!(e["status"], "failed", "{e}");
    assert!(e["detail"].as_str().unwrap().contains("disk"), "{e}");
    // The attempt's folder was cleaned up: the space is free again.
    assert!(!cache.join("builds/v1").read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("fastadd")));
}
