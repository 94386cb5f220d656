//! A build that runs out of memory: every build gets the run's compile-jobs budget through
//! the variables build systems read (the log says how many and why), and a compiler the
//! out-of-memory killer ended is retried with one compiler at a time.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

/// A setuptools sdist whose setup.py fails the way a C++ build the OOM killer hit fails
/// (GCC's line on stderr, exit 1) when `MAKEFLAGS` asks for two or more jobs, and builds
/// its C extension normally with `-j1`.
fn write_greedy_sdist(dir: &std::path::Path, version: &str) -> std::path::PathBuf {
    let setup_py = r#"import os, re, sys
from setuptools import setup, Extension
flags = os.environ.get("MAKEFLAGS", "")
print(f"refinery-test: MAKEFLAGS={flags!r}", flush=True)
jobs = re.search(r"-j\s*(\d+)", flags)
if jobs and int(jobs.group(1)) >= 2:
    print("c++: fatal error: Killed signal terminated program cc1plus", file=sys.stderr, flush=True)
    print("compilation terminated.", file=sys.stderr, flush=True)
    sys.exit(1)
setup(ext_modules=[Extension("greedy", ["greedy.c"])])
"#
    .to_string();
    write_setuptools_sdist(
        dir,
        "greedy",
        version,
        &["setuptools"],
        setup_py,
        ("greedy.c".to_string(), extension_source("greedy", false)),
    )
}

#[test]
#[ignore = "needs the s390x rootfs environment and 2 or more cores"]
fn an_out_of_memory_kill_is_retried_with_one_compiler() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(
        cores >= 2,
        "this test needs 2 or more cores: with one, the budget is one compiler already"
    );
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_greedy_sdist(&index_dir, "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "greedy==1.0\n").unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    // `--jobs 2`, but one package to build: its build has every core, so the budget gives
    // it 2 or more compilers (memory permitting) and the first attempt "runs out of memory".
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
            "--jobs",
            "2",
        ],
        &[
            ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
            (
                "PLAN_OVERRIDES_JSON",
                r#"{"greedy": {"variant": "no-isolation"}}"#,
            ),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "greedy");
    assert_eq!(e["status"], "built", "{e}");
    // The first attempt failed, the hint-based second one built.
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    assert_eq!(
        e["metadata"]["actions"],
        serde_json::json!(["env REFINERY_COMPILE_JOBS=1"]),
        "{e}"
    );
    assert!(
        e["metadata"]["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().starts_with("out-of-memory: ")),
        "{e}"
    );
    assert!(
        stderr(&output).contains("retrying with env REFINERY_COMPILE_JOBS=1"),
        "{}",
        stderr(&output)
    );
    // Each attempt's log says its compile jobs once, and why.
    let logs: Vec<std::path::PathBuf> = walk(&cache)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("greedy-1.0-attempt") && name.ends_with(".log")
        })
        .collect();
    let log = |attempt: &str| -> String {
        let path = logs
            .iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("greedy-1.0-attempt{attempt}-"))
            })
            .unwrap_or_else(|| panic!("no log of attempt {attempt} among {logs:?}"));
        std::fs::read_to_string(path).unwrap()
    };
    let first = log("1");
    let budget: Vec<&str> = first
        .lines()
        .filter(|l| l.starts_with("[refinery] compile jobs: "))
        .collect();
    assert_eq!(budget.len(), 1, "{first}");
    eprintln!("attempt 1: {}", budget[0]);
    assert!(
        budget[0].contains(&format!("{cores} cores / 1 build at once"))
            && budget[0].contains("GiB available")
            && budget[0].contains("GiB per compiler")
            && budget[0].contains("sets MAKEFLAGS=-j")
            && !budget[0].contains("MAKEFLAGS=-j1 "),
        "{}",
        budget[0]
    );
    assert!(
        first.contains("Killed signal terminated program cc1plus"),
        "{first}"
    );
    let second = log("2");
    eprintln!(
        "attempt 2: {}",
        second
            .lines()
            .find(|l| l.starts_with("[refinery] compile jobs: "))
            .unwrap_or_default()
    );
    assert!(
        second.contains("[refinery] compile jobs: 1 per build (REFINERY_COMPILE_JOBS=1")
            && second.contains("refinery-test: MAKEFLAGS='-j1'"),
        "{second}"
    );
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
